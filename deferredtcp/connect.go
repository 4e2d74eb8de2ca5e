package deferredtcp

import (
	"net"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// Connect returns a Deferred that fires with a [Conn] connected to address
// on network ("tcp", "tcp4", "tcp6" or "unix"), served by r (Twisted's
// connectTCP). It fails with a *net.OpError: errors.Is sees the errno through
// it (syscall.ECONNREFUSED for a closed port, syscall.ENETUNREACH, ...), and
// past [WithTimeout] (30 seconds by default) its cause is
// [ErrConnectTimeout], so that the error's Timeout method reports true.
// Cancelling the Deferred (on the loop) aborts the attempt. A host name in
// address is resolved on a worker goroutine.
//
// Options: [WithTimeout], [WithBindAddress], and the connection options
// ([WithWatermarks], [WithReadBufferSize], [WithMaxWriteBuffer],
// [WithNoDelay]). Connect is loop goroutine only (or before Run).
//
// Once r has begun its "during shutdown" phase, or has stopped, Connect fails
// with a *net.OpError of reactor.ErrNotRunning, and opens nothing. On a Loop
// with an in-memory network ([MemoryLoop], such as deferredtcptest.Loop),
// Connect reaches the in-memory listener bound to address.
func Connect(r Loop, network, address string, opts ...Option) *deferred.Deferred[*Conn] {
	r.CheckLoop("Connect")
	cfg := newConfig(opts)
	lp, err := loopFor(r)
	if err != nil {
		return deferred.Fail[*Conn](notRunning("dial", network, nil))
	}
	a := &attempt{loop: lp, network: network, cfg: cfg}
	a.d = deferred.NewWithCanceller(a.cancelled)
	lp.attempts[a] = struct{}{}
	if cfg.timeout > 0 {
		a.timer = r.Schedule(cfg.timeout, a.timedOut)
	}
	if mn := memoryNetworkOf(r); mn != nil {
		mn.connect(a, address)
		return a.d
	}
	resolve(r, "dial", network, address).AddBoth(func(addr net.Addr, f *failure.Failure) (net.Addr, error) {
		switch {
		case a.done:
		case f != nil:
			a.fail(f)
		default:
			a.addr = addr
			if useEpoll(r) {
				a.startEpoll()
			} else {
				a.startPortable()
			}
			a.track()
		}
		return nil, nil
	})
	return a.d
}

// attempt is one Connect in progress.
type attempt struct {
	loop    *loop
	network string
	cfg     config
	addr    net.Addr
	d       *deferred.Deferred[*Conn]
	timer   *reactor.DelayedCall
	io      interface{ abort() } // the socket or dialer in progress, if any
	done    bool
	tracked *resource // the socket, while the loop may be collected unrun
}

// track registers the attempt's socket, before Run, with the resources a
// loop garbage collected unrun closes.
func (a *attempt) track() {
	if a.done || a.loop.r.Running() {
		return
	}
	if c := attemptCloser(a.io); c != nil {
		a.tracked = a.loop.res.track(c)
	}
}

func (a *attempt) finish() {
	a.done = true
	// Its socket is closed, or is the connection's, by now.
	a.loop.res.untrack(a.tracked)
	a.tracked = nil
	delete(a.loop.attempts, a)
	if a.timer != nil {
		a.timer.Cancel()
		a.timer = nil
	}
	a.io = nil
}

func (a *attempt) fail(err error) {
	a.finish()
	a.d.Errback(err)
}

func (a *attempt) succeed(c *Conn) {
	a.finish()
	if c.loop.stopping {
		c.Abort()
		a.d.Errback(ErrClosed)
		return
	}
	if lp := c.loop; !lp.r.Running() {
		// Connected before Run: closed if the loop is collected unrun. The
		// connection's Lost fires once its socket is closed.
		if closer := connCloser(c.io); closer != nil {
			h := lp.res.track(closer)
			c.Lost().AddBoth(func(struct{}, *failure.Failure) (struct{}, error) {
				lp.res.untrack(h)
				return struct{}{}, nil
			})
		}
	}
	a.d.Callback(c)
}

func (a *attempt) abortIO() {
	if a.io != nil {
		a.io.abort()
	}
}

// cancelled is the Deferred's canceller: it aborts the attempt, and Cancel
// then fails the Deferred with deferred.ErrCancelled.
func (a *attempt) cancelled(*deferred.Deferred[*Conn]) {
	if a.done {
		return
	}
	a.abortIO()
	a.finish()
}

func (a *attempt) timedOut() {
	a.timer = nil
	if a.done {
		return
	}
	a.abortIO()
	a.fail(&net.OpError{Op: "dial", Net: a.network, Source: a.cfg.bind, Addr: a.addr, Err: ErrConnectTimeout})
}
