package deferred

import "github.com/twistgo/twist/failure"

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
