//go:build linux

package reactor

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/twistgo/twist/reactor/internal/epoll"
)

const (
	readEvents  = unix.EPOLLIN
	writeEvents = unix.EPOLLOUT
	// Hang-ups and errors go to the reader and the writer alike.
	readyForRead  = unix.EPOLLIN | unix.EPOLLHUP | unix.EPOLLERR | unix.EPOLLRDHUP | unix.EPOLLPRI
	readyForWrite = unix.EPOLLOUT | unix.EPOLLHUP | unix.EPOLLERR

	minEvents = 128
	maxEvents = 4096

	// parkMin is the shortest wait that parks in Go's network poller (see
	// park); a shorter one blocks in epoll_pwait2, since Go's poller sleeps
	// in whole milliseconds and a timer due sooner would run late.
	parkMin = 2 * time.Millisecond
	// parkEarly is how long before the next timer a parked wait ends, so
	// that the rest of it is waited for precisely.
	parkEarly = time.Millisecond
)

// fdHandlers is what the loop calls for one file descriptor.
type fdHandlers struct {
	onRead, onWrite func()
	mask            uint32 // events registered with epoll; 0 when fd is not registered
}

// epollFDs owns the two descriptors so that they are closed exactly once, by
// close or by the cleanup of a Reactor that was never run. The epoll
// descriptor belongs to epFile, which closes it.
type epollFDs struct {
	epfd, wakefd int
	epFile       *os.File
	once         sync.Once
}

func (e *epollFDs) close() {
	e.once.Do(func() {
		e.epFile.Close()
		unix.Close(e.wakefd)
	})
}

// epollPoller is the Linux backend: level-triggered epoll, woken by an eventfd.
type epollPoller struct {
	fds    *epollFDs
	events []unix.EpollEvent
	// handlers is indexed by file descriptor, in pages of handlerPage: no
	// map lookup per event, and no copy (and no garbage) as it grows.
	handlers []*[handlerPage]fdHandlers
	log      *slog.Logger
	drain    [8]byte
	got      int // events the last wait took, for dispatchReady

	// park's state. epConn is nil when Go's poller would not take the epoll
	// descriptor; the loop then always blocks in epoll_wait.
	epConn      syscall.RawConn
	hasDeadline bool // epFile has a read deadline set
	takeReady   func(uintptr) bool
	ready       int   // events takeReady found
	readyErr    error // the error takeReady met
}

func newEpollPoller(log *slog.Logger) (poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// Non-blocking, so that os.NewFile registers it with Go's poller (an
	// epoll descriptor is readable while events are ready). epoll_wait
	// itself ignores the flag.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	epFile := os.NewFile(uintptr(epfd), "epoll")
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		epFile.Close()
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		epFile.Close()
		unix.Close(wakefd)
		return nil, err
	}
	p := &epollPoller{
		fds:    &epollFDs{epfd: epfd, wakefd: wakefd, epFile: epFile},
		events: make([]unix.EpollEvent, minEvents),
		log:    log,
	}
	p.takeReady = p.takeReadyEvents
	// A deadline can be set only on a descriptor in Go's poller.
	if err := epFile.SetReadDeadline(time.Time{}); err == nil {
		p.epConn, _ = epFile.SyscallConn()
	}
	// A Reactor that is never run still gives its descriptors back.
	runtime.AddCleanup(p, (*epollFDs).close, p.fds)
	return p, nil
}

func (p *epollPoller) backend() Backend { return Epoll }
func (p *epollPoller) close()           { p.fds.close() }

func (p *epollPoller) wake() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	// EAGAIN means the counter is saturated: the loop is woken anyway.
	unix.Write(p.fds.wakefd, one[:])
}

func (p *epollPoller) wait(timeout time.Duration) {
	var n int
	var err error
	if p.epConn != nil && (timeout < 0 || timeout >= parkMin) {
		n, err = p.park(timeout)
	} else {
		n, err = epoll.Wait(p.fds.epfd, p.events, timeout)
	}
	if err != nil {
		p.log.Error("reactor: epoll_wait failed", "err", err)
		n = 0
	}
	p.got = n
}

func (p *epollPoller) dispatchReady() {
	n := p.got
	p.got = 0
	wakefd := int32(p.fds.wakefd)
	for i := range n {
		ev := p.events[i]
		if ev.Fd == wakefd {
			unix.Read(int(wakefd), p.drain[:])
			continue
		}
		p.dispatch(int(ev.Fd), ev.Events)
	}
	if n == len(p.events) && n < maxEvents {
		p.events = make([]unix.EpollEvent, 2*n)
	}
}

// park waits for events by parking the loop goroutine in Go's network
// poller, where the epoll descriptor is registered, rather than blocking its
// thread in epoll_wait. The loop's P is then free while it is idle: other
// goroutines run on it at once, and sysmon has no P to take back from a
// thread in a system call (with no idle P, as under GOMAXPROCS=1, it takes
// it after 20 µs, starts a spare thread for it, and is woken again when the
// wait ends: 1-5% of an echo server's CPU, on the loop's core). It ends
// parkEarly before timeout, for epoll_pwait2 to wait out the rest precisely.
func (p *epollPoller) park(timeout time.Duration) (int, error) {
	if timeout > 0 || p.hasDeadline {
		var deadline time.Time
		if timeout > 0 {
			deadline = time.Now().Add(timeout - parkEarly)
		}
		if err := p.fds.epFile.SetReadDeadline(deadline); err != nil {
			return 0, err
		}
		p.hasDeadline = timeout > 0
	}
	p.ready, p.readyErr = 0, nil
	if err := p.epConn.Read(p.takeReady); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, err
	}
	return p.ready, p.readyErr
}

// takeReadyEvents is park's read: it takes the events ready now, without
// waiting, and reports whether there were any (or an error); if not, Go's
// poller parks the loop until the epoll descriptor is readable and calls it
// again.
func (p *epollPoller) takeReadyEvents(uintptr) bool {
	p.ready, p.readyErr = epoll.Poll(p.fds.epfd, p.events)
	return p.ready > 0 || p.readyErr != nil
}

// dispatch calls fd's reader and then its writer. The handlers are looked up
// afresh each time, since a handler may remove or replace either.
func (p *epollPoller) dispatch(fd int, events uint32) {
	h := p.handler(fd)
	if h == nil {
		return
	}
	if events&readyForRead != 0 {
		if f := h.onRead; f != nil {
			guard(p.log, "fd reader", f)
		}
	}
	if events&readyForWrite != 0 {
		if f := h.onWrite; f != nil {
			guard(p.log, "fd writer", f)
		}
	}
}

// handlerPage is how many descriptors' handlers a page of the table holds.
const handlerPage = 1024

// handler returns fd's handlers, or nil if fd has never had any.
func (p *epollPoller) handler(fd int) *fdHandlers {
	if fd < 0 || fd/handlerPage >= len(p.handlers) {
		return nil
	}
	return &p.handlers[fd/handlerPage][fd%handlerPage]
}

func (p *epollPoller) slot(fd int) (*fdHandlers, error) {
	if fd < 0 || fd == p.fds.epfd || fd == p.fds.wakefd {
		return nil, unix.EBADF
	}
	for fd/handlerPage >= len(p.handlers) {
		p.handlers = append(p.handlers, new([handlerPage]fdHandlers))
	}
	return &p.handlers[fd/handlerPage][fd%handlerPage], nil
}

func (p *epollPoller) addReader(fd int, f func()) error {
	h, err := p.slot(fd)
	if err != nil {
		return err
	}
	if err := p.setMask(fd, h, h.mask|readEvents); err != nil {
		return err
	}
	h.onRead = f
	return nil
}

func (p *epollPoller) addWriter(fd int, f func()) error {
	h, err := p.slot(fd)
	if err != nil {
		return err
	}
	if err := p.setMask(fd, h, h.mask|writeEvents); err != nil {
		return err
	}
	h.onWrite = f
	return nil
}

func (p *epollPoller) removeReader(fd int) error {
	h := p.handler(fd)
	if h == nil {
		return nil
	}
	h.onRead = nil
	return p.setMask(fd, h, h.mask&^readEvents)
}

func (p *epollPoller) removeWriter(fd int) error {
	h := p.handler(fd)
	if h == nil {
		return nil
	}
	h.onWrite = nil
	return p.setMask(fd, h, h.mask&^writeEvents)
}

func (p *epollPoller) removeAll() []int {
	var fds []int
	for fd := range len(p.handlers) * handlerPage {
		h := p.handler(fd)
		if h.mask == 0 {
			continue
		}
		fds = append(fds, fd)
		h.onRead, h.onWrite = nil, nil
		p.setMask(fd, h, 0)
	}
	return fds
}

// setMask registers, modifies or deregisters fd so that epoll watches mask.
func (p *epollPoller) setMask(fd int, h *fdHandlers, mask uint32) error {
	if mask == h.mask {
		return nil
	}
	var op int
	switch {
	case h.mask == 0:
		op = unix.EPOLL_CTL_ADD
	case mask == 0:
		op = unix.EPOLL_CTL_DEL
	default:
		op = unix.EPOLL_CTL_MOD
	}
	ev := unix.EpollEvent{Events: mask, Fd: int32(fd)}
	err := unix.EpollCtl(p.fds.epfd, op, fd, &ev)
	if op == unix.EPOLL_CTL_DEL && (errors.Is(err, unix.EBADF) || errors.Is(err, unix.ENOENT)) {
		err = nil // fd was closed already; the kernel dropped it
	}
	if err != nil && op != unix.EPOLL_CTL_DEL {
		return err
	}
	h.mask = mask
	return err
}
