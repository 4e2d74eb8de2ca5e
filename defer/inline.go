package deferred

import (
	"errors"
	"iter"
	"sync"
	"sync/atomic"

	"github.com/twistgo/twist/failure"
)

// errHeld is the Failure with which cancelling an Inline Deferred fires it,
// so that Cancel does not errback it: the first step of its chain catches
// it and holds the chain until the body returns (Twisted's
// _InternalInlineCallbacksCancelledError).
var errHeld = errors.New("deferred: Inline held for its body")

// Co is the handle of a running [Inline] body: pass it to [Await]. It
// belongs to that body; use it only from the body's own code.
type Co struct {
	next func() (suspension, bool)
	wait func(suspension) bool
	done finisher

	mu        sync.Mutex
	waitingOn canceller // the unfired Deferred the body is suspended on
	cancelReq bool      // a cancel came while the body was not suspended

	exited bool // the body called runtime.Goexit; its driver's
}

// suspension is an Await whose Deferred had not fired: the body gives it
// to whoever resumed it, who parks the body on it.
type suspension interface {
	park() bool
}

// finisher delivers the body's result to the Inline Deferred and returns
// the Deferred to run next, if any; exited does so for a body that called
// runtime.Goexit.
type finisher interface {
	finish() link
	exited()
}

// Inline runs body as sequential code that waits on Deferreds with
// [Await], and returns a Deferred that fires with what body returns
// (Twisted's inlineCallbacks): an error becomes its Failure, and so does a
// panic, with [failure.Failure.Panicked] true.
//
// The body runs on a goroutine of its own, as a coroutine: whoever runs it
// (the caller of Inline, then whoever fires the Deferred it awaits) is
// blocked while the body runs, and goes on when the body suspends in Await
// on an unfired Deferred or returns. So the body never runs concurrently
// with the code that drove it, as a Python generator never does: on a
// reactor, it runs in the reactor's turn. Inline returns once the body
// first suspends or returns. The returned Deferred fires on the goroutine
// that drove the body to its end.
//
// Cancelling the returned Deferred cancels the Deferred the body is
// suspended on, whose Await then typically returns [ErrCancelled]; if the
// body is running (not suspended), the next Await on an unfired Deferred
// cancels that one at once. Either way the body goes on and may recover:
// the returned Deferred waits for it and fires with what it returns. It
// reports [Deferred.Called] true from the Cancel on.
//
// Cancelling it again, after the body recovered and awaits another
// Deferred, cancels that one: each Cancel reaches what the body awaits at
// the time, as in Twisted.
//
// The body's goroutine lives as long as the body: a body suspended on a
// Deferred that never fires never ends. Fire or cancel what it awaits.
// A body that calls runtime.Goexit (t.FailNow, for one) ends the goroutine
// that resumed it as well; the returned Deferred then fails with
// [ErrGoexit].
func Inline[T any](body func(co *Co) (T, error)) *Deferred[T] {
	r := &inlineRun[T]{}
	r.out.init(nil)
	r.out.onCancel = cancelFunc[T](r.cancel)
	r.out.appendLocked(r) // before out is shared: no lock needed
	r.co.done = r
	r.co.next, _ = iter.Pull(func(yield func(suspension) bool) {
		r.co.wait = yield
		r.v, r.fail = protect(func() (T, error) { return body(&r.co) })
	})
	if r.co.resume() {
		if l := r.finish(); l != nil {
			drive(l)
		}
	}
	return &r.out
}

// inlineRun is the state of an Inline. out comes first, so that the
// Deferred returned is the start of the allocation.
type inlineRun[T any] struct {
	out Deferred[T]
	co  Co

	// The body's result, written by the body before it ends.
	v    T
	fail *failure.Failure

	// Guarded by co.mu, once Cancel has fired out with marker:
	marker  *failure.Failure
	held    bool             // out's chain is paused at its first step, waiting for the body
	pending *inlineResult[T] // the body's result, when it ended before the chain was held
}

type inlineResult[T any] struct {
	v    T
	fail *failure.Failure
}

// resume runs the body until it suspends on an unfired Deferred or ends,
// and reports whether it ended. It is called by whoever drives the body,
// one at a time. A body that calls runtime.Goexit ends the caller's
// goroutine too, after its Inline Deferred has failed with ErrGoexit.
func (co *Co) resume() (ended bool) {
	returned := false
	defer func() {
		if !returned {
			co.exited = true
			co.done.exited()
		}
	}()
	for {
		s, ok := resumeBody(co.next)
		if !ok {
			returned = true
			return true
		}
		if s.park() {
			returned = true
			return false
		}
		// The awaited Deferred fired while the body was suspending.
	}
}

// cancel is out's canceller: it fires out with the marker, so that the
// chain waits for the body, and passes the cancellation on to the body.
func (r *inlineRun[T]) cancel(out *Deferred[T]) {
	marker := failure.New(errHeld)
	r.co.mu.Lock()
	r.marker = marker
	r.co.mu.Unlock()
	if out.Errback(marker) != nil {
		return // the body's result came first
	}
	r.co.cancelAwaited()
}

// cancelAwaited cancels the Deferred the body is suspended on, or, if it
// is running, the next one it awaits.
func (co *Co) cancelAwaited() {
	co.mu.Lock()
	w := co.waitingOn
	co.waitingOn = nil
	if w == nil {
		co.cancelReq = true
	}
	co.mu.Unlock()
	if w != nil {
		w.Cancel()
	}
}

// awaited is a Co seen as what a held Inline Deferred waits on: cancelling
// it again cancels what the body awaits now.
type awaited Co

func (a *awaited) Cancel() { (*Co)(a).cancelAwaited() }

// run is the first step of out's chain. On the marker it holds the chain
// until the body's result arrives, or puts that result in if it has.
func (r *inlineRun[T]) run(d *Deferred[T]) link {
	if d.fail == nil {
		return nil
	}
	r.co.mu.Lock()
	defer r.co.mu.Unlock()
	if d.fail != r.marker {
		return nil
	}
	if r.pending != nil {
		d.result, d.fail = r.pending.v, r.pending.fail
		r.pending = nil
		return nil
	}
	d.take()
	d.holdFor((*awaited)(&r.co))
	r.held = true
	return nil
}

// finish gives the body's result to out: it fires out, or, if Cancel has
// fired it already, resumes its held chain with it.
func (r *inlineRun[T]) finish() link {
	out := &r.out
	v, fail := r.v, r.fail
	var zero T
	r.v, r.fail = zero, nil

	run, err := out.settle(v, fail)
	if err == nil {
		if run {
			return out
		}
		return nil
	}

	r.co.mu.Lock()
	if !r.held {
		r.pending = &inlineResult[T]{v: v, fail: fail}
		r.co.mu.Unlock()
		return nil
	}
	r.held = false
	r.co.mu.Unlock()

	return out.resumeWith(v, fail)
}

// exited finishes out for a body that called runtime.Goexit.
func (r *inlineRun[T]) exited() {
	var zero T
	r.v, r.fail = zero, failure.New(ErrGoexit)
	if l := r.finish(); l != nil {
		drive(l)
	}
}

// Await suspends the body that co belongs to until d fires, and returns
// d's value or its Failure. If d has fired already, Await returns at once,
// without suspending. Await takes d's result: d's chain goes on with the
// zero value, and a Failure returned to the body counts as handled.
//
// Call Await only from the body of the [Inline] that made co. If the
// Inline Deferred was cancelled while the body was not suspended, Await
// cancels an unfired d at once.
func Await[T any](co *Co, d *Deferred[T]) (T, error) {
	a := &awaitStep[T]{co: co}
	d.add(a)
	if a.state.Load() != awaitDelivered {
		co.mu.Lock()
		cancel := co.cancelReq
		co.cancelReq = false
		co.waitingOn = d
		co.mu.Unlock()
		if cancel {
			d.Cancel()
		}
		if a.state.Load() != awaitDelivered {
			co.wait(a)
		}
		co.mu.Lock()
		if co.waitingOn == canceller(d) {
			co.waitingOn = nil
		}
		co.mu.Unlock()
	}
	if a.fail != nil {
		var zero T
		return zero, a.fail
	}
	return a.v, nil
}

// awaitStep is Await's step on the awaited chain.
type awaitStep[T any] struct {
	co    *Co
	state atomic.Int32
	v     T
	fail  *failure.Failure
}

const (
	awaitPending   int32 = iota // the body has not parked on the step
	awaitDelivered              // the result came before the body parked: it picks it up itself
	awaitParked                 // the body is suspended: the step resumes it
)

func (a *awaitStep[T]) run(d *Deferred[T]) link {
	a.v, a.fail = d.take()
	if a.state.CompareAndSwap(awaitPending, awaitDelivered) {
		return nil
	}
	// The body is off d now: a Cancel of the Inline from here on is for
	// its next Await.
	a.co.mu.Lock()
	if a.co.waitingOn == canceller(d) {
		a.co.waitingOn = nil
	}
	a.co.mu.Unlock()
	// The body goes on as a hand-off, not inside this step, so that d's
	// chain is done with the step whatever the body does (even
	// runtime.Goexit, which only the Inline Deferred then reports).
	return (*bodyRun)(a.co)
}

// bodyRun is a Co seen as a chain to run: resuming its body, and handing
// the body's result to the Inline Deferred if it ends.
type bodyRun Co

func (b *bodyRun) runQueued() (link, bool) {
	co := (*Co)(b)
	if co.exited {
		return nil, false // the body called runtime.Goexit: done with it
	}
	if co.resume() {
		return co.done.finish(), false
	}
	return nil, false
}

// park parks the body on a, unless a's result has come meanwhile.
func (a *awaitStep[T]) park() bool {
	return a.state.CompareAndSwap(awaitPending, awaitParked)
}
