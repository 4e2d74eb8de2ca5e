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
	d.add(t)
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
		var err error
		if u, err = t.cb(v); err != nil {
			var zero U
			u, f = zero, failure.FromFunc(err, t.cb)
		}
	}
	return t.out.receive(d, u, f)
}

// panicked fails out with the Failure of a panic in cb.
func (t *thenLink[T, U]) panicked(f *failure.Failure) link {
	var zero U
	return t.out.receive(nil, zero, f)
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
	d.add(t)
	return &t.out
}

type thenDeferredLink[T, U any] struct {
	out Deferred[U]
	cb  func(T) *Deferred[U]
}

func (t *thenDeferredLink[T, U]) run(d *Deferred[T]) link {
	v, f := d.take()
	var zero U
	if f != nil {
		return t.out.receive(d, zero, f)
	}
	inner := t.cb(v)
	if inner == nil {
		return t.out.receive(d, zero, failure.FromFunc(errNilDeferred, t.cb))
	}
	return t.out.follow(inner)
}

// panicked fails out with the Failure of a panic in cb.
func (t *thenDeferredLink[T, U]) panicked(f *failure.Failure) link {
	var zero U
	return t.out.receive(nil, zero, f)
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
	switch inner := cb(d.result); inner {
	case nil:
		d.failWith(errNilCallbackDeferred, cb)
		return nil
	case d:
		d.failWith(errSelfDeferred, cb)
		return nil
	default:
		return d.waitOn(inner)
	}
}

// Chain makes other fire with d's result when d's chain reaches this step
// (Twisted's chainDeferred); d's chain goes on with the zero value. If other
// has already fired, d's chain goes on with an [ErrAlreadyCalled] Failure.
// Cancelling other does not cancel d. It returns d.
func (d *Deferred[T]) Chain(other *Deferred[T]) *Deferred[T] {
	d.add((*forward[T])(other))
	return d
}

// init prepares a Deferred embedded in a link object; up is what Cancel
// propagates to.
func (d *Deferred[T]) init(up canceller) {
	d.onCancel = up
	if debug.Load() {
		d.rare = &rare{origin: newOrigin()}
	}
}
