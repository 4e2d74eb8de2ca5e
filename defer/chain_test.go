package deferred_test

import (
	"errors"
	"runtime/debug"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/failure"
)

func TestThenChangesType(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.New[int]()
	s := deferred.Then(d, func(n int) (string, error) { return strconv.Itoa(n * 2), nil })
	assert.False(t, s.Called())
	require.NoError(t, d.Callback(21))
	v, f, fired := result(t, s)
	assert.True(t, fired)
	assert.Nil(t, f)
	assert.Equal(t, "42", v)
	// The source's own chain goes on with the zero value: its result moved on.
	src, f, _ := result(t, d)
	assert.Nil(t, f)
	assert.Zero(t, src)
}

func TestThenPassesFailureWithoutCallingCallback(t *testing.T) {
	deferredtest.NoUnhandled(t)
	called := false
	s := deferred.Then(deferred.Fail[int](errBoom), func(int) (string, error) { called = true; return "", nil })
	_, f, _ := result(t, s)
	assert.False(t, called)
	assert.ErrorIs(t, f, errBoom)
}

func TestThenCallbackErrorAndPanic(t *testing.T) {
	deferredtest.NoUnhandled(t)
	s := deferred.Then(deferred.Succeed(1), func(int) (string, error) { return "", errBoom })
	_, f, _ := result(t, s)
	assert.ErrorIs(t, f, errBoom)
	p := deferred.Then(deferred.Succeed(1), func(int) (string, error) { panic("bad") })
	_, f, _ = result(t, p)
	require.NotNil(t, f)
	assert.True(t, f.Panicked())
}

func TestThenDeferredWaitsOnInner(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.New[int]()
	inner := deferred.New[string]()
	out := deferred.ThenDeferred(d, func(n int) *deferred.Deferred[string] { return inner })
	var trace []string
	out.AddCallback(func(s string) (string, error) { trace = append(trace, "out:"+s); return s, nil })
	require.NoError(t, d.Callback(1))
	assert.Empty(t, trace, "the outer chain waits for the inner Deferred")
	assert.False(t, out.Called())
	require.NoError(t, inner.Callback("done"))
	assert.Equal(t, []string{"out:done"}, trace)
	// The inner is left empty.
	v, f, _ := result(t, inner)
	assert.Nil(t, f)
	assert.Zero(t, v)
}

func TestThenDeferredInnerFailureMovesAndIsNotReportedTwice(t *testing.T) {
	rec := deferredtest.Record(t)
	func() {
		inner := deferred.New[int]()
		out := deferred.ThenDeferred(deferred.Succeed(0), func(int) *deferred.Deferred[int] { return inner })
		require.NoError(t, inner.Errback(errBoom))
		_, f, _ := result(t, out) // handled on the outer
		assert.ErrorIs(t, f, errBoom)
	}()
	assert.Empty(t, rec.Collect(), "the inner's Failure moved to the outer, which handled it")
}

func TestThenDeferredAlreadyFiredInner(t *testing.T) {
	deferredtest.NoUnhandled(t)
	out := deferred.ThenDeferred(deferred.Succeed(2), func(n int) *deferred.Deferred[int] {
		return deferred.Succeed(n * 5)
	})
	v, _, fired := result(t, out)
	assert.True(t, fired)
	assert.Equal(t, 10, v)
}

func TestThenDeferredNilInner(t *testing.T) {
	deferredtest.NoUnhandled(t)
	out := deferred.ThenDeferred(deferred.Succeed(2), func(int) *deferred.Deferred[int] { return nil })
	_, f, _ := result(t, out)
	require.NotNil(t, f)
	assert.Contains(t, f.Error(), "nil *Deferred")
}

func TestDeepChainDoesNotGrowTheStack(t *testing.T) {
	deferredtest.NoUnhandled(t)
	// A recursive implementation needs far more than 1 MiB of stack here;
	// exceeding the limit would crash the test binary.
	old := debug.SetMaxStack(1 << 20)
	defer debug.SetMaxStack(old)
	const n = 100_000
	start := deferred.New[int]()
	d := start
	for range n {
		d = deferred.ThenDeferred(d, func(v int) *deferred.Deferred[int] { return deferred.Succeed(v + 1) })
	}
	require.NoError(t, start.Callback(0))
	v, f, fired := result(t, d)
	require.True(t, fired)
	require.Nil(t, f)
	assert.Equal(t, n, v)
}

func TestDeepNestingOfUnfiredInnersDoesNotGrowTheStack(t *testing.T) {
	deferredtest.NoUnhandled(t)
	old := debug.SetMaxStack(1 << 20)
	defer debug.SetMaxStack(old)
	// Each outer waits on an inner that fires only when the next one does:
	// firing the innermost unwinds 100 000 levels.
	const n = 100_000
	inners := make([]*deferred.Deferred[int], n)
	for i := range inners {
		inners[i] = deferred.New[int]()
	}
	for i := 0; i < n-1; i++ {
		next := inners[i+1]
		inners[i].Chain(next)
	}
	last := inners[n-1]
	got := -1
	last.AddCallback(func(v int) (int, error) { got = v; return v, nil })
	require.NoError(t, inners[0].Callback(7))
	assert.Equal(t, 7, got)
}

func TestChain(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d, other := deferred.New[int](), deferred.New[int]()
	assert.Same(t, d, d.Chain(other))
	require.NoError(t, d.Callback(5))
	v, _, _ := result(t, other)
	assert.Equal(t, 5, v)
	v, f, _ := result(t, d)
	assert.Nil(t, f)
	assert.Zero(t, v, "d's chain goes on with the zero value")

	// Chaining into a Deferred that has fired already fails d's chain.
	done := deferred.Succeed(1)
	d2 := deferred.Succeed(2).Chain(done)
	_, f, _ = result(t, d2)
	assert.ErrorIs(t, f, deferred.ErrAlreadyCalled)
}

func TestStepOrderAcrossThen(t *testing.T) {
	// A step that fires another Deferred runs that Deferred's chain before
	// its own next step, as Twisted's nested callback() would.
	var trace []string
	d := deferred.New[int]()
	s := deferred.Then(d, func(n int) (int, error) { trace = append(trace, "then"); return n, nil })
	s.AddCallback(func(n int) (int, error) { trace = append(trace, "derived"); return n, nil })
	d.AddCallback(func(n int) (int, error) { trace = append(trace, "source-next"); return n, nil })
	require.NoError(t, d.Callback(1))
	assert.Equal(t, []string{"then", "derived", "source-next"}, trace)
}

func TestUnhandledFailureIsReportedOnCollection(t *testing.T) {
	rec := deferredtest.Record(t)
	func() {
		d := deferred.New[int]()
		d.AddCallback(func(int) (int, error) { return 0, errBoom })
		require.NoError(t, d.Callback(1))
	}()
	got := rec.Collect()
	require.Len(t, got, 1)
	assert.ErrorIs(t, got[0], errBoom)
}

func TestFailReportedOnlyOnceAndNotWhenHandled(t *testing.T) {
	rec := deferredtest.Record(t)
	func() {
		_ = deferred.Fail[int](errBoom)
		handled := deferred.Fail[int](errBoom)
		handled.AddErrback(func(*failure.Failure) (int, error) { return 0, nil })
		// A Failure handled later, after being at rest, is not reported either.
		late := deferred.Fail[int](io2)
		deferredtest.Collect()
		late.AddErrback(func(*failure.Failure) (int, error) { return 0, nil })
	}()
	got := rec.Collect()
	require.Len(t, got, 1)
	assert.ErrorIs(t, got[0], errBoom)
	assert.Empty(t, rec.Collect(), "reported once")
}

var io2 = errors.New("late")

func TestPassingFailureOnKeepsItWatched(t *testing.T) {
	rec := deferredtest.Record(t)
	func() {
		d := deferred.Fail[int](errBoom)
		d.AddErrback(func(f *failure.Failure) (int, error) { return 0, f }) // re-raise
	}()
	got := rec.Collect()
	require.Len(t, got, 1)
	assert.ErrorIs(t, got[0], errBoom)
}

func TestPanickingUnhandledHandlerIsContained(t *testing.T) {
	prev := deferred.SetUnhandledHandler(func(*failure.Failure) { panic("handler") })
	defer deferred.SetUnhandledHandler(prev)
	func() { _ = deferred.Fail[int](errBoom) }()
	deferredtest.Collect() // must not crash the process
}

// errPointingBack is an error that refers to the Deferred whose Failure it
// becomes, making a cycle through the Failure.
type errPointingBack struct {
	d   *deferred.Deferred[int]
	err error
}

func (e *errPointingBack) Error() string { return "points back: " + e.err.Error() }
func (e *errPointingBack) Unwrap() error { return e.err }

func TestUnhandledFailureInACycleIsReported(t *testing.T) {
	// Twisted's test_errorLogWithInnerFrameCycle: the report must not
	// depend on the Deferred being free of cycles through its Failure.
	rec := deferredtest.Record(t)
	func() {
		// The error returned by a callback points back to the Deferred.
		d := deferred.New[int]()
		e := &errPointingBack{d: d, err: errBoom}
		d.AddCallback(func(int) (int, error) { return 0, e })
		require.NoError(t, d.Callback(1))
	}()
	func() {
		// The error a Deferred fails with points back to it.
		d := deferred.New[int]()
		require.NoError(t, d.Errback(&errPointingBack{d: d, err: io2}))
	}()
	got := rec.Collect()
	require.Len(t, got, 2, "both Deferreds were collected and reported")
	var msgs []string
	for _, f := range got {
		msgs = append(msgs, f.Error())
	}
	assert.ElementsMatch(t, []string{"points back: boom", "points back: late"}, msgs)
	for _, f := range got {
		assert.True(t, errors.Is(f, errBoom) || errors.Is(f, io2), "the sentinel inside still matches: %v", f)
		assert.Contains(t, f.Traceback(), "*deferred_test.errPointingBack")
	}
}

func TestThenDeferredCallbackPanicFailsTheOutput(t *testing.T) {
	deferredtest.NoUnhandled(t)
	for _, src := range []*deferred.Deferred[int]{deferred.Succeed(1), deferred.New[int]()} {
		out := deferred.ThenDeferred(src, func(int) *deferred.Deferred[string] { panic("bad") })
		if !src.Called() {
			require.NoError(t, src.Callback(1))
		}
		_, f, fired := result(t, out)
		require.True(t, fired)
		require.NotNil(t, f)
		assert.True(t, f.Panicked())
		assert.Equal(t, "panic: bad", f.Error())
		v, f, _ := result(t, src)
		assert.Nil(t, f, "the source is not failed by its output's callback")
		assert.Zero(t, v)
	}
}
