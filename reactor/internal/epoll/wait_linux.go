//go:build linux

// Package epoll holds the Linux syscall shims the reactor's epoll backend needs
// beyond golang.org/x/sys/unix: a wait with nanosecond timeouts, and a poll
// that does not enter the scheduler's syscall state.
package epoll

import (
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// noPwait2 is set once epoll_pwait2 (Linux 5.11+) turned out to be missing.
var noPwait2 atomic.Bool

// Wait waits for events on epfd for at most timeout (forever when negative, not
// at all when zero). It uses epoll_pwait2 for sub-millisecond precision and falls
// back to epoll_wait, rounding the timeout up to whole milliseconds so that a
// timer is never woken for early. EINTR is returned as n == 0 and a nil error.
func Wait(epfd int, events []unix.EpollEvent, timeout time.Duration) (n int, err error) {
	if timeout == 0 {
		return Poll(epfd, events)
	}
	if timeout > 0 && !noPwait2.Load() {
		ts := unix.NsecToTimespec(int64(timeout))
		r, _, errno := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(epfd),
			uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)),
			uintptr(unsafe.Pointer(&ts)), 0, 0)
		switch errno {
		case 0:
			return int(r), nil
		case unix.EINTR:
			return 0, nil
		case unix.ENOSYS, unix.EPERM: // missing, or refused by a seccomp filter
			noPwait2.Store(true)
		default:
			return 0, errno
		}
	}
	msec := -1
	if timeout >= 0 {
		msec = int(min((timeout+time.Millisecond-1)/time.Millisecond, math.MaxInt32))
	}
	n, err = unix.EpollWait(epfd, events, msec)
	if err == unix.EINTR {
		return 0, nil
	}
	return n, err
}

// Poll returns the events ready on epfd now, without waiting. Since it cannot
// block, it is a raw system call: the goroutine keeps its P, and the scheduler
// neither hands the P off nor wakes sysmon for it.
func Poll(epfd int, events []unix.EpollEvent) (n int, err error) {
	r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_WAIT, uintptr(epfd),
		uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	switch errno {
	case 0:
		return int(r), nil
	case unix.EINTR:
		return 0, nil
	default:
		return 0, errno
	}
}
