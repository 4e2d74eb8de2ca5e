//go:build linux

package reactor

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"runtime"
	"sync"
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
)

// fdHandlers is what the loop calls for one file descriptor.
type fdHandlers struct {
	onRead, onWrite func()
	mask            uint32 // events registered with epoll; 0 when fd is not registered
}

// epollFDs owns the two descriptors so that they are closed exactly once, by
// close or by the cleanup of a Reactor that was never run.
type epollFDs struct {
	epfd, wakefd int
	once         sync.Once
}

func (e *epollFDs) close() {
	e.once.Do(func() {
		unix.Close(e.epfd)
		unix.Close(e.wakefd)
	})
}

// epollPoller is the Linux backend: level-triggered epoll, woken by an eventfd.
type epollPoller struct {
	fds    *epollFDs
	events []unix.EpollEvent
	// handlers is indexed by file descriptor: no map lookup per event.
	handlers []fdHandlers
	log      *slog.Logger
	drain    [8]byte
}

func newEpollPoller(log *slog.Logger) (poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, err
	}
	p := &epollPoller{
		fds:    &epollFDs{epfd: epfd, wakefd: wakefd},
		events: make([]unix.EpollEvent, minEvents),
		log:    log,
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
	n, err := epoll.Wait(p.fds.epfd, p.events, timeout)
	if err != nil {
		p.log.Error("reactor: epoll_wait failed", "err", err)
		return
	}
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

// dispatch calls fd's reader and then its writer. The handlers are looked up
// afresh each time, since a handler may remove or replace either.
func (p *epollPoller) dispatch(fd int, events uint32) {
	if fd >= len(p.handlers) {
		return
	}
	if events&readyForRead != 0 {
		if f := p.handlers[fd].onRead; f != nil {
			guard(p.log, "fd reader", f)
		}
	}
	if events&readyForWrite != 0 && fd < len(p.handlers) {
		if f := p.handlers[fd].onWrite; f != nil {
			guard(p.log, "fd writer", f)
		}
	}
}

func (p *epollPoller) slot(fd int) (*fdHandlers, error) {
	if fd < 0 || fd == p.fds.epfd || fd == p.fds.wakefd {
		return nil, unix.EBADF
	}
	if fd >= len(p.handlers) {
		n := max(2*len(p.handlers), fd+1, 64)
		h := make([]fdHandlers, n)
		copy(h, p.handlers)
		p.handlers = h
	}
	return &p.handlers[fd], nil
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
	if fd < 0 || fd >= len(p.handlers) {
		return nil
	}
	h := &p.handlers[fd]
	h.onRead = nil
	return p.setMask(fd, h, h.mask&^readEvents)
}

func (p *epollPoller) removeWriter(fd int) error {
	if fd < 0 || fd >= len(p.handlers) {
		return nil
	}
	h := &p.handlers[fd]
	h.onWrite = nil
	return p.setMask(fd, h, h.mask&^writeEvents)
}

func (p *epollPoller) removeAll() []int {
	var fds []int
	for fd := range p.handlers {
		h := &p.handlers[fd]
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
