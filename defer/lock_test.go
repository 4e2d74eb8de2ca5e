package deferred_test

import (
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
)

// acquired records the order in which Acquire Deferreds fire.
func acquired(d *deferred.Deferred[struct{}], order *[]int, i int) {
	d.AddCallback(func(v struct{}) (struct{}, error) {
		*order = append(*order, i)
		return v, nil
	})
}

func TestLockFIFO(t *testing.T) {
	deferredtest.NoUnhandled(t)
	l := deferred.NewLock()
	assert.False(t, l.Locked())
	var order []int
	acquired(l.Acquire(), &order, 0)
	assert.True(t, l.Locked())
	for i := 1; i <= 3; i++ {
		acquired(l.Acquire(), &order, i)
	}
	assert.Equal(t, []int{0}, order)
	for want := 1; want <= 3; want++ {
		require.NoError(t, l.Release())
		assert.Equal(t, want+1, len(order))
		assert.True(t, l.Locked(), "the lock passes straight to the next waiter")
	}
	assert.Equal(t, []int{0, 1, 2, 3}, order)
	require.NoError(t, l.Release())
	assert.False(t, l.Locked())
	assert.ErrorIs(t, l.Release(), deferred.ErrNotAcquired)
}

func TestLockCancelPendingAcquire(t *testing.T) {
	deferredtest.NoUnhandled(t)
	l := deferred.NewLock()
	first := l.Acquire()
	second, third := l.Acquire(), l.Acquire()
	second.Cancel()
	_, f, fired := result(t, second)
	require.True(t, fired)
	assert.ErrorIs(t, f, deferred.ErrCancelled)
	require.NoError(t, l.Release())
	assert.True(t, third.Called(), "the cancelled waiter was skipped")
	assert.True(t, l.Locked())
	require.NoError(t, l.Release())
	assert.False(t, l.Locked())
	first.Cancel() // fired: does nothing
	_, f, _ = result(t, first)
	assert.Nil(t, f)
}

func TestSemaphoreLimits(t *testing.T) {
	deferredtest.NoUnhandled(t)
	assert.Panics(t, func() { deferred.NewSemaphore(0) })
	s := deferred.NewSemaphore(2)
	assert.Equal(t, 2, s.Limit())
	a, b, c := s.Acquire(), s.Acquire(), s.Acquire()
	assert.True(t, a.Called())
	assert.True(t, b.Called())
	assert.False(t, c.Called(), "a third holder waits")
	assert.Equal(t, 0, s.Tokens())
	require.NoError(t, s.Release())
	assert.True(t, c.Called())
	assert.Equal(t, 0, s.Tokens())
	require.NoError(t, s.Release())
	require.NoError(t, s.Release())
	assert.Equal(t, 2, s.Tokens())
	assert.ErrorIs(t, s.Release(), deferred.ErrNotAcquired)

	d := s.Acquire()
	s.Acquire()
	w := s.Acquire()
	w.Cancel()
	_, f, _ := result(t, w)
	assert.ErrorIs(t, f, deferred.ErrCancelled)
	require.NoError(t, s.Release())
	require.NoError(t, s.Release())
	assert.Equal(t, 2, s.Tokens(), "the cancelled waiter took no token")
	_ = d
}

func TestRunLocked(t *testing.T) {
	deferredtest.NoUnhandled(t)
	l := deferred.NewLock()
	inner := deferred.New[string]()
	r1 := deferred.RunLocked(l, func() *deferred.Deferred[string] { return inner })
	ran := false
	r2 := deferred.RunLocked(l, func() *deferred.Deferred[string] {
		ran = true
		return deferred.Fail[string](io.EOF)
	})
	assert.True(t, l.Locked())
	assert.False(t, ran, "the second run waits for the lock")
	require.NoError(t, inner.Callback("x"))
	assert.True(t, ran)
	assert.False(t, l.Locked(), "released after each run")
	v, f, _ := result(t, r1)
	assert.Nil(t, f)
	assert.Equal(t, "x", v)
	_, f, _ = result(t, r2)
	assert.ErrorIs(t, f, io.EOF)

	r3 := deferred.RunLocked(deferred.Locker(l), func() *deferred.Deferred[int] { panic("oops") })
	_, f, _ = result(t, r3)
	require.NotNil(t, f)
	assert.True(t, f.Panicked())
	r4 := deferred.RunLocked(l, func() *deferred.Deferred[int] { return nil })
	_, f, _ = result(t, r4)
	assert.Error(t, f)
	assert.False(t, l.Locked(), "released after a panic or a nil Deferred")
}

func TestRunLockedCancelWhileWaiting(t *testing.T) {
	deferredtest.NoUnhandled(t)
	s := deferred.NewSemaphore(1)
	hold := s.Acquire()
	ran := false
	r := deferred.RunLocked(s, func() *deferred.Deferred[int] { ran = true; return deferred.Succeed(1) })
	r.Cancel()
	_, f, _ := result(t, r)
	assert.ErrorIs(t, f, deferred.ErrCancelled)
	require.NoError(t, s.Release())
	assert.False(t, ran)
	assert.Equal(t, 1, s.Tokens())
	_ = hold
}

func TestSemaphoreConcurrent(t *testing.T) {
	deferredtest.NoUnhandled(t)
	const limit, workers, rounds = 3, 8, 200
	s := deferred.NewSemaphore(limit)
	var mu sync.Mutex
	holders, maxHolders := 0, 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				_, err := s.Acquire().Wait(t.Context())
				assert.NoError(t, err)
				mu.Lock()
				holders++
				maxHolders = max(maxHolders, holders)
				mu.Unlock()
				mu.Lock()
				holders--
				mu.Unlock()
				assert.NoError(t, s.Release())
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, maxHolders, limit)
	assert.Equal(t, limit, s.Tokens())
}

func TestLockCancelRacesRelease(t *testing.T) {
	deferredtest.NoUnhandled(t)
	for range 200 {
		l := deferred.NewLock()
		l.Acquire()
		w := l.Acquire()
		var wg sync.WaitGroup
		wg.Go(func() { w.Cancel() })
		wg.Go(func() { assert.NoError(t, l.Release()) })
		wg.Wait()
		_, f, _ := result(t, w)
		if f != nil {
			assert.ErrorIs(t, f, deferred.ErrCancelled)
			assert.False(t, l.Locked(), "a cancelled waiter does not keep the lock")
		} else {
			assert.True(t, l.Locked(), "the waiter got the lock")
		}
	}
}
