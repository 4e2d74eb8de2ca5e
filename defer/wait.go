package deferred

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twistgo/twist/failure"
)

// Clock schedules a function after a delay; AddTimeout uses it.
// *reactor.Reactor and *reactor.Clock satisfy it, and so does [SystemClock].
type Clock interface {
	// AfterFunc arranges for f to run after d and returns a function that
	// cancels the call, reporting whether it stopped it before it ran.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// SystemClock is a [Clock] on Go's timers: f runs on a goroutine of its
// own, which suits Deferreds used without a reactor.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// Wait blocks the calling goroutine until the chain has run up to this
// point and returns its value or its Failure, or until ctx is done and
// returns ctx.Err(). The result passes on unchanged to later steps, but a
// Failure that Wait returned counts as handled and is not reported as
// unhandled. Wait on a Deferred that has fired and rests reads the result
// in place, without allocating. Never call Wait on the reactor's goroutine
// for a Deferred the reactor has yet to fire: it would wait forever (under
// the reactor's debug switch it fails at once instead; see
// [SetBlockingCheck]).
func (d *Deferred[T]) Wait(ctx context.Context) (T, error) {
	if d.claim() {
		// A resting Failure is seen already: an unseen one is watched,
		// and a watched Deferred cannot be claimed.
		v, f := d.result, d.fail
		d.release(nil)
		if f != nil {
			var zero T
			return zero, f
		}
		return v, nil
	}
	w := &waiter[T]{done: wakeups.Get().(chan struct{})}
	if l := d.queue(w); l != nil {
		drive(l)
	}
	// Only a waiter that has not run would block (one that ran has sent
	// its wake-up, which the select below takes).
	if w.state.Load() == waiting {
		if err := mayBlock(); err != nil && w.state.CompareAndSwap(waiting, abandoned) {
			var zero T
			return zero, err
		}
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		if w.state.CompareAndSwap(waiting, abandoned) {
			wakeups.Put(w.done) // the step will not send now
			var zero T
			return zero, ctx.Err()
		}
		<-w.done
	}
	wakeups.Put(w.done)
	if w.fail != nil {
		var zero T
		return zero, w.fail
	}
	return w.value, nil
}

// wakeups recycles the channels on which Wait sleeps: each is empty when
// put back.
var wakeups = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

const (
	waiting int32 = iota
	delivered
	abandoned
)

// waiter is Wait's step on a chain that has not reached it yet.
type waiter[T any] struct {
	state atomic.Int32
	done  chan struct{}
	value T
	fail  *failure.Failure
}

func (w *waiter[T]) run(d *Deferred[T]) link {
	if !w.state.CompareAndSwap(waiting, delivered) {
		return nil // Wait gave up: the result goes on, unobserved
	}
	w.value, w.fail = d.result, d.fail
	if d.fail != nil {
		d.markSeen(d.fail)
	}
	w.done <- struct{}{}
	return nil
}

// AddTimeout cancels the Deferred if it has not fired within timeout on
// clock, and turns the resulting ErrCancelled Failure into a
// [*TimeoutError], which matches [ErrTimeout] (Twisted's addTimeout). A
// result that comes first stops the timer. It covers the steps added
// before it: the cancellation and the conversion happen at this point of
// the chain. If the canceller fires the Deferred with a value, the value
// passes unchanged. It returns d.
func (d *Deferred[T]) AddTimeout(timeout time.Duration, clock Clock) *Deferred[T] {
	var timedOut atomic.Bool
	stop := clock.AfterFunc(timeout, func() {
		timedOut.Store(true)
		d.Cancel()
	})
	return d.AddCallbacks(
		func(v T) (T, error) {
			stop()
			return v, nil
		},
		func(f *failure.Failure) (T, error) {
			stop()
			var zero T
			if timedOut.Load() && errors.Is(f, ErrCancelled) {
				return zero, failure.New(&TimeoutError{After: timeout, Cause: f})
			}
			return zero, f
		})
}
