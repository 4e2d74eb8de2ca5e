package deferred

import "github.com/twistgo/twist/failure"

// step is one entry of the chain. Every kind of step (a callback, an
// errback, both, or an internal step of Then, Chain, Wait, ...) is a
// linker; callbacks are stored as func-typed linkers, which costs no
// allocation.
type step[T any] struct {
	ln linker[T]
}

// linker runs one step: it reads and may replace d's current result. An
// internal step that fires another Deferred returns it if that Deferred's
// chain is to run before the rest of d's (see [drive]); others return nil.
type linker[T any] interface {
	run(d *Deferred[T]) link
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
	if cb != nil {
		d.add(callbackStep[T](cb))
	}
	return d
}

// AddErrback adds a step that runs eb on the failure path (and passes a
// value through). An errback handles the Failure by returning a nil error,
// or passes it on by returning it (see [failure.Failure.Trap]).
func (d *Deferred[T]) AddErrback(eb func(*failure.Failure) (T, error)) *Deferred[T] {
	if eb != nil {
		d.add(errbackStep[T](eb))
	}
	return d
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

func (cb callbackStep[T]) run(d *Deferred[T]) link {
	cb.call(d)
	return nil
}

// call is run, called directly by the runner.
func (cb callbackStep[T]) call(d *Deferred[T]) {
	if d.fail == nil {
		v, err := cb(d.result)
		if err != nil {
			d.failWith(err, cb)
			return
		}
		d.result = v
	}
}

func (eb errbackStep[T]) run(d *Deferred[T]) link {
	eb.call(d)
	return nil
}

// call is run, called directly by the runner.
func (eb errbackStep[T]) call(d *Deferred[T]) {
	if d.fail != nil {
		v, err := eb(d.fail)
		if err != nil {
			d.failWith(err, eb)
			return
		}
		d.result, d.fail = v, nil
	}
}

func (fn bothStep[T]) run(d *Deferred[T]) link {
	v, err := fn(d.result, d.fail)
	d.setResult(v, err, fn)
	return nil
}

func (p *pairStep[T]) run(d *Deferred[T]) link {
	if d.fail == nil {
		v, err := p.cb(d.result)
		d.setResult(v, err, p.cb)
	} else {
		v, err := p.eb(d.fail)
		d.setResult(v, err, p.eb)
	}
	return nil
}

// setResult makes what step fn returned the current result.
func (d *Deferred[T]) setResult(v T, err error, fn any) {
	if err != nil {
		d.failWith(err, fn)
		return
	}
	d.result = v
	if d.fail != nil { // skip the store, and its write barrier, on the success path
		d.fail = nil
	}
}

// failWith makes err, returned by step fn, the current result. An error
// that is not a Failure yet becomes one that records fn, which is cheap
// (see [failure.FromFunc]); in debug mode it records the stack as well.
func (d *Deferred[T]) failWith(err error, fn any) {
	var zero T
	d.result = zero
	if f, ok := err.(*failure.Failure); ok && f != nil {
		d.fail = f
		return
	}
	if debug.Load() {
		d.fail = failure.New(err)
		return
	}
	d.fail = failure.FromFunc(err, fn)
}

// count is the number of steps in the chain (run or not); under the lock,
// or by the runner for a count it read under the lock.
func (d *Deferred[T]) count() int32 {
	return int32(d.ninline) + int32(len(d.more))
}

// stepAt returns step i < end of a chain whose later steps are in more, as
// read under the lock with end.
func (d *Deferred[T]) stepAt(i int32, more []step[T]) linker[T] {
	if i < int32(len(d.inline)) {
		return d.inline[i].ln
	}
	return more[i-int32(len(d.inline))].ln
}

// moreSteps is the first capacity of more: with inline, room for ten steps.
const moreSteps = 8

// appendLocked appends s; under the lock.
func (d *Deferred[T]) appendLocked(s linker[T]) {
	if int(d.ninline) < len(d.inline) {
		d.inline[d.ninline] = step[T]{ln: s}
		d.ninline++
		return
	}
	if d.more == nil {
		d.more = make([]step[T], 0, moreSteps)
	}
	d.more = append(d.more, step[T]{ln: s})
}
