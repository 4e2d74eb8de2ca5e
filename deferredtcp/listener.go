package deferredtcp

import (
	"net"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
)

// Listener accepts connections on a TCP or Unix socket, on one reactor.
// It accepts only while there is demand: a pending [Listener.Accept] or a
// [Listener.Serve] handler; otherwise connections wait in the kernel's
// backlog.
//
// Every method is to be called on the loop goroutine (or before Run by the
// goroutine that will call it).
type Listener struct {
	loop    *loop
	r       Loop
	tracked *resource // the socket, while the loop may be collected unrun
	cfg     config
	network string
	addr    net.Addr
	io      listenerIO

	accepts   waitList[*Conn]
	ready     []*Conn // accepted before anyone asked (portable hand-off only)
	serve     func(*Conn)
	accepting bool
	open      int // accepted connections still open, counted under WithMaxConnections

	closed       bool
	closeDone    bool
	closeWaiters []*deferred.Deferred[struct{}]
	cancelAccept func(*deferred.Deferred[*Conn])
	updateFn     func()
}

// Accepts pause after a resource shortage (EMFILE and the like), for
// minAcceptPause at first, doubling up to maxAcceptPause.
const (
	minAcceptPause = 10 * time.Millisecond
	maxAcceptPause = time.Second
)

// acceptBackoff paces the accepts of a listener that keeps failing: each
// failure in a row doubles the pause. Only the first failure of a run is
// logged, so that a server out of descriptors logs once per burst rather
// than once per retry.
type acceptBackoff struct {
	pause time.Duration // the current pause; 0 when the last accept did not fail
}

// failed returns how long to pause after err, logging the first failure of
// a run to l's reactor's logger.
func (b *acceptBackoff) failed(l *Listener, err error) time.Duration {
	addr := l.addr
	if b.pause == 0 {
		l.r.Logger().Warn("deferredtcp: accept failed; pausing accepts until they succeed again",
			"addr", addr, "err", err, "pause", minAcceptPause)
	}
	b.pause = min(max(2*b.pause, minAcceptPause), maxAcceptPause)
	return b.pause
}

// ok ends a run of failures.
func (b *acceptBackoff) ok() { b.pause = 0 }

// listenerIO is one I/O path under a Listener.
type listenerIO interface {
	// setAccepting starts or stops accepting; accepted connections go to
	// Listener.deliver.
	setAccepting(on bool)
	// close closes the socket and calls done on the loop once no more
	// connections will be delivered.
	close(done func())
}

// Listen returns a Deferred that fires with a [Listener] bound to address on
// network ("tcp", "tcp4", "tcp6" or "unix"), served by r (Twisted's
// listenTCP and listenUNIX). A host name in address is resolved on a worker
// goroutine; an IP address or an empty host is used as is (":0" picks a
// free port: see [Listener.Addr]). A failure to bind fails the Deferred with
// a *net.OpError through which errors.Is sees the errno (for instance
// syscall.EADDRINUSE).
//
// On the reactor's Epoll backend the socket is non-blocking and served on the
// loop; on the Portable backend it is a net.Listener with an accepting
// goroutine. Options: [WithBacklog], [WithReusePort], [WithMaxConnections],
// and the connection options ([WithWatermarks], [WithReadBufferSize],
// [WithMaxWriteBuffer], [WithNoDelay]) for the connections it accepts. Listen is loop goroutine only
// (or before Run).
//
// Once r has begun its "during shutdown" phase, or has stopped, Listen fails
// with a *net.OpError of reactor.ErrNotRunning, and binds nothing. On a Loop
// with an in-memory network ([MemoryLoop], such as deferredtcptest.Loop),
// Listen binds address there, with no socket and no name resolution.
func Listen(r Loop, network, address string, opts ...Option) *deferred.Deferred[*Listener] {
	r.CheckLoop("Listen")
	cfg := newConfig(opts)
	if mn := memoryNetworkOf(r); mn != nil {
		return deferred.Execute(func() (*Listener, error) { return mn.listen(r, network, address, cfg) })
	}
	return deferred.Then(resolve(r, "listen", network, address), func(addr net.Addr) (*Listener, error) {
		return listenOn(r, network, addr, cfg)
	})
}

func listenOn(r Loop, network string, addr net.Addr, cfg config) (*Listener, error) {
	lp, err := loopFor(r)
	if err != nil {
		return nil, notRunning("listen", network, addr)
	}
	l := &Listener{loop: lp, r: r, cfg: cfg, network: network}
	l.cancelAccept, l.updateFn = l.acceptCancelled, l.update
	if useEpoll(r) {
		err = listenEpoll(l, addr)
	} else {
		err = listenPortable(l, addr)
	}
	if err != nil {
		return nil, err
	}
	lp.adoptListener(l)
	return l, nil
}

// adoptListener makes l one of lp's listeners, closed at shutdown; until
// the loop runs, its socket is also closed if the loop is garbage collected
// unrun.
func (lp *loop) adoptListener(l *Listener) {
	lp.listeners[l] = struct{}{}
	if !lp.r.Running() {
		if c := listenerCloser(l.io); c != nil {
			l.tracked = lp.res.track(c)
		}
	}
}

// Addr returns the address the listener is bound to, with the port the
// system chose for port 0.
func (l *Listener) Addr() net.Addr { return l.addr }

// Loop returns the loop that serves the listener. Safe from any goroutine.
func (l *Listener) Loop() Loop { return l.r }

// Accept returns a Deferred that fires with the next connection. Accepts
// are served in the order they were made. It fails with [ErrClosed] once the
// listener is closed (and so do pending Accepts when it closes). Cancelling
// it withdraws it, from any goroutine.
func (l *Listener) Accept() *deferred.Deferred[*Conn] {
	l.r.CheckLoop("Listener.Accept")
	if l.closed {
		return deferred.Fail[*Conn](ErrClosed)
	}
	if len(l.ready) > 0 {
		c := l.ready[0]
		l.ready = l.ready[1:]
		return deferred.Succeed(c)
	}
	d := deferred.NewWithCanceller(l.cancelAccept)
	l.accepts.add(d)
	l.update()
	return d
}

// acceptCancelled is an Accept's canceller. It may run on any goroutine,
// so it leaves the Listener alone (see waitlist.go); the loop is told to
// check whether anyone still wants connections.
func (l *Listener) acceptCancelled(*deferred.Deferred[*Conn]) {
	l.r.CallFromGoroutine(l.updateFn)
}

// Serve makes the listener accept connections continuously and call handle,
// on the loop, with each one (after any pending Accepts are served): the
// server's per-connection code, usually a chain of Reads and Writes or an
// [Conn.OnData] handler. A handle that panics has its connection aborted and
// the panic logged. Serve(nil) stops serving.
func (l *Listener) Serve(handle func(*Conn)) {
	l.r.CheckLoop("Listener.Serve")
	l.serve = handle
	for handle != nil && len(l.ready) > 0 && !l.closed {
		c := l.ready[0]
		l.ready = l.ready[1:]
		l.callServe(c)
	}
	l.update()
}

// deliver hands an accepted connection to the first Accept, or to Serve.
func (l *Listener) deliver(c *Conn) {
	if l.cfg.maxConns > 0 {
		l.open++
		c.listener = l
	}
	switch {
	case l.closed:
		c.Abort()
	case l.handToAccept(c):
	case l.serve != nil:
		l.callServe(c)
	default:
		l.ready = append(l.ready, c)
	}
	l.update()
}

// handToAccept fires the first pending Accept with c, skipping any that
// another goroutine cancelled meanwhile; it reports whether one took c.
func (l *Listener) handToAccept(c *Conn) bool {
	for {
		d, ok := l.accepts.next()
		if !ok {
			return false
		}
		if d.Callback(c) == nil {
			return true
		}
	}
}

func (l *Listener) callServe(c *Conn) {
	defer func() {
		if v := recover(); v != nil {
			f := failure.FromPanic(v)
			l.r.Logger().Error("deferredtcp: Serve handler panicked; connection aborted",
				"addr", l.addr, "failure", f)
			c.Abort()
		}
	}()
	l.serve(c)
}

// wanted reports whether someone waits for connections, and
// WithMaxConnections lets them have one.
func (l *Listener) wanted() bool {
	return !l.closed && (l.serve != nil || l.accepts.waiting()) &&
		(l.cfg.maxConns <= 0 || l.open < l.cfg.maxConns)
}

// connClosed takes note that a connection counted under WithMaxConnections
// closed.
func (l *Listener) connClosed() {
	l.open--
	l.update()
}

func (l *Listener) update() {
	if want := l.wanted(); want != l.accepting {
		l.accepting = want
		l.io.setAccepting(want)
	}
}

// Close stops accepting and closes the listening socket; connections already
// accepted stay open. Pending Accepts fail with [ErrClosed]. The Deferred
// fires once the socket is closed (and, on the portable backend, its
// accepting goroutine has returned).
func (l *Listener) Close() *deferred.Deferred[struct{}] {
	l.r.CheckLoop("Listener.Close")
	if l.closeDone {
		return deferred.Succeed(struct{}{})
	}
	d := deferred.New[struct{}]()
	l.closeWaiters = append(l.closeWaiters, d)
	if l.closed {
		return d
	}
	l.closed = true
	l.update()
	delete(l.loop.listeners, l)
	l.loop.res.untrack(l.tracked)
	l.tracked = nil
	for _, c := range l.ready {
		c.Abort()
	}
	l.ready = nil
	as := l.accepts.take()
	l.io.close(l.closedDone)
	for _, a := range as {
		a.Errback(ErrClosed)
	}
	return d
}

func (l *Listener) closedDone() {
	l.closeDone = true
	ws := l.closeWaiters
	l.closeWaiters = nil
	for _, d := range ws {
		d.Callback(struct{}{})
	}
}
