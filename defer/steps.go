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
func (d *Deferred[T]) count() int32 { return d.n }

// stepBlock holds eight of the steps beyond the inline ones. The blocks of
// a chain form a ring: d.more is the last, whose next is the first, so
// that both ends are at hand.
type stepBlock[T any] struct {
	steps [blockSteps]step[T]
	next  *stepBlock[T]
}

// inlineSteps is how many steps a Deferred holds in itself.
const inlineSteps = 2

// blockSteps is the capacity of a block: with inline, room for ten steps
// in the first.
const blockSteps = 8

// firstBlock returns the first block of steps, or nil; under the lock.
func (d *Deferred[T]) firstBlock() *stepBlock[T] {
	if d.more == nil {
		return nil
	}
	return d.more.next
}

// dropRunBlocks drops the blocks whose steps have all run, so that a
// runner finds its next step in the first block; under the lock, by the
// runner. The indexes of the steps left move down with them.
func (d *Deferred[T]) dropRunBlocks() {
	for d.more != nil && d.more.next != d.more && d.next >= int32(len(d.inline))+blockSteps {
		d.more.next = d.more.next.next
		d.next -= blockSteps
		d.n -= blockSteps
	}
}

// stepCursor finds the steps of a batch in its blocks, in order.
type stepCursor[T any] struct {
	blk *stepBlock[T]
	off int
}

// at returns step i, beyond the inline ones, of a chain whose first block
// is first; i is the step after the one at returned last, if any.
func (c *stepCursor[T]) at(i int32, first *stepBlock[T]) linker[T] {
	switch {
	case c.blk == nil:
		k := int(i) - inlineSteps
		c.blk = first
		for ; k >= blockSteps; k -= blockSteps {
			c.blk = c.blk.next
		}
		c.off = k
	case c.off == blockSteps:
		c.blk, c.off = c.blk.next, 0
	}
	s := c.blk.steps[c.off].ln
	c.off++
	return s
}

// appendLocked appends s; under the lock.
func (d *Deferred[T]) appendLocked(s linker[T]) {
	if n := d.n; n < int32(len(d.inline)) {
		d.inline[n] = step[T]{ln: s}
		d.n++
		return
	}
	d.appendMore(s)
}

// appendMore is appendLocked once the inline steps are taken.
//
//go:noinline
func (d *Deferred[T]) appendMore(s linker[T]) {
	k := int(d.n-int32(len(d.inline))) % blockSteps
	if k == 0 {
		b := &stepBlock[T]{}
		if last := d.more; last == nil {
			b.next = b
		} else {
			b.next, last.next = last.next, b
		}
		d.more = b
	}
	d.more.steps[k] = step[T]{ln: s}
	d.n++
}
