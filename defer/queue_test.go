package deferred_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
)

func TestQueuePutThenGet(t *testing.T) {
	deferredtest.NoUnhandled(t)
	q := deferred.NewQueue[int](0, 0)
	for i := range 5 {
		require.NoError(t, q.Put(i))
	}
	assert.Equal(t, 5, q.Len())
	for i := range 5 {
		d := q.Get()
		require.True(t, d.Called(), "an item is queued: Get has fired")
		v, f, _ := result(t, d)
		require.Nil(t, f)
		assert.Equal(t, i, v)
	}
	assert.Equal(t, 0, q.Len())
}

func TestQueueGetThenPut(t *testing.T) {
	deferredtest.NoUnhandled(t)
	q := deferred.NewQueue[string](0, 0)
	a, b := q.Get(), q.Get()
	assert.Equal(t, 2, q.Waiting())
	var got []string
	for _, d := range []*deferred.Deferred[string]{a, b} {
		d.AddCallback(func(s string) (string, error) { got = append(got, s); return s, nil })
	}
	require.NoError(t, q.Put("x"))
	require.NoError(t, q.Put("y"))
	assert.Equal(t, []string{"x", "y"}, got, "waiting Gets are served in FIFO order, during Put")
	assert.Equal(t, 0, q.Len())
}

func TestQueueOverflow(t *testing.T) {
	deferredtest.NoUnhandled(t)
	q := deferred.NewQueue[int](2, 0)
	require.NoError(t, q.Put(1))
	require.NoError(t, q.Put(2))
	assert.ErrorIs(t, q.Put(3), deferred.ErrQueueOverflow)
	assert.Equal(t, 2, q.Len())
	v, _, _ := result(t, q.Get())
	assert.Equal(t, 1, v)
	require.NoError(t, q.Put(3))
	// A full queue with a waiting getter does not exist, but an empty
	// bounded queue hands items straight to getters.
	q0 := deferred.NewQueue[int](1, 0)
	g1, g2 := q0.Get(), q0.Get()
	require.NoError(t, q0.Put(1))
	require.NoError(t, q0.Put(2))
	require.NoError(t, q0.Put(3))
	assert.ErrorIs(t, q0.Put(4), deferred.ErrQueueOverflow)
	v1, _, _ := result(t, g1)
	v2, _, _ := result(t, g2)
	assert.Equal(t, []int{1, 2}, []int{v1, v2})
}

func TestQueueUnderflow(t *testing.T) {
	deferredtest.NoUnhandled(t)
	q := deferred.NewQueue[int](0, 1)
	g := q.Get()
	u := q.Get()
	_, f, fired := result(t, u)
	require.True(t, fired)
	assert.ErrorIs(t, f, deferred.ErrQueueUnderflow)
	assert.Equal(t, 1, q.Waiting())
	require.NoError(t, q.Put(7))
	v, _, _ := result(t, g)
	assert.Equal(t, 7, v)
}

func TestQueueCancelGet(t *testing.T) {
	deferredtest.NoUnhandled(t)
	q := deferred.NewQueue[int](0, 1)
	g := q.Get()
	g.Cancel()
	_, f, _ := result(t, g)
	assert.ErrorIs(t, f, deferred.ErrCancelled)
	assert.Equal(t, 0, q.Waiting(), "a cancelled Get leaves the backlog")
	g2 := q.Get()
	assert.False(t, g2.Called(), "the backlog has room again")
	require.NoError(t, q.Put(1))
	v, _, _ := result(t, g2)
	assert.Equal(t, 1, v)
	require.NoError(t, q.Put(2))
	assert.Equal(t, 1, q.Len(), "the item was queued, not handed to the cancelled Get")
}

func TestQueuePanicsOnNegative(t *testing.T) {
	assert.Panics(t, func() { deferred.NewQueue[int](-1, 0) })
}

func TestQueueBoundedStaysBounded(t *testing.T) {
	deferredtest.NoUnhandled(t)
	q := deferred.NewQueue[int](4, 0)
	for i := range 10000 {
		require.NoError(t, q.Put(i))
		if i%2 == 1 {
			result(t, q.Get())
			result(t, q.Get())
		}
		require.LessOrEqual(t, q.Len(), 4)
	}
}

func TestQueueConcurrent(t *testing.T) {
	deferredtest.NoUnhandled(t)
	const producers, perProducer = 4, 250
	q := deferred.NewQueue[int](0, 0)
	gets := make([]*deferred.Deferred[int], producers*perProducer)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range gets {
			gets[i] = q.Get()
		}
	})
	for p := range producers {
		wg.Go(func() {
			for i := range perProducer {
				assert.NoError(t, q.Put(p*perProducer+i))
			}
		})
	}
	wg.Wait()
	seen := make(map[int]bool)
	for _, d := range gets {
		v, err := d.Wait(t.Context())
		require.NoError(t, err)
		seen[v] = true
	}
	assert.Len(t, seen, producers*perProducer)
	assert.Equal(t, 0, q.Len())
}
