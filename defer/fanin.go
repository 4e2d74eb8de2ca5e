package deferred

import (
	"sync/atomic"

	"github.com/twistgo/twist/failure"
)

// fanIn is the one mechanism under All, List and Race: every input reports
// once, when its chain reaches the step the fan-in added (or at once, if it
// rests fired), and the output fires once, early when a policy says so (the
// first failure of All, the first success of Race) or when every input has
// reported. The cancel rules are the same for all three, Twisted's
// DeferredList.cancel: cancelling the output before it fires cancels every
// input, once; after it fired, Cancel does nothing.
type fanIn[T, R any] struct {
	out        Deferred[R]       // first: the allocation the unhandled report watches
	settled    atomic.Bool       // out has been given its result
	swept      atomic.Bool       // the inputs have been cancelled
	pending    atomic.Int64      // inputs yet to report
	policy     policy[T, R]      // what the combinator does with each input
	steps      []fanInStep[T, R] // an entry per input, once one needs a step
	winner     int               // sweep to run when the fan-in is started: the input to spare
	sweepLater bool
}

// policy is what a combinator does with its inputs' results.
type policy[T, R any] interface {
	// input handles input i, whose result its chain d (run by the caller)
	// holds: it may take the part the combinator consumes. It returns
	// early with the output's result to fire the output now, and spare
	// >= 0 to cancel every input but that one.
	input(i int, d *Deferred[T]) (early bool, r R, f *failure.Failure, spare int)
	// all returns the output's result once every input has reported.
	all() (R, *failure.Failure)
}

// fanInStep is the fan-in's step on input index's chain.
type fanInStep[T, R any] struct {
	fi    *fanIn[T, R]
	d     *Deferred[T]
	index int
}

func (s *fanInStep[T, R]) run(d *Deferred[T]) link {
	early, r, f, spare := s.fi.policy.input(s.index, d)
	if spare >= 0 {
		s.fi.sweep(spare)
	}
	if early || s.fi.pending.Add(-1) == 0 {
		return s.fi.fire(d, early, r, f)
	}
	return nil
}

// noSpare is the spare of an input that cancels nothing.
const noSpare = -1

// start makes the fan-in of ds with p: an input that rests fired reports
// at once, on the calling goroutine, without a step; the others get one.
// The output fires before start returns if every input had fired.
func (fi *fanIn[T, R]) start(ds []*Deferred[T], p policy[T, R]) *Deferred[R] {
	fi.policy = p
	fi.out.init(fi)
	fi.pending.Store(int64(len(ds)))
	fi.winner = noSpare
	// The inputs that report at once are counted off together at the
	// end; until then pending cannot reach zero.
	reported := 0
	for i, d := range ds {
		if !d.claim() {
			fi.attach(i, ds)
			continue
		}
		early, r, f, spare := p.input(i, d)
		if d.fail != nil || !d.st.CompareAndSwap(stFired|stRunning, stFired) {
			d.finish(nil) // release, the slow way: a Failure to watch, steps queued meanwhile
		}
		reported++
		if spare >= 0 {
			// Inputs after i may have no step yet: cancel once all have.
			fi.winner, fi.sweepLater = spare, true
		}
		if early {
			fi.fire(nil, true, r, f)
		}
	}
	if fi.sweepLater {
		fi.sweep(fi.winner)
	}
	if reported > 0 && fi.pending.Add(-int64(reported)) == 0 {
		var zero R
		fi.fire(nil, false, zero, nil)
	}
	return &fi.out
}

// attach adds the fan-in's step to input i. The first input to need a step
// makes the table of steps, filled for it and every input after it before
// any step is added, so that a concurrent sweep reads a complete table.
func (fi *fanIn[T, R]) attach(i int, ds []*Deferred[T]) {
	if fi.steps == nil {
		fi.steps = make([]fanInStep[T, R], len(ds))
		for j := i; j < len(ds); j++ {
			fi.steps[j] = fanInStep[T, R]{fi: fi, d: ds[j], index: j}
		}
	}
	if l := ds[i].queue(&fi.steps[i]); l != nil {
		drive(l)
	}
}

// fire gives the output its result, once: r and f if early, else what
// the policy makes of all the inputs. from is the chain that decided it.
func (fi *fanIn[T, R]) fire(from *Deferred[T], early bool, r R, f *failure.Failure) link {
	if !fi.settled.CompareAndSwap(false, true) {
		return nil
	}
	if !early {
		r, f = fi.policy.all()
	}
	if from == nil {
		return fi.out.receive(nil, r, f)
	}
	return fi.out.receive(from, r, f)
}

// sweep cancels every input but spare (noSpare: every input), once. The
// inputs that reported on the fan-in's start need nothing more.
func (fi *fanIn[T, R]) sweep(spare int) {
	if !fi.swept.CompareAndSwap(false, true) {
		return
	}
	for i := range fi.steps {
		if d := fi.steps[i].d; d != nil && i != spare {
			d.Cancel()
		}
	}
}

// Cancel is what cancelling the output reaches while it has not fired.
func (fi *fanIn[T, R]) Cancel() { fi.sweep(noSpare) }
