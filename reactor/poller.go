package reactor

import "time"

// poller is what a backend provides to the loop: a way to sleep until an event,
// a timeout or a wake-up, and (for Epoll) file-descriptor readiness.
// Everything except wake runs on the loop goroutine.
type poller interface {
	// wait blocks for at most timeout (forever when negative, not at all when
	// zero) until an event or a wake-up, and returns.
	wait(timeout time.Duration)
	// dispatchReady runs the handlers of the file descriptors the last wait
	// found ready.
	dispatchReady()
	// wake makes a blocked or upcoming wait return; safe from any goroutine.
	wake()
	// close releases the poller's resources.
	close()
	backend() Backend

	addReader(fd int, onReadable func()) error
	addWriter(fd int, onWritable func()) error
	removeReader(fd int) error
	removeWriter(fd int) error
	removeAll() []int
}

// AddReader calls onReadable on the loop whenever fd is readable, until
// [Reactor.RemoveReader] (Twisted's IReactorFDSet.addReader). Readiness is
// level-triggered: onReadable is called again on every iteration while unread
// data remains, so it may read as much or as little as it likes. A hang-up or
// error on fd is delivered to the reader (and writer) so it discovers the
// condition with its own read. Adding a reader for an fd that has one replaces
// its function.
//
// fd must be non-blocking and must not be registered with Go's own poller (use
// raw descriptors, such as those of unix.Socket or unix.Pipe2). Remove fd before
// closing it. The FD methods may be called only on the loop goroutine, or before
// Run by the goroutine that will call Run. On the [Portable] backend they return
// [ErrFDUnsupported]; other errors come from epoll_ctl.
func (r *Reactor) AddReader(fd int, onReadable func()) error {
	r.CheckLoop("Reactor.AddReader")
	return r.poller.addReader(fd, onReadable)
}

// AddWriter calls onWritable on the loop whenever fd is writable, until
// [Reactor.RemoveWriter]; see [Reactor.AddReader] for the rules. A writer is
// usually added only while output is pending and removed once it is flushed, since
// a level-triggered writable socket is nearly always ready.
func (r *Reactor) AddWriter(fd int, onWritable func()) error {
	r.CheckLoop("Reactor.AddWriter")
	return r.poller.addWriter(fd, onWritable)
}

// RemoveReader stops calling fd's reader; it does nothing when fd has none. It
// takes effect at once, even for events of the current iteration. Loop goroutine
// only; [ErrFDUnsupported] on the [Portable] backend.
func (r *Reactor) RemoveReader(fd int) error {
	r.CheckLoop("Reactor.RemoveReader")
	return r.poller.removeReader(fd)
}

// RemoveWriter stops calling fd's writer; it does nothing when fd has none. Loop
// goroutine only; [ErrFDUnsupported] on the [Portable] backend.
func (r *Reactor) RemoveWriter(fd int) error {
	r.CheckLoop("Reactor.RemoveWriter")
	return r.poller.removeWriter(fd)
}

// RemoveAll removes every reader and writer and returns their file descriptors,
// in increasing order, each once (Twisted's removeAll). Loop goroutine only; it
// returns nil on the [Portable] backend.
func (r *Reactor) RemoveAll() []int {
	r.CheckLoop("Reactor.RemoveAll")
	return r.poller.removeAll()
}

// Backend reports the backend the reactor actually uses. Safe from any goroutine.
func (r *Reactor) Backend() Backend { return r.poller.backend() }
