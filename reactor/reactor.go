package reactor

import (
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"
)

// Reactor states, in the order a reactor goes through them.
const (
	stateIdle     int32 = iota // created, Run not called yet
	stateRunning               // Run called, Stop not called yet
	stateStopping              // Stop called; shutdown triggers running
	stateStopped               // Run returned
)

// Reactor is an event loop: it runs timers, functions handed over from other
// goroutines, file-descriptor handlers and system event triggers, all on the one
// goroutine that calls [Reactor.Run], the way Twisted's reactor runs a Twisted
// program on one thread.
//
// Methods are to be called on the loop goroutine (from a callback), or before Run
// by the goroutine that will call Run, unless their documentation says they are
// safe from any goroutine ([Reactor.CallFromGoroutine], [Reactor.Stop],
// [Reactor.Running], [Reactor.Now], [Reactor.Backend], [Reactor.CheckLoop]);
// another goroutine that needs a result from the loop uses [BlockingCall].
// [WithDebug] (or TWIST_DEBUG=1) makes every loop-only call check its goroutine.
type Reactor struct {
	cfg    config
	log    *slog.Logger
	poller poller
	base   time.Time // the time of nanotime 0, with a monotonic reading

	state    atomic.Int32
	running  atomic.Bool // from "during startup" to "during shutdown": Running
	sleeping atomic.Bool // the loop is (about to be) blocked in poller.wait
	parked   atomic.Bool // the loop is blocked in poller.wait: it runs no callback
	handoff  handoffQueue
	stopErr  atomic.Pointer[error] // the first StopWithError's error, for Run
	ended    chan struct{}         // closed when Run returns
	debug    bool                  // WithDebug: loop-only calls check their goroutine
	loopG    atomic.Uintptr        // the goroutine running the loop (getg), while it runs
	loopGID  atomic.Uint64         // its id, under WithDebug, for messages
	lent     atomic.Int32          // Inline bodies the loop resumed and waits for (WithDebug)

	// Everything below belongs to the loop goroutine.
	timers    timerQueue
	events    [2]eventTriggers // indexed by Event
	firing    [2]*firing       // the firing of each Event in progress, if any
	triggerID uint64
	started   bool // "during startup" has begun: CallWhenRunning calls at once
	shutdown  shutdownState
	pool      workerPool
	coop      *Cooperator // Cooperate's and Coiterate's, made on first use
	exts      extensions
}

// New returns a reactor configured by opts, ready to [Reactor.Run]. Its poller's
// resources (for Epoll, an epoll descriptor and an eventfd) are released when Run
// returns, or when the Reactor is garbage collected without having run.
func New(opts ...Option) *Reactor {
	cfg := newConfig(opts)
	r := &Reactor{cfg: cfg, log: cfg.logger, base: time.Now(), ended: make(chan struct{}), debug: cfg.debug}
	r.timers.base = r.base
	r.timers.nanotime = r.nanotime
	r.timers.owner = r
	r.poller = newPoller(cfg.backend, cfg.logger)
	r.pool.init(cfg.workers)
	return r
}

func newPoller(b Backend, log *slog.Logger) poller {
	if b == Epoll {
		p, err := newEpollPoller(log)
		if err == nil {
			return p
		}
		log.Warn("reactor: epoll backend unavailable, using portable", "err", err)
	}
	return newPortablePoller()
}

// nanotime is the loop's clock: monotonic nanoseconds since New.
func (r *Reactor) nanotime() int64 { return int64(time.Since(r.base)) }

// Now returns the reactor's current time (Twisted's seconds()), the time base of
// [DelayedCall.Time]. It carries a monotonic reading. Safe from any goroutine.
func (r *Reactor) Now() time.Time { return r.base.Add(time.Duration(r.nanotime())) }

// Logger returns the logger the reactor reports to ([WithLogger];
// slog.Default() otherwise), for packages built on the reactor, such as
// deferredtcp, to log where the program asked. Safe from any goroutine.
func (r *Reactor) Logger() *slog.Logger { return r.log }

// Running reports whether the reactor is running, as Twisted's
// reactor.running does: from the "during" phase of startup (so not in
// "before startup" triggers) to the "during" phase of shutdown (so still in
// "before shutdown" triggers). Safe from any goroutine.
func (r *Reactor) Running() bool { return r.running.Load() }

// Run runs the loop on the calling goroutine until the reactor stops: it fires
// the startup triggers ("before", "during", then "after", which is where
// [Reactor.CallWhenRunning] calls run), then runs timers, handed-over functions
// and file-descriptor handlers as they come due. After [Reactor.Stop] it shuts
// down in Twisted's phases (see [Reactor.Stop]), releases the poller and returns
// nil, or the error given to [Reactor.StopWithError].
//
// Run returns [ErrAlreadyRunning] while the reactor runs, and [ErrNotRestartable]
// once it has stopped: a reactor runs once.
func (r *Reactor) Run() error {
	if !r.state.CompareAndSwap(stateIdle, stateRunning) {
		if r.state.Load() == stateStopped {
			return ErrNotRestartable
		}
		return ErrAlreadyRunning
	}
	r.enterLoop()
	defer close(r.ended)
	defer r.state.Store(stateStopped)
	defer r.leaveLoop()
	defer r.poller.close()
	defer r.watchSignals()()

	r.fire(Startup, nil)
	for !r.shutdown.done {
		r.iterate()
	}
	r.finishShutdown()
	if err := r.stopErr.Load(); err != nil {
		return *err
	}
	return nil
}

// iterate is one turn of the loop: hand-offs, due timers, then a wait for I/O
// until the next timer. Nothing here allocates once the queues have grown.
func (r *Reactor) iterate() {
	r.runHandoffs()
	r.runTimers()
	if r.shutdown.done {
		return
	}
	timeout := r.timeout()
	if timeout != 0 {
		// Announce the sleep, then look once more: a producer that queued before
		// seeing the flag left work behind; one that sees it wakes us.
		r.sleeping.Store(true)
		if !r.handoff.empty() {
			r.sleeping.Store(false)
			timeout = 0
		}
	}
	r.parked.Store(true)
	r.poller.wait(timeout)
	r.parked.Store(false)
	r.sleeping.Store(false)
	r.poller.dispatchReady()
}

// handedOver names the calls of CallFromGoroutine in the log.
const handedOver = "function handed over with CallFromGoroutine"

func (r *Reactor) runHandoffs() {
	batch := r.handoff.take()
	runEach(r.log, handedOver, batch)
	r.handoff.recycle(batch)
}

func (r *Reactor) runTimers() {
	if r.timers.heap.Len() == 0 {
		return
	}
	now, limit := r.nanotime(), r.timers.limit()
	runAll(r.log, "delayed call", func() (func(), bool) { return r.timers.popDue(now, limit) })
}

// timeout is how long the loop may sleep: until the next timer, or forever.
func (r *Reactor) timeout() time.Duration {
	when, ok := r.timers.next()
	if !ok {
		return -1
	}
	return time.Duration(max(when-r.nanotime(), 0))
}

// CallFromGoroutine queues f to run on the loop goroutine (Twisted's
// callFromThread). It is safe from any goroutine and never blocks on the loop.
// Calls run in the order they were queued; a call queued while the loop runs the
// queue waits for the next iteration, so a flood of calls cannot starve timers and
// I/O. Functions queued before Run returns run before it returns (those
// queued once the shutdown triggers are done, after them); functions queued
// after it returned never run.
func (r *Reactor) CallFromGoroutine(f func()) {
	r.callFromGoroutine(f)
}

// callFromGoroutine is CallFromGoroutine reporting whether f was queued: it
// is not once Run has drained the queue for the last time.
func (r *Reactor) callFromGoroutine(f func()) bool {
	ok := r.handoff.push(f)
	if ok && r.sleeping.Load() && r.sleeping.CompareAndSwap(true, false) {
		r.poller.wake()
	}
	return ok
}

// CallWhenRunning runs f once the reactor is running: at once if startup has
// reached its "during" phase, otherwise as an "after startup" trigger, in the
// order of the calls. A call made once shutdown has begun its "during" phase is
// dropped. Loop goroutine only (or before Run).
func (r *Reactor) CallWhenRunning(f func()) {
	r.CheckLoop("Reactor.CallWhenRunning")
	if r.started {
		f()
		return
	}
	r.addTrigger(After, Startup, func() waiter { f(); return nil })
}

// Schedule arranges for f to run on the loop once delay has passed (Twisted's
// callLater). Calls run in time order, and calls due at the same time run in the
// order they were scheduled. A call scheduled from inside a call does not run in
// the same iteration, even with delay 0. Schedule panics when delay is negative.
// Loop goroutine only (or before Run).
func (r *Reactor) Schedule(delay time.Duration, f func()) *DelayedCall {
	r.CheckLoop("Reactor.Schedule")
	return r.timers.schedule(delay, f)
}

// AfterFunc runs f on the loop once d has passed, like [Reactor.Schedule], and
// returns a function that cancels it, reporting whether it did so before f ran;
// it satisfies deferred.Clock. The returned stop function is safe from any
// goroutine (a Deferred may be fired anywhere); AfterFunc itself is loop only (or
// before Run). It panics when d is negative.
func (r *Reactor) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	r.CheckLoop("Reactor.AfterFunc")
	var state atomic.Int32 // 0 pending, 1 fired, 2 stopped
	dc := r.timers.schedule(d, func() {
		if state.CompareAndSwap(0, 1) {
			f()
		}
	})
	return func() bool {
		if !state.CompareAndSwap(0, 2) {
			return false
		}
		// The heap belongs to the loop: remove the call there.
		r.CallFromGoroutine(func() { dc.Cancel() })
		return true
	}
}

// watchSignals makes the configured signals stop the reactor until the
// returned function is called.
func (r *Reactor) watchSignals() (unwatch func()) {
	if len(r.cfg.signals) == 0 {
		return func() {}
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, r.cfg.signals...)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case sig := <-ch:
				if r.Stop() == nil {
					r.log.Info("reactor: stopping on signal", "signal", sig.String())
				}
			case <-done:
				return
			}
		}
	})
	return func() {
		signal.Stop(ch)
		close(done)
		wg.Wait()
	}
}
