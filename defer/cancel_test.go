package deferred_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/failure"
)

func TestCancelWithoutCanceller(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.New[int]()
	d.Cancel()
	_, f, fired := result(t, d)
	require.True(t, fired)
	assert.ErrorIs(t, f, deferred.ErrCancelled)
	// Exactly one late fire is ignored; the next one is an error.
	assert.NoError(t, d.Callback(1))
	assert.ErrorIs(t, d.Errback(errBoom), deferred.ErrAlreadyCalled)
}

func TestCancelWithCancellerThatDoesNotFire(t *testing.T) {
	deferredtest.NoUnhandled(t)
	calls := 0
	d := deferred.NewWithCanceller(func(*deferred.Deferred[int]) { calls++ })
	d.Cancel()
	d.Cancel()
	assert.Equal(t, 1, calls, "the canceller runs once")
	_, f, _ := result(t, d)
	assert.ErrorIs(t, f, deferred.ErrCancelled)
	assert.ErrorIs(t, d.Callback(1), deferred.ErrAlreadyCalled, "with a canceller no late fire is ignored")
}

func TestCancellerThatFiresWins(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.NewWithCanceller(func(d *deferred.Deferred[int]) { _ = d.Callback(99) })
	d.Cancel()
	v, f, _ := result(t, d)
	assert.Nil(t, f)
	assert.Equal(t, 99, v)

	e := deferred.NewWithCanceller(func(d *deferred.Deferred[int]) { _ = d.Errback(errBoom) })
	e.Cancel()
	_, f, _ = result(t, e)
	assert.ErrorIs(t, f, errBoom)
}

func TestCancelAfterFireDoesNothing(t *testing.T) {
	deferredtest.NoUnhandled(t)
	calls := 0
	d := deferred.NewWithCanceller(func(*deferred.Deferred[int]) { calls++ })
	require.NoError(t, d.Callback(3))
	d.Cancel()
	assert.Zero(t, calls)
	v, f, _ := result(t, d)
	assert.Nil(t, f)
	assert.Equal(t, 3, v)
}

func TestPanickingCancellerFailsTheDeferred(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.NewWithCanceller(func(*deferred.Deferred[int]) { panic("canceller") })
	require.NotPanics(t, d.Cancel)
	_, f, _ := result(t, d)
	require.NotNil(t, f)
	assert.True(t, f.Panicked())
	assert.Equal(t, "panic: canceller", f.Error())
}

func TestCancelThenCancelsSource(t *testing.T) {
	deferredtest.NoUnhandled(t)
	calls := 0
	src := deferred.NewWithCanceller(func(*deferred.Deferred[int]) { calls++ })
	out := deferred.Then(src, func(n int) (string, error) { return "x", nil })
	out.Cancel()
	assert.Equal(t, 1, calls)
	_, f, fired := result(t, out)
	require.True(t, fired)
	assert.ErrorIs(t, f, deferred.ErrCancelled)
}

func TestCancelThenDeferredWhileWaitingCancelsInner(t *testing.T) {
	deferredtest.NoUnhandled(t)
	srcCancels, innerCancels := 0, 0
	src := deferred.NewWithCanceller(func(*deferred.Deferred[int]) { srcCancels++ })
	inner := deferred.NewWithCanceller(func(*deferred.Deferred[string]) { innerCancels++ })
	out := deferred.ThenDeferred(src, func(int) *deferred.Deferred[string] { return inner })
	require.NoError(t, src.Callback(1))
	out.Cancel()
	assert.Zero(t, srcCancels, "the source has fired; the inner is what the outer waits on")
	assert.Equal(t, 1, innerCancels)
	_, f, _ := result(t, out)
	assert.ErrorIs(t, f, deferred.ErrCancelled)
	_, f, _ = result(t, inner)
	assert.Nil(t, f, "the inner's Failure moved to the outer")
}

func TestCancelFromInsideCanceller(t *testing.T) {
	deferredtest.NoUnhandled(t)
	calls := 0
	var d *deferred.Deferred[int]
	d = deferred.NewWithCanceller(func(*deferred.Deferred[int]) { calls++; d.Cancel() })
	d.Cancel()
	assert.Equal(t, 1, calls)
	_, f, _ := result(t, d)
	assert.ErrorIs(t, f, deferred.ErrCancelled)
}

func TestCancelledFailureMatches(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.New[int]()
	d.Cancel()
	_, f, _ := result(t, d)
	var ff *failure.Failure
	require.True(t, errors.As(f, &ff))
	assert.Equal(t, deferred.ErrCancelled, f.Check(errBoom, deferred.ErrCancelled))
}

func TestCalledWhileTheCancellerRuns(t *testing.T) {
	deferredtest.NoUnhandled(t)
	var during []bool
	var d *deferred.Deferred[int]
	d = deferred.NewWithCanceller(func(*deferred.Deferred[int]) { during = append(during, d.Called()) })
	assert.False(t, d.Called())
	d.Cancel()
	assert.Equal(t, []bool{true}, during, "Called reports a cancelled Deferred while its canceller runs")
	assert.True(t, d.Called())
	_, f, _ := result(t, d)
	assert.ErrorIs(t, f, deferred.ErrCancelled)
}
