package deferred

import (
	"errors"

	"github.com/twistgo/twist/failure"
)

// errNilDeferred is the Failure of a ThenDeferred whose callback returned a
// nil Deferred.
var errNilDeferred = errors.New("deferred: ThenDeferred callback returned a nil *Deferred")

// Then returns a Deferred that fires with cb's result once d has fired with
// a value, or with d's Failure (cb is then not called): a step that changes
// the chain's type. d's own chain goes on with the zero value, its result
// having moved on. Cancelling the returned Deferred before it fires cancels
// d. A panic in cb becomes the returned Deferred's Failure.
func Then[T, U any](d *Deferred[T], cb func(T) (U, error)) *Deferred[U] {
	t := &thenLink[T, U]{cb: cb}
	t.out.init(d)
	if l := d.push(step[T]{ln: t}); l != nil {
		drive(l)
	}
	return &t.out
}

// thenLink is Then's step on the source chain; it holds the Deferred it
// fires, so a Then costs one allocation.
type thenLink[T, U any] struct {
	out Deferred[U]
	cb  func(T) (U, error)
}

func (t *thenLink[T, U]) run(d *Deferred[T]) link {
	v, f := d.take()
	var u U
	if f == nil {
		u, f = protect(func() (U, error) { return t.cb(v) })
	}
	return t.out.receive(d, u, f)
}

// ThenDeferred returns a Deferred that, once d has fired with a value,
// fires with the result of the Deferred that cb returns: the chain waits on
// it, as when a Twisted callback returns a Deferred. If d fails, cb is not
// called and the Failure moves on. The inner Deferred's result moves to the
// returned one, leaving the inner empty (its later steps see the zero value,
// and its Failure is not reported twice). Cancelling the returned Deferred
// cancels d before cb has run, and the inner Deferred while waiting on it.
func ThenDeferred[T, U any](d *Deferred[T], cb func(T) *Deferred[U]) *Deferred[U] {
	t := &thenDeferredLink[T, U]{cb: cb}
	t.out.init(d)
	if l := d.push(step[T]{ln: t}); l != nil {
		drive(l)
	}
	return &t.out
}

type thenDeferredLink[T, U any] struct {
	out Deferred[U]
	cb  func(T) *Deferred[U]
}

func (t *thenDeferredLink[T, U]) run(d *Deferred[T]) link {
	v, f := d.take()
	if f != nil {
		var zero U
		return t.out.receive(d, zero, f)
	}
	inner, f := protect(func() (*Deferred[U], error) {
		inner := t.cb(v)
		if inner == nil {
			return nil, errNilDeferred
		}
		return inner, nil
	})
	if f != nil {
		var zero U
		return t.out.receive(d, zero, f)
	}
	return t.out.follow(inner)
}

// errNilCallbackDeferred and errSelfDeferred are the Failures of an
// AddCallbackDeferred callback that returned a nil Deferred, or the one
// whose chain it runs in (which would wait on itself forever).
var (
	errNilCallbackDeferred = errors.New("deferred: AddCallbackDeferred callback returned a nil *Deferred")
	errSelfDeferred        = errors.New("deferred: AddCallbackDeferred callback returned the Deferred it was added to")
)

// AddCallbackDeferred adds a step that runs cb on the success path (and
// passes a Failure through) and waits on the Deferred cb returns, in d's
// own chain: d's later steps run once that inner Deferred has fired, with
// its result, value or Failure. This is a Twisted callback that returns a
// Deferred. The inner's result moves to d, leaving the inner empty (its
// later steps see the zero value, and its Failure is not reported twice);
// an inner that has fired already gives its result at once. Cancelling d
// while it waits cancels the inner. A nil inner, or d itself, becomes a
// Failure. Unlike [ThenDeferred], it makes no new Deferred: use it when the
// type stays the same. It returns d.
func (d *Deferred[T]) AddCallbackDeferred(cb func(T) *Deferred[T]) *Deferred[T] {
	if cb != nil {
		d.add(callbackDeferredStep[T](cb))
	}
	return d
}

type callbackDeferredStep[T any] func(T) *Deferred[T]

func (cb callbackDeferredStep[T]) run(d *Deferred[T]) link {
	if d.fail != nil {
		return nil
	}
	inner := cb(d.result)
	switch {
	case inner == nil:
		d.failWith(errNilCallbackDeferred)
		return nil
	case inner == d:
		d.failWith(errSelfDeferred)
		return nil
	}
	// Fired, idle and unarmed, the usual case: take the result as a
	// fast-path step would, and go on at once.
	if inner.claim() {
		v, f := inner.take()
		inner.release(nil)
		d.result = v
		if f != nil {
			d.fail = f
		}
		return nil
	}
	// Otherwise pause d, Cancel's target being the inner, until the step
	// added to the inner hands its result over and unpauses d.
	var zero T
	d.result = zero
	d.mu.Lock()
	d.paused++
	d.st.Or(sPaused)
	d.upstream = inner
	d.mu.Unlock()
	return inner.push(step[T]{ln: (*resumeWaiting[T])(d)})
}

// resumeWaiting is a Deferred paused by an AddCallbackDeferred step, seen
// as the step on the inner's chain that gives it the inner's result.
type resumeWaiting[T any] Deferred[T]

func (r *resumeWaiting[T]) run(inner *Deferred[T]) link {
	v, f := inner.take()
	return (*Deferred[T])(r).resumeHeld(v, f)
}

// Chain makes other fire with d's result when d's chain reaches this step
// (Twisted's chainDeferred); d's chain goes on with the zero value. If other
// has already fired, d's chain goes on with an [ErrAlreadyCalled] Failure.
// Cancelling other does not cancel d. It returns d.
func (d *Deferred[T]) Chain(other *Deferred[T]) *Deferred[T] {
	if l := d.push(step[T]{ln: (*forwardTo[T])(other)}); l != nil {
		drive(l)
	}
	return d
}

// init prepares a Deferred embedded in a link object; up is what Cancel
// propagates to.
func (d *Deferred[T]) init(up canceller) {
	d.upstream = up
	if debug.Load() {
		d.rare = &rare{origin: newOrigin()}
	}
}

// receive fires d with a result moved from src's chain and returns d if it
// is to run next. A result d cannot take (it has fired already) stays in src
// as an ErrAlreadyCalled Failure, so nothing is lost silently.
func (d *Deferred[T]) receive(src interface{ keep(*failure.Failure) }, v T, f *failure.Failure) link {
	d.mu.Lock()
	run, err := d.settleLocked(v, f)
	d.mu.Unlock()
	if err != nil {
		src.keep(failure.New(err))
		return nil
	}
	if run {
		return d
	}
	return nil
}

// keep sets the current result of a running chain to f.
func (d *Deferred[T]) keep(f *failure.Failure) {
	var zero T
	d.result, d.fail = zero, f
}

// follow makes d (unfired) take inner's result once inner's chain has run,
// and returns the Deferred to run next, if any. An inner that has fired and
// is at rest gives its result up at once.
func (d *Deferred[T]) follow(inner *Deferred[T]) link {
	// Fired, idle and unarmed, the usual case: take the result as a
	// fast-path step would, without locking, and without making inner
	// d's upstream, which it would be for no longer than this call.
	if inner.claim() {
		v, f := inner.take()
		if !inner.st.CompareAndSwap(sFired|sRunning, sFired) {
			inner.goOn(nil) // steps came meanwhile
		}
		return d.receive(inner, v, f)
	}

	d.mu.Lock()
	if d.st.Load()&sFired == 0 {
		d.upstream = inner
	}
	d.mu.Unlock()

	inner.mu.Lock()
	st := inner.st.Load()
	if st&(sFired|sRunning|sQueued|sPaused) == sFired && inner.st.CompareAndSwap(st, st|sRunning) {
		if st&sArmed != 0 {
			inner.cleanup.Stop()
		}
		v, f := inner.take()
		inner.st.Store(sFired)
		inner.mu.Unlock()
		return d.receive(inner, v, f)
	}
	inner.appendLocked(step[T]{ln: (*forwardTo[T])(d)})
	run := inner.startLocked()
	inner.mu.Unlock()
	if run {
		return inner
	}
	return nil
}

// forwardTo is a Deferred seen as the step that fires it with the result of
// the chain it is added to (Chain, and ThenDeferred's wait on its inner).
type forwardTo[T any] Deferred[T]

func (to *forwardTo[T]) run(d *Deferred[T]) link {
	v, f := d.take()
	return (*Deferred[T])(to).receive(d, v, f)
}
