package deferred_test

import (
	"context"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
)

func TestAddCallbackDeferredWaitsOnInner(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.New[int]()
	inner := deferred.New[int]()
	var trace []int
	d.AddCallbackDeferred(func(n int) *deferred.Deferred[int] { trace = append(trace, n); return inner })
	d.AddCallback(func(n int) (int, error) { trace = append(trace, n); return n + 1, nil })
	require.NoError(t, d.Callback(1))
	assert.Equal(t, []int{1}, trace, "the chain waits for the inner Deferred")
	require.NoError(t, inner.Callback(10))
	assert.Equal(t, []int{1, 10}, trace)
	v, f, _ := result(t, d)
	assert.Nil(t, f)
	assert.Equal(t, 11, v)
	// The inner is left empty.
	v, f, _ = result(t, inner)
	assert.Nil(t, f)
	assert.Zero(t, v)
}

func TestAddCallbackDeferredInnerFailureMovesAndIsNotReportedTwice(t *testing.T) {
	rec := deferredtest.Record(t)
	func() {
		inner := deferred.New[int]()
		d := deferred.Succeed(0).AddCallbackDeferred(func(int) *deferred.Deferred[int] { return inner })
		require.NoError(t, inner.Errback(errBoom))
		_, f, _ := result(t, d) // handled on the outer
		assert.ErrorIs(t, f, errBoom)
	}()
	assert.Empty(t, rec.Collect(), "the inner's Failure moved to the outer, which handled it")
}

func TestAddCallbackDeferredAlreadyFiredInner(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.Succeed(2).AddCallbackDeferred(func(n int) *deferred.Deferred[int] {
		return deferred.Succeed(n * 5)
	})
	v, _, fired := result(t, d)
	assert.True(t, fired)
	assert.Equal(t, 10, v)
	// An inner that failed already, its Failure watched: it moves too.
	d = deferred.Succeed(2).AddCallbackDeferred(func(int) *deferred.Deferred[int] {
		return deferred.Fail[int](errBoom)
	})
	_, f, _ := result(t, d)
	assert.ErrorIs(t, f, errBoom)
}

func TestAddCallbackDeferredSkippedOnFailure(t *testing.T) {
	deferredtest.NoUnhandled(t)
	called := false
	d := deferred.Fail[int](errBoom).AddCallbackDeferred(func(int) *deferred.Deferred[int] {
		called = true
		return deferred.Succeed(1)
	})
	_, f, _ := result(t, d)
	assert.False(t, called)
	assert.ErrorIs(t, f, errBoom)
}

func TestAddCallbackDeferredNilSelfAndPanic(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.Succeed(2).AddCallbackDeferred(func(int) *deferred.Deferred[int] { return nil })
	_, f, _ := result(t, d)
	require.NotNil(t, f)
	assert.Contains(t, f.Error(), "nil *Deferred")

	var self *deferred.Deferred[int]
	self = deferred.New[int]().AddCallbackDeferred(func(int) *deferred.Deferred[int] { return self })
	require.NoError(t, self.Callback(1))
	_, f, fired := result(t, self)
	require.True(t, fired, "a Deferred waiting on itself would never go on")
	require.NotNil(t, f)
	assert.Contains(t, f.Error(), "the Deferred it was added to")

	d = deferred.Succeed(2).AddCallbackDeferred(func(int) *deferred.Deferred[int] { panic("bad") })
	_, f, _ = result(t, d)
	require.NotNil(t, f)
	assert.True(t, f.Panicked())
}

func TestCancelWhileWaitingOnCallbackDeferredCancelsInner(t *testing.T) {
	deferredtest.NoUnhandled(t)
	innerCancels := 0
	inner := deferred.NewWithCanceller(func(*deferred.Deferred[int]) { innerCancels++ })
	d := deferred.New[int]()
	d.AddCallbackDeferred(func(int) *deferred.Deferred[int] { return inner })
	require.NoError(t, d.Callback(1))
	d.Cancel()
	assert.Equal(t, 1, innerCancels)
	_, f, _ := result(t, d)
	assert.ErrorIs(t, f, deferred.ErrCancelled)
	_, f, _ = result(t, inner)
	assert.Nil(t, f, "the inner's Failure moved to the outer")
	// Done waiting, d is a fired Deferred again: Cancel does nothing.
	d.Cancel()
	assert.Equal(t, 1, innerCancels)
}

func TestDeepCallbackDeferredChainDoesNotGrowTheStack(t *testing.T) {
	deferredtest.NoUnhandled(t)
	old := debug.SetMaxStack(1 << 20)
	defer debug.SetMaxStack(old)
	const n = 100_000
	d := deferred.New[int]()
	for range n {
		d.AddCallbackDeferred(func(v int) *deferred.Deferred[int] { return deferred.Succeed(v + 1) })
	}
	require.NoError(t, d.Callback(0))
	v, f, fired := result(t, d)
	require.True(t, fired)
	require.Nil(t, f)
	assert.Equal(t, n, v)
}

func TestDeepNestingOfCallbackDeferredsDoesNotGrowTheStack(t *testing.T) {
	deferredtest.NoUnhandled(t)
	old := debug.SetMaxStack(1 << 20)
	defer debug.SetMaxStack(old)
	// Each Deferred waits on the next; firing the last unwinds 100 000
	// levels.
	const n = 100_000
	ds := make([]*deferred.Deferred[int], n)
	for i := range ds {
		ds[i] = deferred.New[int]()
	}
	for i := range n - 1 {
		next := ds[i+1]
		ds[i].AddCallbackDeferred(func(int) *deferred.Deferred[int] { return next })
	}
	got := -1
	ds[0].AddCallback(func(v int) (int, error) { got = v; return v, nil })
	for i := range n - 1 {
		require.NoError(t, ds[i].Callback(0))
	}
	assert.Equal(t, -1, got)
	require.NoError(t, ds[n-1].Callback(7))
	assert.Equal(t, 7, got)
}

func TestAddCallbackDeferredInnerFiredConcurrently(t *testing.T) {
	deferredtest.NoUnhandled(t)
	for i := range 500 {
		inner := deferred.New[int]()
		d := deferred.New[int]()
		d.AddCallbackDeferred(func(n int) *deferred.Deferred[int] {
			go func() { _ = inner.Callback(n + 1) }()
			return inner
		})
		d.AddCallback(func(n int) (int, error) { return n * 2, nil })
		go func() { _ = d.Callback(i) }()
		v, err := d.Wait(context.Background())
		require.NoError(t, err)
		require.Equal(t, 2*(i+1), v)
	}
}
