package reactor

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/failure"
)

func TestDeferToGoroutineIsBounded(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		deferredtest.NoUnhandled(t)
		r := newReactor(WithWorkers(2))
		started := make(chan int, 3)
		release := [3]chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}
		var running, peak atomic.Int32
		var results []int
		r.CallWhenRunning(func() {
			for i := range 3 {
				DeferToGoroutine(r, func() (int, error) {
					n := running.Add(1)
					if n > peak.Load() {
						peak.Store(n)
					}
					started <- i
					<-release[i]
					running.Add(-1)
					return i, nil
				}).AddCallback(func(v int) (int, error) {
					results = append(results, v) // on the loop
					switch len(results) {
					case 1:
						// The first result reached the loop: the third starts.
						go func() {
							assert.Equal(t, 2, <-started)
							close(release[0])
							close(release[2])
						}()
					case 3:
						r.Stop()
					}
					return v, nil
				})
			}
			// Two run; the third waits in the loop's queue, not as a goroutine.
			assert.ElementsMatch(t, []int{0, 1}, []int{<-started, <-started})
			assert.Equal(t, 2, r.pool.running())
			assert.Len(t, r.pool.queue, 1)
			close(release[1])
		})
		run(t, r)
		assert.Equal(t, 1, results[0])
		assert.ElementsMatch(t, []int{0, 2}, results[1:])
		assert.Equal(t, int32(2), peak.Load())
	})
}

func TestDeferToGoroutineFailures(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		deferredtest.NoUnhandled(t)
		r := newReactor()
		boom := errors.New("boom")
		var errFail, panicFail *failure.Failure
		pending := 2
		done := func() {
			if pending--; pending == 0 {
				r.Stop()
			}
		}
		r.CallWhenRunning(func() {
			DeferToGoroutine(r, func() (int, error) { return 0, boom }).
				AddErrback(func(f *failure.Failure) (int, error) { errFail = f; done(); return 0, nil })
			DeferToGoroutine(r, func() (int, error) { panic(boom) }).
				AddErrback(func(f *failure.Failure) (int, error) { panicFail = f; done(); return 0, nil })
		})
		run(t, r)
		require.NotNil(t, errFail)
		assert.ErrorIs(t, errFail, boom)
		assert.False(t, errFail.Panicked())
		require.NotNil(t, panicFail)
		assert.ErrorIs(t, panicFail, boom)
		assert.True(t, panicFail.Panicked())
		assert.Contains(t, panicFail.Traceback(), "workers_test.go")

		_, err := DeferToGoroutine(r, func() (int, error) { return 1, nil }).Wait(t.Context())
		assert.ErrorIs(t, err, ErrNotRunning, "after the reactor stopped")
	})
}

func TestRunWaitsForDeferToGoroutineSubmittedBeforeStop(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		deferredtest.NoUnhandled(t)
		r := newReactor(WithWorkers(1))
		release := make(chan struct{})
		var got []int
		r.CallWhenRunning(func() {
			for i := range 3 {
				DeferToGoroutine(r, func() (int, error) {
					<-release
					return i, nil
				}).AddCallback(func(v int) (int, error) { got = append(got, v); return v, nil })
			}
			r.Stop()
			close(release)
		})
		run(t, r)
		assert.Equal(t, []int{0, 1, 2}, got, "queued functions ran, in order, before Run returned")
	})
}
