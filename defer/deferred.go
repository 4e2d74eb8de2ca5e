package deferred

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/twistgo/twist/failure"
)

// Deferred is a result that is not there yet: a value of type T or a
// [failure.Failure], together with the chain of callbacks and errbacks that
// will process it, as in Twisted.
//
// Steps run in the order they were added, never concurrently with each other.
// A step added to a Deferred that has already fired runs at once, on the
// adding goroutine; a step added from inside a running step runs after that
// step returns. Each step sees the result left by the one before: a callback
// that returns an error switches the chain to the errback path, an errback
// that returns a nil error switches it back, and a panic inside any step
// becomes a Failure (with the stack of the panic site) instead of unwinding
// into the caller of [Deferred.Callback].
//
// A Deferred is safe for concurrent use by multiple goroutines. The zero
// value is not usable: create one with [New], [NewWithCanceller], [Succeed],
// [Fail] or [Execute].
type Deferred[T any] struct {
	// st holds the state bits. The fast path (a step added to a fired,
	// idle Deferred) moves it from exactly sFired to sFired|sRunning and
	// back with compare-and-swap, without the mutex; every other change
	// happens with mu held, atomically, so the fast path sees it.
	st     atomic.Uint32
	paused int32 // Pause depth; under mu
	mu     sync.Mutex

	next       int32 // index of the next step to run
	ninline    uint8 // steps held in inline
	suppress   bool  // Twisted's _suppressAlreadyCalled: eat one late fire after Cancel
	cancelling bool  // Cancel has started; later calls do nothing

	result T
	fail   *failure.Failure

	// The chain's steps: the first two in inline, the others in more, so
	// that a chain of a few steps needs no allocation and a longer one no
	// copy of the first. Steps are appended under mu; entries below the
	// count a runner read under mu do not change until the chain rests.
	inline [2]step[T]
	more   []step[T]

	canceller func(*Deferred[T])
	upstream  canceller // what Cancel propagates to: while unfired, the source of Then or the inner of ThenDeferred; once fired, the inner an AddCallbackDeferred step waits on

	cleanup runtime.Cleanup
	rare    *rare // what few Deferreds need; nil for the others
}

// rare holds the fields of a Deferred that most never use, so that every
// Deferred is smaller. It is set before the Deferred is shared, or under
// its mutex.
type rare struct {
	origin  *origin          // debug mode only; set at creation
	handled *failure.Failure // failure already seen by Wait; written by the chain's runner
}

// The state bits of a Deferred.
const (
	sFired   uint32 = 1 << iota // Callback or Errback happened
	sRunning                    // a goroutine runs the chain; it owns result, fail, next and handoff
	sQueued                     // steps are waiting in steps[next:]
	sPaused                     // paused > 0
	sArmed                      // a cleanup will report fail as unhandled
)

// canceller is any Deferred, whatever its type.
type canceller interface {
	Cancel()
}

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
	d.canceller = canceller
	return d
}

// Succeed returns a Deferred that has already fired with v.
func Succeed[T any](v T) *Deferred[T] {
	d := New[T]()
	d.result = v
	d.st.Store(sFired)
	return d
}

// Fail returns a Deferred that has already failed with err, wrapped in a
// Failure (unless it already is one). Like any Deferred, it reports the
// Failure as unhandled if it is collected before an errback handles it.
func Fail[T any](err error) *Deferred[T] {
	d := New[T]()
	d.mu.Lock()
	_, _ = d.settleLocked(d.result, failure.New(err))
	d.mu.Unlock()
	return d
}

// Execute runs f at once and returns a Deferred with its result: Twisted's
// maybeDeferred. A panic in f becomes a Failure.
func Execute[T any](f func() (T, error)) *Deferred[T] {
	v, fail := protect(f)
	if fail != nil {
		d := New[T]()
		d.mu.Lock()
		_, _ = d.settleLocked(d.result, fail)
		d.mu.Unlock()
		return d
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
		return zero, failure.New(err)
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
// already is one, and runs its chain on the calling goroutine. A nil err
// becomes a Failure of failure.ErrNilError. The errors are Callback's.
func (d *Deferred[T]) Errback(err error) error {
	var zero T
	return d.fire(zero, failure.New(err))
}

func (d *Deferred[T]) fire(v T, f *failure.Failure) error {
	d.mu.Lock()
	run, err := d.settleLocked(v, f)
	d.mu.Unlock()
	if run {
		drive(d)
	}
	return err
}

// settleLocked fires d. It reports whether the caller must run the chain
// (d is then marked running).
func (d *Deferred[T]) settleLocked(v T, f *failure.Failure) (run bool, err error) {
	st := d.st.Load()
	if st&sFired != 0 {
		if d.suppress {
			d.suppress = false
			return false, nil
		}
		return false, d.alreadyCalled()
	}
	// Nobody runs an unfired chain, so result is ours to set.
	d.result, d.fail = v, f
	if d.rare != nil && d.rare.origin != nil {
		d.rare.origin.fired()
	}
	d.upstream = nil
	bits := sFired
	if run = st&(sQueued|sPaused) == sQueued; run {
		bits |= sRunning
	} else if d.armLocked() {
		bits |= sArmed
	}
	d.st.Or(bits)
	return run, nil
}

// startLocked marks d running and reports true when its chain has steps to
// run now and nobody runs it.
func (d *Deferred[T]) startLocked() bool {
	// No fast path can start while sQueued is set, and mu excludes the
	// rest, so the state cannot change between the load and the Or.
	st := d.st.Load()
	if st&(sFired|sRunning|sQueued|sPaused) != sFired|sQueued {
		return false
	}
	d.st.Or(sRunning)
	if st&sArmed != 0 {
		d.st.And(^sArmed)
		d.cleanup.Stop()
	}
	return true
}

// restLocked leaves a running d at rest: consumed steps released, an
// unhandled Failure watched for, and the running bit cleared.
func (d *Deferred[T]) restLocked() {
	if n := d.count(); d.next == n && n > 0 {
		for i := range d.ninline {
			d.inline[i] = step[T]{}
		}
		d.ninline = 0
		d.more = nil
		d.next = 0
	}
	st := sFired
	if d.next < d.count() {
		st |= sQueued
	}
	if d.paused > 0 {
		st |= sPaused
	}
	if d.armLocked() {
		st |= sArmed
	}
	// While sRunning is set, nothing else changes st.
	d.st.Store(st)
}

// armLocked starts watching an unhandled Failure result and reports
// whether it did.
func (d *Deferred[T]) armLocked() bool {
	if d.fail == nil || d.rare != nil && d.fail == d.rare.handled {
		return false
	}
	d.cleanup = runtime.AddCleanup(d, reportUnhandled, d.fail)
	return true
}

// setHandled records that f, the current result, has been seen by Wait;
// called by the chain's runner.
func (d *Deferred[T]) setHandled(f *failure.Failure) {
	if d.rare == nil {
		// Under mu: other goroutines read rare (its origin) under mu.
		d.mu.Lock()
		d.rare = &rare{}
		d.mu.Unlock()
	}
	d.rare.handled = f
}

// Called reports whether the Deferred has fired (or been cancelled).
func (d *Deferred[T]) Called() bool {
	return d.st.Load()&sFired != 0
}

// Pause stops the chain before its next step until a matching
// [Deferred.Unpause]. Pauses nest.
func (d *Deferred[T]) Pause() {
	d.mu.Lock()
	d.paused++
	d.st.Or(sPaused)
	d.mu.Unlock()
}

// Unpause undoes one [Deferred.Pause]; when the last pause is undone, the
// chain goes on, on the calling goroutine. Unpause on a Deferred that is not
// paused does nothing.
func (d *Deferred[T]) Unpause() {
	d.mu.Lock()
	if d.paused > 0 {
		d.paused--
		if d.paused == 0 {
			d.st.And(^sPaused)
		}
	}
	run := d.startLocked()
	d.mu.Unlock()
	if run {
		drive(d)
	}
}

// Cancel asks the operation behind an unfired Deferred to stop, as
// Twisted's Deferred.cancel does:
//   - with a canceller, the canceller runs (once, however often Cancel is
//     called); if it does not fire the Deferred, Cancel errbacks it with
//     [ErrCancelled];
//   - without one, Cancel cancels what the Deferred is waiting on (the source
//     of a [Then], the inner Deferred of a [ThenDeferred]) and errbacks it
//     with [ErrCancelled] if that did not fire it; the first late
//     Callback or Errback is then ignored;
//   - on a Deferred that has fired, Cancel does nothing, unless its chain
//     waits on the Deferred an [Deferred.AddCallbackDeferred] callback
//     returned: Cancel cancels that one.
//
// A panicking canceller fires the Deferred with the panic's Failure.
func (d *Deferred[T]) Cancel() {
	d.mu.Lock()
	if d.st.Load()&sFired != 0 {
		inner := d.upstream
		d.mu.Unlock()
		if inner != nil {
			inner.Cancel()
		}
		return
	}
	if d.cancelling {
		d.mu.Unlock()
		return
	}
	d.cancelling = true
	cancel, up := d.canceller, d.upstream
	if cancel == nil {
		d.suppress = true
	}
	d.mu.Unlock()

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
	var zero T
	d.mu.Lock()
	run := false
	if d.st.Load()&sFired == 0 {
		run, _ = d.settleLocked(zero, fail)
	} else if fail.Panicked() {
		d.mu.Unlock()
		reportUnhandled(fail)
		return
	}
	d.mu.Unlock()
	if run {
		drive(d)
	}
}

func callCanceller[T any](cancel func(*Deferred[T]), d *Deferred[T]) (fail *failure.Failure) {
	defer func() {
		if r := recover(); r != nil {
			fail = failure.FromPanic(r)
		}
	}()
	cancel(d)
	return nil
}
