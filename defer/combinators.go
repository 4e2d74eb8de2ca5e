package deferred

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/twistgo/twist/failure"
)

// FirstError is the error of an [All], or of a [List] with
// FireOnOneErrback, that failed because one of its inputs did (Twisted's
// FirstError). Match it with errors.As; errors.Is sees through it to the
// input's Failure.
type FirstError struct {
	Index   int              // the position of the failed input
	Failure *failure.Failure // its Failure
}

func (e *FirstError) Error() string {
	return fmt.Sprintf("deferred: input %d failed: %v", e.Index, e.Failure)
}

// Unwrap returns the input's Failure.
func (e *FirstError) Unwrap() error { return e.Failure }

// RaceError is the error of a [Race] whose inputs all failed (Twisted's
// FailureGroup). Failures holds every input's Failure, in input order;
// errors.Is and errors.As see each of them.
type RaceError struct {
	Failures []*failure.Failure
}

func (e *RaceError) Error() string {
	if len(e.Failures) == 0 {
		return "deferred: Race of no inputs"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "deferred: all %d inputs of Race failed: ", len(e.Failures))
	for i, f := range e.Failures {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Error())
	}
	return b.String()
}

// Unwrap returns the inputs' Failures.
func (e *RaceError) Unwrap() []error {
	errs := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		errs[i] = f
	}
	return errs
}

// All returns a Deferred that fires with the results of ds, in input
// order, once every one of them has fired with a value (Twisted's
// gatherResults). If an input fails, it fails at once with a [*FirstError]
// holding that input's position and Failure.
//
// All consumes the failures of its inputs, the first and every later one:
// an input that fails goes on with the zero value on its success path, so
// no Failure is reported as unhandled twice or left behind. Values stay in
// their inputs' chains. With no inputs, All fires at once with an empty
// slice.
//
// Cancelling the returned Deferred before it fires cancels every input that
// has not fired; the first of them to fail with [ErrCancelled] fails it with
// a FirstError of ErrCancelled. Inputs may fire on any goroutines; the
// returned Deferred fires on the goroutine of the input that completes it.
func All[T any](ds ...*Deferred[T]) *Deferred[[]T] {
	if len(ds) == 0 {
		return Succeed([]T{})
	}
	g := &gather[T]{results: make([]T, len(ds))}
	g.out.init(g)
	g.pending.Store(int64(len(ds)))
	// An input that has fired with a value and is idle gives it at once,
	// as its step would on add's fast path, but without a step, its call
	// and recover, and with one pending update for all such inputs, after
	// the loop (until then pending cannot reach zero). The others get a
	// step, in inputs, which only they need.
	taken := 0
	for i, d := range ds {
		if !d.claim() {
			d.add(g.input(i, d, len(ds)))
			continue
		}
		if d.fail == nil {
			g.results[i] = d.result
			taken++
			d.release(nil)
			continue
		}
		d.release(d.runStep(g.input(i, d, len(ds))))
	}
	if taken > 0 && g.pending.Add(-int64(taken)) == 0 && g.settled.CompareAndSwap(false, true) {
		// Nobody has had out yet, so it has no steps to run.
		g.out.mu.Lock()
		_, _ = g.out.settleLocked(g.results, nil)
		g.out.mu.Unlock()
	}
	return &g.out
}

// gather is the state of an All. out comes first, so that the Deferred
// returned is the start of the allocation the unhandled-failure cleanup is
// attached to.
type gather[T any] struct {
	out     Deferred[[]T]
	settled atomic.Bool  // out has been given its result
	pending atomic.Int64 // inputs yet to fire with a value
	results []T
	inputs  []gatherInput[T] // the steps, for the inputs that needed one; set before out is returned
}

// input returns the step for input i, d, of n.
func (g *gather[T]) input(i int, d *Deferred[T], n int) *gatherInput[T] {
	if g.inputs == nil {
		g.inputs = make([]gatherInput[T], n)
	}
	in := &g.inputs[i]
	in.g, in.d, in.index = g, d, i
	return in
}

// gatherInput is All's step on one input's chain.
type gatherInput[T any] struct {
	g     *gather[T]
	d     *Deferred[T]
	index int
}

func (in *gatherInput[T]) run(d *Deferred[T]) link {
	g := in.g
	if d.fail != nil {
		_, f := d.take()
		if g.settled.CompareAndSwap(false, true) {
			return g.out.receive(d, nil, failure.New(&FirstError{Index: in.index, Failure: f}))
		}
		return nil
	}
	g.results[in.index] = d.result
	if g.pending.Add(-1) == 0 && g.settled.CompareAndSwap(false, true) {
		return g.out.receive(d, g.results, nil)
	}
	return nil
}

// Cancel cancels the inputs that had not fired when All was called (it
// does nothing to the others); it is what cancelling out propagates to.
func (g *gather[T]) Cancel() {
	for i := range g.inputs {
		if d := g.inputs[i].d; d != nil {
			d.Cancel()
		}
	}
}

// ListOptions tunes [List]. The zero value waits for every input and leaves
// their failures in their chains.
type ListOptions struct {
	// FireOnOneErrback fails the List with a [*FirstError] as soon as an
	// input fails, without waiting for the others.
	FireOnOneErrback bool
	// ConsumeErrors replaces each input's Failure, once the List has seen
	// it, with the zero value on that input's success path, so that later
	// steps of the input do not see it and it is not reported as unhandled.
	// Without it, the Failure stays in the input's chain, as in Twisted.
	ConsumeErrors bool
}

// Outcome is the result of one input of a [List]: its value when Failure is
// nil, else its Failure.
type Outcome[T any] struct {
	Value   T
	Failure *failure.Failure
}

// List returns a Deferred that fires with the outcome of every Deferred in
// ds, in input order, once all have fired (Twisted's DeferredList). A List
// does not fail when its inputs do, unless opts.FireOnOneErrback is set;
// see [ListOptions] for what happens to the inputs' failures. Values stay
// in their inputs' chains. With no inputs, List fires at once with an
// empty slice.
//
// Cancelling the returned Deferred before it fires cancels every input that
// has not fired; their [ErrCancelled] failures then count as outcomes.
// Inputs may fire on any goroutines; the returned Deferred fires on the
// goroutine of the input that completes it.
func List[T any](ds []*Deferred[T], opts ListOptions) *Deferred[[]Outcome[T]] {
	if len(ds) == 0 {
		return Succeed([]Outcome[T]{})
	}
	g := &listGather[T]{opts: opts, results: make([]Outcome[T], len(ds)), inputs: make([]listInput[T], len(ds))}
	g.out.init(g)
	g.pending.Store(int64(len(ds)))
	for i, d := range ds {
		in := &g.inputs[i]
		in.g, in.d, in.index = g, d, i
	}
	for i := range g.inputs {
		in := &g.inputs[i]
		in.d.add(in)
	}
	return &g.out
}

type listGather[T any] struct {
	out     Deferred[[]Outcome[T]]
	settled atomic.Bool
	pending atomic.Int64
	opts    ListOptions
	results []Outcome[T]
	inputs  []listInput[T]
}

type listInput[T any] struct {
	g     *listGather[T]
	d     *Deferred[T]
	index int
}

func (in *listInput[T]) run(d *Deferred[T]) link {
	g := in.g
	f := d.fail
	if f != nil && g.opts.ConsumeErrors {
		d.take()
	}
	g.results[in.index] = Outcome[T]{Value: d.result, Failure: f}
	if f != nil && g.opts.FireOnOneErrback && g.settled.CompareAndSwap(false, true) {
		return g.out.receive(d, nil, failure.New(&FirstError{Index: in.index, Failure: f}))
	}
	if g.pending.Add(-1) == 0 && g.settled.CompareAndSwap(false, true) {
		return g.out.receive(d, g.results, nil)
	}
	return nil
}

func (g *listGather[T]) Cancel() {
	for i := range g.inputs {
		g.inputs[i].d.Cancel()
	}
}

// Winner is the result of a [Race]: the position of the first input to
// fire with a value, and that value.
type Winner[T any] struct {
	Index int
	Value T
}

// Race returns a Deferred that fires with the first value among ds
// (Twisted's race, and DeferredList's fireOnOneCallback). As soon as one
// input succeeds, every other input is cancelled, once. If every input
// fails, Race fails with a [*RaceError] holding their failures in input
// order; with no inputs it fails at once with an empty RaceError.
//
// Race consumes its inputs' results, values and failures alike (the
// [ErrCancelled] failures of the losers included): each input's chain goes
// on with the zero value. Cancelling the returned Deferred before it fires
// cancels every input. Inputs may fire on any goroutines; the returned
// Deferred fires on the goroutine of the input that decides it.
func Race[T any](ds ...*Deferred[T]) *Deferred[Winner[T]] {
	if len(ds) == 0 {
		return Fail[Winner[T]](&RaceError{})
	}
	g := &race[T]{failures: make([]*failure.Failure, len(ds)), inputs: make([]raceInput[T], len(ds))}
	g.out.init(g)
	g.winner.Store(-1)
	for i, d := range ds {
		in := &g.inputs[i]
		in.g, in.d, in.index = g, d, i
	}
	for i := range g.inputs {
		in := &g.inputs[i]
		in.d.add(in)
	}
	return &g.out
}

type race[T any] struct {
	out      Deferred[Winner[T]]
	winner   atomic.Int64 // index of the first success, -1 until then
	failed   atomic.Int64 // inputs that failed
	swept    atomic.Bool  // the inputs have been cancelled
	failures []*failure.Failure
	inputs   []raceInput[T]
}

type raceInput[T any] struct {
	g     *race[T]
	d     *Deferred[T]
	index int
}

func (in *raceInput[T]) run(d *Deferred[T]) link {
	g := in.g
	v, f := d.take()
	if f != nil {
		g.failures[in.index] = f
		if g.failed.Add(1) == int64(len(g.inputs)) {
			return g.out.receive(d, Winner[T]{}, failure.New(&RaceError{Failures: g.failures}))
		}
		return nil
	}
	if !g.winner.CompareAndSwap(-1, int64(in.index)) {
		return nil // a canceller fired a loser with a value: drop it, as Twisted does
	}
	g.sweep(in.index)
	return g.out.receive(d, Winner[T]{Index: in.index, Value: v}, nil)
}

// sweep cancels every input but the winner, unless that was done already.
func (g *race[T]) sweep(winner int) {
	if !g.swept.CompareAndSwap(false, true) {
		return
	}
	for i := range g.inputs {
		if i != winner {
			g.inputs[i].d.Cancel()
		}
	}
}

func (g *race[T]) Cancel() { g.sweep(-1) }
