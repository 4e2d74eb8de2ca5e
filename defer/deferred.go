package deferred

import (
	"runtime"

	"github.com/twistgo/twist/failure"
)

// Deferred is a result that is not there yet: a value of type T or a
// [failure.Failure], together with the chain of callbacks and errbacks that
// will process it, as in Twisted.
//
// Steps run in the order they were added, never concurrently with each other.
// A step added to a Deferred that has already fired runs at once, on the
// adding goroutine, before the Add call returns; a step added from inside a
// running step of the same Deferred runs after that step returns. Each step
// sees the result left by the one before: a callback that returns an error
// switches the chain to the errback path, an errback that returns a nil
// error switches it back, and a panic inside any step becomes a Failure
// (with the stack of the panic site) instead of unwinding into the caller of
// [Deferred.Callback]. A step that calls runtime.Goexit (t.FailNow does)
// ends its goroutine all the same, but leaves a Failure of [ErrGoexit] as
// the result, and the rest of the chain runs as the goroutine unwinds.
//
// A Deferred is safe for concurrent use by multiple goroutines. The zero
// value is not usable: create one with [New], [NewWithCanceller], [Succeed],
// [Fail] or [Execute].
type Deferred[T any] struct {
	st state // the state word: see run.go

	n        int32 // steps in the chain, run or not; under the lock
	next     int32 // index of the next step to run; the runner's
	ready    uint8 // inline steps a new runner may run without the lock; the runner's
	suppress bool  // Twisted's _suppressAlreadyCalled: eat one late fire after Cancel; under the lock
	result   T     // the runner's
	fail     *failure.Failure

	// The chain's steps: the first two in inline, the others in blocks of
	// eight (see stepBlock), so that a chain of a few steps needs no
	// allocation, a longer one no copy, and a Deferred fits in 96 bytes.
	// Steps are appended under the lock; entries below the count a runner
	// read under the lock do not change until the chain rests.
	inline [inlineSteps]step[T]
	more   *stepBlock[T] // the last block, which links to the first

	// onCancel is what Cancel does, under the lock: while unfired, a
	// cancelFunc (NewWithCanceller's), or the canceller Cancel passes on
	// to: the source of a Then or ThenDeferred, the inner a ThenDeferred
	// follows, a combinator's inputs. Once fired, what a held chain waits
	// on: the inner of an AddCallbackDeferred step, an Inline body's
	// Await.
	onCancel any

	rare *rare // what few Deferreds need; under the lock
}

// rare holds the fields of a Deferred that most never use, so that every
// Deferred is smaller.
type rare struct {
	origin  *origin          // debug mode only; set at creation
	cleanup runtime.Cleanup  // the unhandled-failure report while stArmed is set
	seen    *failure.Failure // the Failure Wait returned: handled
}

// canceller is any Deferred, whatever its type, or anything else Cancel
// passes on to.
type canceller interface {
	Cancel()
}

// cancelFunc is the canceller function given to NewWithCanceller.
type cancelFunc[T any] func(*Deferred[T])

// New returns an unfired Deferred with no canceller: [Deferred.Cancel]
// errbacks it with [ErrCancelled].
func New[T any]() *Deferred[T] {
	d := &Deferred[T]{}
	if debug.Load() {
		d.rare = &rare{origin: newOrigin()}
	}
	return d
}

// NewWithCanceller returns an unfired Deferred whose [Deferred.Cancel] calls
// canceller (once) to abort the operation behind it. The canceller may fire
// the Deferred itself; if it does not, Cancel errbacks it with [ErrCancelled].
func NewWithCanceller[T any](canceller func(*Deferred[T])) *Deferred[T] {
	d := New[T]()
	if canceller != nil {
		d.onCancel = cancelFunc[T](canceller)
	}
	return d
}

// Succeed returns a Deferred that has already fired with v.
func Succeed[T any](v T) *Deferred[T] {
	if debug.Load() {
		d := New[T]()
		d.result = v
		if d.rare != nil {
			d.rare.fired()
		}
		d.st.Store(stFired)
		return d
	}
	// Not shared yet: the state word needs no atomic store.
	return &Deferred[T]{st: state(stFired), result: v}
}

// Fail returns a Deferred that has already failed with err, wrapped in a
// Failure (unless it already is one) that records the stack of Fail's
// caller. Like any Deferred, it reports the Failure as unhandled if it is
// collected before an errback handles it.
func Fail[T any](err error) *Deferred[T] {
	return failed[T](failure.New(err))
}

func failed[T any](f *failure.Failure) *Deferred[T] {
	d := New[T]()
	_, _ = d.settle(d.result, f)
	return d
}

// Execute runs f at once and returns a Deferred with its result: Twisted's
// maybeDeferred. A panic in f becomes a Failure.
func Execute[T any](f func() (T, error)) *Deferred[T] {
	v, fail := protect(f)
	if fail != nil {
		return failed[T](fail)
	}
	return Succeed(v)
}

// protect calls f, turning an error or a panic into a Failure.
func protect[T any](f func() (T, error)) (v T, fail *failure.Failure) {
	defer func() {
		if r := recover(); r != nil {
			var zero T
			v, fail = zero, failure.FromPanic(r)
		}
	}()
	v, err := f()
	if err != nil {
		var zero T
		return zero, failure.FromFunc(err, f)
	}
	return v, nil
}

// Callback fires the Deferred with v and runs its chain on the calling
// goroutine. It returns [ErrAlreadyCalled] if the Deferred has already
// fired, except that the first late call after a Cancel of a Deferred
// without a canceller is ignored (Twisted's rule).
func (d *Deferred[T]) Callback(v T) error {
	return d.fire(v, nil)
}

// Errback fires the Deferred with err, wrapped in a Failure unless it
// already is one (recording the stack of Errback's caller), and runs its
// chain on the calling goroutine. A nil err becomes a Failure of
// failure.ErrNilError. The errors are Callback's.
func (d *Deferred[T]) Errback(err error) error {
	var zero T
	return d.fire(zero, failure.New(err))
}

// Called reports whether the Deferred has fired, or been cancelled: it is
// true from the moment Cancel begins, while the canceller runs.
func (d *Deferred[T]) Called() bool {
	return d.st.Load()&(stFired|stCancelled) != 0
}

// Pause stops the chain before its next step until a matching
// [Deferred.Unpause]. Pauses nest, up to a depth of 16 million (Pause
// panics beyond it).
func (d *Deferred[T]) Pause() {
	d.unlock(pauseLocked(d.lock()))
}

// Unpause undoes one [Deferred.Pause]; when the last pause is undone, the
// chain goes on, on the calling goroutine. Unpause on a Deferred that is not
// paused does nothing.
func (d *Deferred[T]) Unpause() {
	if d.startLocked(unpauseLocked(d.lock())) {
		drive(d)
	}
}

// Cancel asks the operation behind an unfired Deferred to stop, as
// Twisted's Deferred.cancel does:
//   - with a canceller, the canceller runs (once, however often Cancel is
//     called); if it does not fire the Deferred, Cancel errbacks it with
//     [ErrCancelled];
//   - without one, Cancel cancels what the Deferred is waiting on (the source
//     of a [Then], the inner Deferred of a [ThenDeferred], the inputs of a
//     combinator) and errbacks it with [ErrCancelled] if that did not fire
//     it; the first late Callback or Errback is then ignored;
//   - on a Deferred that has fired, Cancel does nothing, unless its chain
//     waits on something: the Deferred an [Deferred.AddCallbackDeferred]
//     callback returned, or what the body of an [Inline] awaits now. Cancel
//     cancels that.
//
// A panicking canceller fires the Deferred with the panic's Failure.
// [Deferred.Called] reports true from the moment Cancel begins.
func (d *Deferred[T]) Cancel() {
	st := d.lock()
	if st&stFired != 0 {
		up, _ := d.onCancel.(canceller)
		d.unlock(st)
		if up != nil {
			up.Cancel()
		}
		return
	}
	if st&stCancelled != 0 {
		d.unlock(st)
		return
	}
	cancel, _ := d.onCancel.(cancelFunc[T])
	up, _ := d.onCancel.(canceller)
	if cancel == nil {
		d.suppress = true
	}
	d.unlock(st | stCancelled)

	var fail *failure.Failure
	switch {
	case cancel != nil:
		fail = callCanceller(cancel, d)
	case up != nil:
		up.Cancel()
	}
	if fail == nil {
		fail = failure.New(ErrCancelled)
	}
	st = d.lock()
	if st&stFired != 0 {
		d.unlock(st)
		if fail.Panicked() {
			reportUnhandled(fail)
		}
		return
	}
	var zero T
	if d.settleLocked(st, zero, fail) {
		drive(d)
	}
}

// callCanceller runs cancel, returning the Failure of a panic in it, or of
// ErrGoexit if it calls runtime.Goexit (d is then fired with that Failure
// as the goroutine unwinds).
func callCanceller[T any](cancel cancelFunc[T], d *Deferred[T]) (fail *failure.Failure) {
	done := false
	defer func() {
		if done {
			return
		}
		if r := recover(); r != nil {
			fail = failure.FromPanic(r)
			return
		}
		if d.st.Load()&stFired == 0 {
			var zero T
			_ = d.fire(zero, failure.New(ErrGoexit))
		}
	}()
	cancel(d)
	done = true
	return nil
}
