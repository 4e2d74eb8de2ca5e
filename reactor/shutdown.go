package reactor

import (
	"errors"
	"time"
)

// ErrShutdown fails the Deferred of a [DeferToGoroutine] function that had not
// finished (or not started) when the reactor's shutdown deadline
// ([WithShutdownTimeout]) passed, or that was submitted after it: Run does not
// wait for it, and the Deferred still fires.
var ErrShutdown = errors.New("reactor: shut down before the function finished")

// shutdownState tracks the end of Run (loop goroutine only).
type shutdownState struct {
	triggersDone   bool         // the shutdown event has fired all its phases
	deadlinePassed bool         // WithShutdownTimeout elapsed: stop waiting
	deadline       *DelayedCall // the timer that sets deadlinePassed
	deadlineAt     time.Time    // when it does
	done           bool         // the loop is to exit
}

// Stop asks the reactor to stop and returns at once. The loop then shuts down
// in Twisted's phases:
//
//   - "before shutdown" triggers run, with every listener and connection still
//     live (so a trigger can say goodbye to clients), and the reactor still
//     [Reactor.Running]; the shutdown waits for their Deferreds;
//   - "during shutdown": the reactor stops running, the packages built on it
//     shut down first (deferredtcp stops its listeners and closes its
//     connections, flushing what was written), then the "during" triggers run;
//   - "after shutdown" triggers run last.
//
// Run then waits for the [DeferToGoroutine] functions still running or queued,
// and returns. All of this takes at most [WithShutdownTimeout]: past it, the
// phases left run without waiting, the functions still pending have their
// Deferreds failed with [ErrShutdown], what is still open is aborted, and Run
// returns. Stopping while startup triggers still wait for their Deferreds
// abandons the rest of startup.
//
// Stop is safe to call from any goroutine. It returns [ErrNotRunning] when Run
// has not been called, or Stop already was.
func (r *Reactor) Stop() error {
	if !r.state.CompareAndSwap(stateRunning, stateStopping) {
		return ErrNotRunning
	}
	r.CallFromGoroutine(r.beginShutdown)
	return nil
}

// StopWithError stops the reactor as [Reactor.Stop] does, and makes
// [Reactor.Run] return err (the first one, if it is called more than once):
// the way a program ends when something it cannot do without fails, such as
// binding its port. It is typically an errback:
//
//	deferredtcp.Listen(r, "tcp", addr).AddErrback(func(f *failure.Failure) (*deferredtcp.Listener, error) {
//		r.StopWithError(f)
//		return nil, nil
//	})
//
// It is safe to call from any goroutine, and returns Stop's error. A nil err
// is a plain Stop.
func (r *Reactor) StopWithError(err error) error {
	if err != nil {
		r.stopErr.CompareAndSwap(nil, &err)
	}
	return r.Stop()
}

// beginShutdown runs on the loop after Stop.
func (r *Reactor) beginShutdown() {
	if fi := r.firing[Startup]; fi != nil {
		fi.stopped = true
		r.firing[Startup] = nil
	}
	timeout := max(r.cfg.shutdownTimeout, 0)
	r.shutdown.deadlineAt = r.Now().Add(timeout)
	r.shutdown.deadline = r.timers.schedule(timeout, r.shutdownDeadline)
	r.fire(Shutdown, func() {
		r.shutdown.triggersDone = true
		r.checkShutdownDone()
	})
}

// shutDownExtensions is the start of "during shutdown": every extension
// shuts down, in the order they were made; the phase waits for them.
func (r *Reactor) shutDownExtensions() []waiter {
	r.exts.closed = true
	var ws []waiter
	for _, e := range r.exts.list {
		d := guardValue(r.log, "extension shutdown", func() waiter {
			return waitFor(e.ext.ShutDown(r.shutdown.deadlineAt))
		})
		if d != nil {
			ws = append(ws, d)
		}
	}
	return ws
}

func (r *Reactor) shutdownDeadline() {
	s := &r.shutdown
	s.deadline = nil
	s.deadlinePassed = true
	pending := 0
	if fi := r.firing[Shutdown]; fi != nil {
		pending = fi.pending
	}
	running, queued := r.pool.running(), len(r.pool.queue)
	r.log.Warn("reactor: shutdown deadline passed",
		"timeout", r.cfg.shutdownTimeout, "pendingTriggers", pending,
		"runningFunctions", running, "queuedFunctions", queued)
	r.pool.abandon(ErrShutdown)
	if fi := r.firing[Shutdown]; fi != nil {
		fi.stopWaiting()
	}
	r.checkShutdownDone()
}

// checkShutdownDone ends the loop once the shutdown triggers are done and
// DeferToGoroutine has nothing left, or the deadline passed.
func (r *Reactor) checkShutdownDone() {
	s := &r.shutdown
	if s.done || !s.triggersDone || (r.pool.busy() > 0 && !s.deadlinePassed) {
		return
	}
	s.done = true
	// Functions submitted from now on fail at once: nothing would deliver
	// their results.
	r.pool.abandon(ErrShutdown)
	if s.deadline != nil {
		s.deadline.Cancel()
		s.deadline = nil
	}
}

// finishShutdown runs on the loop once it has exited: the extensions drop
// what is left, and the calls handed over so far run. Calls queued before
// the queue closes run, so that a goroutine that handed the loop a resource
// (an accepted socket) while it stopped is not left holding it; later ones
// are dropped.
func (r *Reactor) finishShutdown() {
	r.running.Store(false)
	r.releaseExtensions()
	runEach(r.log, handedOver, r.handoff.close())
	// A DeferToGoroutine made by one of those calls fails at once.
	r.pool.abandon(ErrShutdown)
}
