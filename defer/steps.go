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
	if d.fail == nil {
		v, err := cb(d.result)
		if err != nil {
			d.failWith(err)
		} else {
			d.result = v
		}
	}
	return nil
}

func (eb errbackStep[T]) run(d *Deferred[T]) link {
	if d.fail != nil {
		d.setResult(eb(d.fail))
	}
	return nil
}

func (fn bothStep[T]) run(d *Deferred[T]) link {
	d.setResult(fn(d.result, d.fail))
	return nil
}

func (p *pairStep[T]) run(d *Deferred[T]) link {
	if d.fail == nil {
		v, err := p.cb(d.result)
		if err != nil {
			d.failWith(err)
		} else {
			d.result = v
		}
	} else {
		d.setResult(p.eb(d.fail))
	}
	return nil
}

// add adds a step. On a Deferred that has fired and is idle, the step runs
// at once without being queued or taking the mutex: two compare-and-swaps
// around the call.
func (d *Deferred[T]) add(ln linker[T]) {
	if d.claim() {
		d.release(d.runStep(ln))
		return
	}
	if l := d.push(step[T]{ln: ln}); l != nil {
		drive(l)
	}
}

// claim moves a fired, idle d to running without the mutex and reports
// whether it did; the caller then owns the result and must release d. The
// load first keeps a claim that cannot succeed from costing a locked
// instruction, as a failed compare-and-swap does.
func (d *Deferred[T]) claim() bool {
	return d.st.Load() == sFired && d.st.CompareAndSwap(sFired, sFired|sRunning)
}

// release ends a step run on the fast path, the caller having moved d from
// sFired to sFired|sRunning: it leaves d at rest, or runs next (what the
// step handed off) and the steps added meanwhile.
func (d *Deferred[T]) release(next link) {
	if next == nil && d.fail == nil && d.st.CompareAndSwap(sFired|sRunning, sFired) {
		return
	}
	d.goOn(next)
}

// goOn continues a chain whose runner ran a step outside advance: it runs
// next (what the step handed off) and the steps added meanwhile, or leaves
// d at rest.
func (d *Deferred[T]) goOn(next link) {
	d.mu.Lock()
	if d.next == d.count() || d.paused > 0 {
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
	// Only a fired chain can start; an unfired one waits for its Callback.
	run := d.st.Load()&sFired != 0 && d.startLocked()
	d.mu.Unlock()
	if run {
		return d
	}
	return nil
}

// count is the number of steps in the chain (run or not); under mu, or by
// the runner for a count it read under mu.
func (d *Deferred[T]) count() int32 {
	return int32(d.ninline) + int32(len(d.more))
}

// stepAt returns step i < end of a chain whose later steps are in more, as
// read under mu with end.
func (d *Deferred[T]) stepAt(i int32, more []step[T]) linker[T] {
	if i < int32(len(d.inline)) {
		return d.inline[i].ln
	}
	return more[i-int32(len(d.inline))].ln
}

// moreSteps is the first capacity of more: with inline, room for ten steps.
const moreSteps = 8

func (d *Deferred[T]) appendLocked(st step[T]) {
	if int(d.ninline) < len(d.inline) {
		d.inline[d.ninline] = st
		d.ninline++
	} else {
		if d.more == nil {
			d.more = make([]step[T], 0, moreSteps)
		}
		d.more = append(d.more, st)
	}
	if d.st.Load()&sQueued == 0 {
		d.st.Or(sQueued)
	}
}
