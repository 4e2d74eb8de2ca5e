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
	Index      int              // the position of the failed input
	Failure    *failure.Failure // its Failure
	Combinator string           // "All" or "List": which combination failed
}

// Error names the combinator, the input and its error, so that nested
// combinations read from the outside in:
// "deferred: All: input 2 failed: deferred: List: input 0 failed: EOF".
func (e *FirstError) Error() string {
	if e.Combinator == "" {
		return fmt.Sprintf("deferred: input %d failed: %v", e.Index, e.Failure)
	}
	return fmt.Sprintf("deferred: %s: input %d failed: %v", e.Combinator, e.Index, e.Failure)
}

// Unwrap returns the input's Failure.
func (e *FirstError) Unwrap() error { return e.Failure }

// RaceError is the error of a [Race] whose inputs all failed (Twisted's
// FailureGroup). Failures holds every input's Failure, in input order;
// errors.Is and errors.As see each of them.
type RaceError struct {
	Failures []*failure.Failure
}

// Error names Race and every input with its error:
// "deferred: Race: all 2 inputs failed: input 0: EOF; input 1: boom".
func (e *RaceError) Error() string {
	if len(e.Failures) == 0 {
		return "deferred: Race: no inputs"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "deferred: Race: all %d inputs failed: ", len(e.Failures))
	for i, f := range e.Failures {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "input %d: %v", i, f)
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
// Cancelling the returned Deferred before it fires cancels every input;
// the first of them to fail with [ErrCancelled] fails it with a FirstError
// of ErrCancelled. Inputs may fire on any goroutines; the returned Deferred
// fires on the goroutine of the input that completes it.
func All[T any](ds ...*Deferred[T]) *Deferred[[]T] {
	if len(ds) == 0 {
		return Succeed([]T{})
	}
	g := &gather[T]{results: make([]T, len(ds))}
	return g.start(ds, g)
}

// gather is All's policy, and its fan-in.
type gather[T any] struct {
	fanIn[T, []T]
	results []T
}

func (g *gather[T]) input(i int, d *Deferred[T]) (bool, []T, *failure.Failure, int) {
	if d.fail != nil {
		_, f := d.take()
		return true, nil, failure.New(&FirstError{Index: i, Failure: f, Combinator: "All"}), noSpare
	}
	g.results[i] = d.result
	return false, nil, nil, noSpare
}

func (g *gather[T]) all() ([]T, *failure.Failure) { return g.results, nil }

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
// Cancelling the returned Deferred before it fires cancels every input;
// their [ErrCancelled] failures then count as outcomes. Inputs may fire on
// any goroutines; the returned Deferred fires on the goroutine of the input
// that completes it.
func List[T any](ds []*Deferred[T], opts ListOptions) *Deferred[[]Outcome[T]] {
	if len(ds) == 0 {
		return Succeed([]Outcome[T]{})
	}
	l := &list[T]{opts: opts, outcomes: make([]Outcome[T], len(ds))}
	return l.start(ds, l)
}

// list is List's policy, and its fan-in.
type list[T any] struct {
	fanIn[T, []Outcome[T]]
	opts     ListOptions
	outcomes []Outcome[T]
}

func (l *list[T]) input(i int, d *Deferred[T]) (bool, []Outcome[T], *failure.Failure, int) {
	f := d.fail
	if f != nil && l.opts.ConsumeErrors {
		d.take()
	}
	l.outcomes[i] = Outcome[T]{Value: d.result, Failure: f}
	if f != nil && l.opts.FireOnOneErrback {
		return true, nil, failure.New(&FirstError{Index: i, Failure: f, Combinator: "List"}), noSpare
	}
	return false, nil, nil, noSpare
}

func (l *list[T]) all() ([]Outcome[T], *failure.Failure) { return l.outcomes, nil }

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
	r := &race[T]{failures: make([]*failure.Failure, len(ds))}
	r.won.Store(-1)
	return r.start(ds, r)
}

// race is Race's policy, and its fan-in.
type race[T any] struct {
	fanIn[T, Winner[T]]
	won      atomic.Int64 // index of the first success, -1 until then
	failures []*failure.Failure
}

func (r *race[T]) input(i int, d *Deferred[T]) (bool, Winner[T], *failure.Failure, int) {
	v, f := d.take()
	if f != nil {
		r.failures[i] = f
		return false, Winner[T]{}, nil, noSpare
	}
	if !r.won.CompareAndSwap(-1, int64(i)) {
		// A canceller fired a loser with a value: drop it, as Twisted does.
		return false, Winner[T]{}, nil, noSpare
	}
	return true, Winner[T]{Index: i, Value: v}, nil, i
}

func (r *race[T]) all() (Winner[T], *failure.Failure) {
	return Winner[T]{}, failure.New(&RaceError{Failures: r.failures})
}
