package deferredtcptest

import (
	"log/slog"
	"sync"
	"time"

	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// Loop is a deterministic [deferredtcp.Loop] for tests: Twisted's task.Clock
// and iosim's in-memory connections in one. Its time is a [reactor.Clock]
// that stands still until the test moves it, and [deferredtcp.Listen] and
// [deferredtcp.Connect] on it use an in-memory network
// ([deferredtcp.MemoryNetwork]): a test builds a server and a client with the
// real package, then steps bytes ([Loop.Flush]) and time ([Loop.Advance]) by
// hand, and checks what happened — idle timeouts, connect timeouts,
// reconnection delays — with no socket, no goroutine and no sleeping.
//
//	loop := deferredtcptest.NewLoop()
//	defer loop.Stop()
//	deferredtcp.Listen(loop, "tcp", "server:80") // ... Serve
//	d := deferredtcp.Connect(loop, "tcp", "server:80")
//	loop.Flush()              // the connection is made, greetings exchanged
//	loop.Advance(time.Minute) // idle timeouts fire
//
// Everything runs on the goroutine that calls Flush, Advance and Stop; a Loop
// is not safe for concurrent use, except [Loop.CallFromGoroutine].
type Loop struct {
	clock *reactor.Clock
	net   *deferredtcp.MemoryNetwork
	log   *slog.Logger

	mu      sync.Mutex
	handed  []func() // CallFromGoroutine's queue
	exts    []loopExt
	closed  bool // Stop has begun: no new extension
	stopped bool
}

type loopExt struct {
	key any
	ext reactor.Extension
}

var _ deferredtcp.MemoryLoop = (*Loop)(nil)

// Epoch is the time a [NewLoop]'s clock starts at.
var Epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// NewLoop returns a Loop whose clock reads [Epoch], with an empty in-memory
// network, logging to slog.Default().
func NewLoop() *Loop {
	return &Loop{clock: reactor.NewClock(Epoch), net: deferredtcp.NewMemoryNetwork(), log: slog.Default()}
}

// SetLogger makes the loop, and deferredtcp on it, log to log.
func (l *Loop) SetLogger(log *slog.Logger) { l.log = log }

// Clock returns the loop's clock, for code that takes a [reactor.Scheduler].
func (l *Loop) Clock() *reactor.Clock { return l.clock }

// MemoryNetwork returns the loop's in-memory network (for
// [deferredtcp.MemoryNetwork.SetUnreachable]).
func (l *Loop) MemoryNetwork() *deferredtcp.MemoryNetwork { return l.net }

// Now returns the clock's time.
func (l *Loop) Now() time.Time { return l.clock.Now() }

// Schedule runs f once the clock has advanced by delay (at the next Flush
// for a delay of 0).
func (l *Loop) Schedule(delay time.Duration, f func()) *reactor.DelayedCall {
	return l.clock.Schedule(delay, f)
}

// AfterFunc is the clock's AfterFunc.
func (l *Loop) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	return l.clock.AfterFunc(d, f)
}

// CallFromGoroutine queues f to run at the next Flush or Advance. Safe from
// any goroutine.
func (l *Loop) CallFromGoroutine(f func()) {
	l.mu.Lock()
	l.handed = append(l.handed, f)
	l.mu.Unlock()
}

// Running reports whether the loop runs: until Stop.
func (l *Loop) Running() bool { return !l.stopped }

// Backend returns reactor.Portable: the loop has no file descriptors.
func (l *Loop) Backend() reactor.Backend { return reactor.Portable }

// AddReader returns reactor.ErrFDUnsupported, as the other FD methods do.
func (l *Loop) AddReader(int, func()) error { return reactor.ErrFDUnsupported }

// AddWriter returns reactor.ErrFDUnsupported.
func (l *Loop) AddWriter(int, func()) error { return reactor.ErrFDUnsupported }

// RemoveReader returns reactor.ErrFDUnsupported.
func (l *Loop) RemoveReader(int) error { return reactor.ErrFDUnsupported }

// RemoveWriter returns reactor.ErrFDUnsupported.
func (l *Loop) RemoveWriter(int) error { return reactor.ErrFDUnsupported }

// Logger returns the loop's logger.
func (l *Loop) Logger() *slog.Logger { return l.log }

// CheckLoop does nothing: everything runs on the test's goroutine.
func (l *Loop) CheckLoop(string) {}

// Extension is the loop's slot, as [reactor.Reactor.Extension]: Stop shuts
// its extensions down and releases them. The collected function is not used:
// a Loop holds nothing outside the Go heap.
func (l *Loop) Extension(key any, create func() (reactor.Extension, func())) (reactor.Extension, error) {
	for _, e := range l.exts {
		if e.key == key {
			return e.ext, nil
		}
	}
	if l.closed {
		return nil, reactor.ErrNotRunning
	}
	ext, _ := create()
	l.exts = append(l.exts, loopExt{key, ext})
	return ext, nil
}

// Flush runs what is ready now — calls handed over with CallFromGoroutine,
// calls due at the current time (bytes written reach the other end, which
// reads them, answers, and so on) — until nothing is left. It panics after
// 100 000 rounds: the loop never settles (two ends that talk forever).
func (l *Loop) Flush() {
	for i := 0; ; i++ {
		if i == 100_000 {
			panic("deferredtcptest: Loop.Flush: the loop never settles")
		}
		l.mu.Lock()
		handed := l.handed
		l.handed = nil
		l.mu.Unlock()
		for _, f := range handed {
			f()
		}
		l.clock.Advance(0)
		if len(handed) == 0 && !l.due() {
			return
		}
	}
}

// due reports whether a call is due now or a handed-over call waits.
func (l *Loop) due() bool {
	l.mu.Lock()
	n := len(l.handed)
	l.mu.Unlock()
	if n > 0 {
		return true
	}
	p := l.clock.Pending()
	return len(p) > 0 && !p[0].Time().After(l.clock.Now())
}

// Advance flushes, moves the clock forward by d, running the calls that come
// due on the way in time order (each at its own time, so a timer that a call
// re-arms is seen), and flushes again.
func (l *Loop) Advance(d time.Duration) {
	l.Flush()
	end := l.clock.Now().Add(d)
	for {
		p := l.clock.Pending()
		if len(p) == 0 || p[0].Time().After(end) {
			break
		}
		l.clock.Advance(max(p[0].Time().Sub(l.clock.Now()), 0))
		l.Flush()
	}
	l.clock.Advance(end.Sub(l.clock.Now()))
	l.Flush()
}

// ShutdownTimeout is how long [Loop.Stop] lets the clock run, at most, while
// what is open flushes: the reactor's default shutdown timeout.
const ShutdownTimeout = 30 * time.Second

// Stop shuts the loop down as a reactor's shutdown does: deferredtcp stops
// its listeners and closes its connections, flushing what was written; the
// clock runs (calls coming due in time order, as in [Loop.Advance]) until
// all is closed — a connection whose peer does not read is aborted after
// deferredtcp's two-second grace — or [ShutdownTimeout] has passed; then
// what is still open is aborted. Stop is idempotent; nothing new starts on
// the loop afterwards.
func (l *Loop) Stop() {
	if l.closed {
		return
	}
	l.closed = true
	deadline := l.clock.Now().Add(ShutdownTimeout)
	pending := 0
	for _, e := range l.exts {
		if d := e.ext.ShutDown(deadline); d != nil {
			pending++
			d.AddBoth(func(struct{}, *failure.Failure) (struct{}, error) {
				pending--
				return struct{}{}, nil
			})
		}
	}
	l.Flush()
	for pending > 0 {
		p := l.clock.Pending()
		if len(p) == 0 || p[0].Time().After(deadline) {
			break
		}
		l.clock.Advance(max(p[0].Time().Sub(l.clock.Now()), 0))
		l.Flush()
	}
	l.stopped = true
	for _, e := range l.exts {
		e.ext.Release()
	}
	l.exts = nil
	l.Flush()
}
