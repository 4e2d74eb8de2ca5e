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
	st atomic.Uint32
	mu sync.Mutex

	paused     int32 // Pause depth; under mu
	suppress   bool  // Twisted's _suppressAlreadyCalled: eat one late fire after Cancel
	cancelling bool  // Cancel has started; later calls do nothing

	result T
	fail   *failure.Failure

	steps  []step[T]
	next   int // index of the next step to run
	inline [2]step[T]

	canceller func(*Deferred[T])
	upstream  canceller // what Cancel propagates to while unfired (the source of Then, the inner of ThenDeferred)

	// Fields below are written only by the goroutine running the chain.
	handoff link             // Deferred fired by an internal step, to run next
	handled *failure.Failure // failure already seen by Wait

	cleanup runtime.Cleanup
	origin  *origin // debug mode only
}

// The state bits of a Deferred.
const (
	sFired   uint32 = 1 << iota // Callback or Errback happened
	sRunning                    // a goroutine runs the chain; it owns result, fail, next and handoff
	sQueued                     // steps are waiting in steps[next:]
	sPaused                     // paused > 0
	sArmed                      // a cleanup will report fail as unhandled
)

// step is one entry of the chain. Every kind of step (a callback, an
// errback, both, or an internal step of Then, Chain, Wait, ...) is a
// linker; callbacks are stored as func-typed linkers, which costs no
// allocation.
type step[T any] struct {
	ln linker[T]
}

// linker runs one step: it reads and may replace d's current result, and an
// internal step may set d.handoff.
type linker[T any] interface {
	run(d *Deferred[T])
}

// canceller is any Deferred, whatever its type.
type canceller interface {
	Cancel()
}

// New returns an unfired Deferred with no canceller: [Deferred.Cancel]
// errbacks it with [ErrCancelled].
func New[T any]() *Deferred[T] {
	d := &Deferred[T]{}
	if debug.Load() {
		d.origin = newOrigin()
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
	if d.origin != nil {
		d.origin.fired()
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
	if d.next == len(d.steps) && d.next > 0 {
		clear(d.steps)
		d.steps = d.steps[:0]
		d.next = 0
	}
	st := sFired
	if d.next < len(d.steps) {
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
	if d.fail == nil || d.fail == d.handled {
		return false
	}
	d.cleanup = runtime.AddCleanup(d, reportUnhandled, d.fail)
	return true
}

// AddCallbacks adds a step to the chain: cb runs if the chain is on its
// success path when the step is reached, eb if it is on its failure path.
// A nil cb or eb passes the result through unchanged. If the Deferred has
// already fired and is not paused, the step runs at once on the calling
// goroutine. It returns d, so calls can be chained.
func (d *Deferred[T]) AddCallbacks(cb func(T) (T, error), eb func(*failure.Failure) (T, error)) *Deferred[T] {
	switch {
	case eb == nil && cb == nil:
	case eb == nil:
		d.add(callbackStep[T](cb))
	case cb == nil:
		d.add(errbackStep[T](eb))
	default:
		d.add(&pairStep[T]{cb: cb, eb: eb})
	}
	return d
}

// AddCallback adds a step that runs cb on the success path (and passes a
// Failure through).
func (d *Deferred[T]) AddCallback(cb func(T) (T, error)) *Deferred[T] {
	return d.AddCallbacks(cb, nil)
}

// AddErrback adds a step that runs eb on the failure path (and passes a
// value through). An errback handles the Failure by returning a nil error,
// or passes it on by returning it (see [failure.Failure.Trap]).
func (d *Deferred[T]) AddErrback(eb func(*failure.Failure) (T, error)) *Deferred[T] {
	return d.AddCallbacks(nil, eb)
}

// AddBoth adds a step that runs fn on either path: fn receives the value
// and a nil Failure, or the zero value and the Failure.
func (d *Deferred[T]) AddBoth(fn func(T, *failure.Failure) (T, error)) *Deferred[T] {
	if fn != nil {
		d.add(bothStep[T](fn))
	}
	return d
}

type (
	callbackStep[T any] func(T) (T, error)
	errbackStep[T any]  func(*failure.Failure) (T, error)
	bothStep[T any]     func(T, *failure.Failure) (T, error)
	pairStep[T any]     struct {
		cb func(T) (T, error)
		eb func(*failure.Failure) (T, error)
	}
)

func (cb callbackStep[T]) run(d *Deferred[T]) {
	if d.fail == nil {
		d.setResult(cb(d.result))
	}
}

func (eb errbackStep[T]) run(d *Deferred[T]) {
	if d.fail != nil {
		d.setResult(eb(d.fail))
	}
}

func (fn bothStep[T]) run(d *Deferred[T]) {
	d.setResult(fn(d.result, d.fail))
}

func (p *pairStep[T]) run(d *Deferred[T]) {
	if d.fail == nil {
		d.setResult(p.cb(d.result))
	} else {
		d.setResult(p.eb(d.fail))
	}
}

// add adds a step. On a Deferred that has fired and is idle, the step runs
// at once without being queued or taking the mutex: two compare-and-swaps
// around the call.
func (d *Deferred[T]) add(ln linker[T]) {
	if d.st.CompareAndSwap(sFired, sFired|sRunning) {
		d.runStep(ln)
		if d.handoff == nil && d.fail == nil && d.st.CompareAndSwap(sFired|sRunning, sFired) {
			return
		}
		d.goOn()
		return
	}
	if l := d.push(step[T]{ln: ln}); l != nil {
		drive(l)
	}
}

// goOn continues a chain whose runner ran a step outside advance: it runs
// what the step handed off and the steps added meanwhile, or leaves d at
// rest.
func (d *Deferred[T]) goOn() {
	next := d.handoff
	d.handoff = nil
	d.mu.Lock()
	if d.next == len(d.steps) || d.paused > 0 {
		d.restLocked()
		d.mu.Unlock()
		if next != nil {
			drive(next)
		}
		return
	}
	d.mu.Unlock()
	if next != nil {
		driveAfter(next, d)
		return
	}
	drive(d)
}

// push appends st and returns d if the caller must now run the chain.
func (d *Deferred[T]) push(st step[T]) link {
	d.mu.Lock()
	d.appendLocked(st)
	run := d.startLocked()
	d.mu.Unlock()
	if run {
		return d
	}
	return nil
}

func (d *Deferred[T]) appendLocked(st step[T]) {
	if d.steps == nil {
		d.steps = d.inline[:0]
	} else if len(d.steps) == cap(d.steps) {
		grown := make([]step[T], len(d.steps), max(16, 2*cap(d.steps)))
		copy(grown, d.steps)
		d.steps = grown
	}
	d.steps = append(d.steps, st)
	if d.st.Load()&sQueued == 0 {
		d.st.Or(sQueued)
	}
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
//   - on a Deferred that has fired, Cancel does nothing.
//
// A panicking canceller fires the Deferred with the panic's Failure.
func (d *Deferred[T]) Cancel() {
	d.mu.Lock()
	if d.st.Load()&sFired != 0 || d.cancelling {
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

// link is a Deferred of any type, as seen by [drive].
type link interface {
	// advance runs the chain until it ends, pauses, or an internal step
	// fires another Deferred that must run first. It returns that Deferred
	// and whether this chain still has steps to run after it.
	advance() (next link, more bool)
}

// drive runs a chain and every chain its steps fire, iteratively: a step
// that fires another Deferred suspends its own chain on an explicit stack
// instead of recursing, so 100 000 nested Deferreds do not grow the
// goroutine's stack (Twisted's _runCallbacks keeps the same stack).
func drive(l link) {
	driveAfter(l, nil)
}

// driveAfter runs l, then resume (a chain that is still running), if any.
func driveAfter(l, resume link) {
	var stack []link
	if resume != nil {
		stack = append(stack, resume)
	}
	for {
		next, more := l.advance()
		if next != nil {
			if more {
				stack = append(stack, l)
			}
			l = next
			continue
		}
		if len(stack) == 0 {
			return
		}
		l = stack[len(stack)-1]
		stack[len(stack)-1] = nil
		stack = stack[:len(stack)-1]
	}
}

func (d *Deferred[T]) advance() (link, bool) {
	d.mu.Lock()
	for {
		if d.next == len(d.steps) || d.paused > 0 {
			d.restLocked()
			d.mu.Unlock()
			return nil, false
		}
		// Steps appended meanwhile go to a new slice or beyond end: the
		// entries up to end stay as they are.
		steps, end := d.steps, len(d.steps)
		d.mu.Unlock()
		d.runSteps(steps[:end])
		if d.handoff != nil {
			return d.handOff()
		}
		d.mu.Lock()
	}
}

// runSteps runs steps[d.next:] until one hands off or pauses the chain.
// A panic in a step becomes the result's Failure, and the steps after it
// run on the next call; one deferred recover serves the whole batch.
func (d *Deferred[T]) runSteps(steps []step[T]) {
	returned := false
	defer func() {
		if !returned {
			d.recovered(recover())
		}
	}()
	for d.next < len(steps) {
		ln := steps[d.next].ln
		d.next++
		ln.run(d)
		if d.handoff != nil || d.st.Load()&sPaused != 0 {
			break
		}
	}
	returned = true
}

// handOff returns the Deferred a step fired, to be run before the rest of
// d's chain, and whether d has a rest.
func (d *Deferred[T]) handOff() (link, bool) {
	next := d.handoff
	d.handoff = nil
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.next == len(d.steps) || d.paused > 0 {
		d.restLocked()
		return next, false
	}
	return next, true
}

// runStep runs one step on the current result; a panic becomes the new
// result's Failure.
func (d *Deferred[T]) runStep(ln linker[T]) {
	returned := false
	defer func() {
		if !returned {
			d.recovered(recover())
		}
	}()
	ln.run(d)
	returned = true
}

// recovered makes a panic's value the current result's Failure.
func (d *Deferred[T]) recovered(r any) {
	var zero T
	d.result, d.fail = zero, failure.FromPanic(r)
}

func (d *Deferred[T]) setResult(v T, err error) {
	if err != nil {
		var zero T
		d.result, d.fail = zero, failure.New(err)
		return
	}
	d.result, d.fail = v, nil
}

// take removes the current result from d, leaving the zero value, so that a
// Failure that moved on is not reported twice. Called by the running
// goroutine.
func (d *Deferred[T]) take() (T, *failure.Failure) {
	var zero T
	v, f := d.result, d.fail
	d.result, d.fail = zero, nil
	return v, f
}
