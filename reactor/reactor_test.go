package reactor

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScheduleFiresInTimeOrderAndTiesInSchedulingOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		var got []string
		add := func(d time.Duration, name string) {
			r.Schedule(d, func() { got = append(got, name) })
		}
		add(3*time.Millisecond, "c")
		add(1*time.Millisecond, "a1")
		add(0, "zero1")
		add(1*time.Millisecond, "a2")
		add(0, "zero2")
		add(2*time.Millisecond, "b")
		add(1*time.Millisecond, "a3")
		r.Schedule(4*time.Millisecond, func() { r.Stop() })
		run(t, r)
		assert.Equal(t, []string{"zero1", "zero2", "a1", "a2", "a3", "b", "c"}, got)
	})
}

func TestEqualTimesFireInSchedulingOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		var got []int
		// Calls due at one instant: scheduled before Run, all read the same clock
		// only if time stood still, so move them with Delay to one time.
		dcs := make([]*DelayedCall, 100)
		for i := range dcs {
			dcs[i] = r.Schedule(time.Hour, func() { got = append(got, i) })
		}
		when := r.nanotime() + int64(time.Millisecond)
		for _, dc := range dcs { // same time for all; the order of the moves decides
			require.NoError(t, dc.Delay(time.Duration(when-dc.when)))
		}
		r.Schedule(2*time.Millisecond, func() { r.Stop() })
		run(t, r)
		require.Len(t, got, 100)
		for i, v := range got {
			assert.Equal(t, i, v)
		}
	})
}

func TestZeroDelayFromInsideACallRunsInALaterIteration(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		var got []string
		r.Schedule(0, func() {
			got = append(got, "first")
			r.Schedule(0, func() { got = append(got, "nested") })
		})
		r.Schedule(0, func() { got = append(got, "second") })
		// A hand-off queued by the first call runs in the next iteration, before
		// the nested timer (hand-offs come first in an iteration).
		r.Schedule(0, func() {
			r.CallFromGoroutine(func() {
				got = append(got, "handoff")
			})
		})
		r.Schedule(time.Millisecond, func() { r.Stop() })
		run(t, r)
		assert.Equal(t, []string{"first", "second", "handoff", "nested"}, got)
	})
}

func TestNegativeDelayPanics(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		assert.PanicsWithValue(t, "reactor: negative delay", func() { r.Schedule(-1, func() {}) })
		assert.PanicsWithValue(t, "reactor: negative delay", func() { r.AfterFunc(-time.Second, func() {}) })
	})
}

func TestDelayedCallCancelResetDelay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		var got []string
		cancelled := r.Schedule(time.Millisecond, func() { got = append(got, "cancelled") })
		reset := r.Schedule(time.Hour, func() { got = append(got, "reset") })
		delayed := r.Schedule(0, func() { got = append(got, "delayed") })
		early := r.Schedule(time.Hour, func() { got = append(got, "early") })
		called := r.Schedule(0, func() { got = append(got, "called") })

		require.NoError(t, cancelled.Cancel())
		assert.False(t, cancelled.Active())
		assert.ErrorIs(t, cancelled.Cancel(), ErrAlreadyCancelled)
		assert.ErrorIs(t, cancelled.Reset(time.Second), ErrAlreadyCancelled)
		assert.ErrorIs(t, cancelled.Delay(time.Second), ErrAlreadyCancelled)

		before := reset.Time()
		require.NoError(t, reset.Reset(2*time.Millisecond))
		assert.True(t, reset.Time().Before(before))
		assert.ErrorIs(t, reset.Reset(-1), ErrNegativeDelay)

		require.NoError(t, delayed.Delay(3*time.Millisecond))
		require.NoError(t, early.Delay(-time.Hour+time.Millisecond))

		r.Schedule(5*time.Millisecond, func() {
			assert.ErrorIs(t, called.Cancel(), ErrAlreadyCalled)
			assert.ErrorIs(t, called.Reset(0), ErrAlreadyCalled)
			assert.ErrorIs(t, called.Delay(0), ErrAlreadyCalled)
			assert.False(t, called.Active())
			r.Stop()
		})
		assert.True(t, reset.Active())
		run(t, r)
		assert.Equal(t, []string{"called", "early", "reset", "delayed"}, got)
		assert.Len(t, r.timers.pending(), 1, "only the test's watchdog is left")
	})
}

func TestDelayedCallTime(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		before := r.Now()
		dc := r.Schedule(time.Minute, func() {})
		after := r.Now()
		assert.False(t, dc.Time().Before(before.Add(time.Minute)))
		assert.False(t, dc.Time().After(after.Add(time.Minute)))
		require.NoError(t, dc.Cancel())
	})
}

func TestAfterFuncStopFromAnotherGoroutine(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		var fired atomic.Bool
		var stop func() bool
		r.CallWhenRunning(func() {
			stop = r.AfterFunc(time.Hour, func() { fired.Store(true) })
			go func() {
				assert.True(t, stop(), "first stop stops it")
				assert.False(t, stop(), "second stop finds it stopped")
				r.CallFromGoroutine(func() {
					// The cancellation was handed to the loop before this call.
					for _, dc := range r.timers.pending() {
						assert.Less(t, dc.when, r.nanotime()+int64(time.Minute), "the hour-long call is gone")
					}
					r.Stop()
				})
			}()
		})
		fireNow := r.AfterFunc(0, func() {})
		run(t, r)
		assert.False(t, fired.Load())
		assert.False(t, fireNow(), "stop after the call ran reports false")
	})
}

func TestCallWhenRunningIsFIFOAndRunsAfterStartupTriggers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		var got []string
		r.CallWhenRunning(func() { got = append(got, "cwr1") })
		r.AddSystemEventTrigger(During, Startup, func() *Deferred { got = append(got, "during"); return nil })
		r.CallWhenRunning(func() {
			got = append(got, "cwr2")
			r.CallWhenRunning(func() { got = append(got, "nested runs at once") })
			assert.True(t, r.Running())
			r.Stop()
		})
		r.AddSystemEventTrigger(Before, Startup, func() *Deferred { got = append(got, "before"); return nil })
		assert.False(t, r.Running())
		run(t, r)
		assert.Equal(t, []string{"before", "during", "cwr1", "cwr2", "nested runs at once"}, got)
		assert.False(t, r.Running())
	})
}

func TestCallFromGoroutineIsFIFO(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		const producers, each = 4, 5000
		last := make([]int, producers)
		var done atomic.Int32
		r.CallWhenRunning(func() {
			for p := range producers {
				go func() {
					for i := range each {
						r.CallFromGoroutine(func() {
							if last[p] != i {
								t.Errorf("producer %d: got call %d after %d", p, i, last[p])
							}
							last[p] = i + 1
							if i == each-1 && done.Add(1) == producers {
								r.Stop()
							}
						})
					}
				}()
			}
		})
		run(t, r)
		for p := range producers {
			assert.Equal(t, each, last[p])
		}
	})
}

func TestCallFromGoroutineFloodDoesNotStarveTimers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		var stopFlood atomic.Bool
		var wg sync.WaitGroup
		var calls atomic.Int64
		var flood func()
		flood = func() {
			calls.Add(1)
			if !stopFlood.Load() {
				r.CallFromGoroutine(flood) // every call queues another: never empty
			}
		}
		r.CallWhenRunning(func() {
			for range 2 {
				wg.Go(func() {
					for !stopFlood.Load() {
						r.CallFromGoroutine(func() { calls.Add(1) })
					}
				})
			}
			r.CallFromGoroutine(flood)
			r.Schedule(5*time.Millisecond, func() {
				stopFlood.Store(true)
				r.Stop()
			})
		})
		run(t, r)
		wg.Wait()
		assert.Greater(t, calls.Load(), int64(0))
	})
}

func TestStopFromAnotherGoroutine(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		stopped := make(chan error, 1)
		r.CallWhenRunning(func() {
			go func() { stopped <- r.Stop() }()
		})
		run(t, r)
		assert.NoError(t, <-stopped)
	})
}

func TestRunAndStopStateErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		assert.ErrorIs(t, r.Stop(), ErrNotRunning, "before Run")
		r.CallWhenRunning(func() {
			assert.ErrorIs(t, r.Run(), ErrAlreadyRunning)
			assert.NoError(t, r.Stop())
			assert.ErrorIs(t, r.Stop(), ErrNotRunning, "second Stop")
			assert.ErrorIs(t, r.Run(), ErrAlreadyRunning, "still shutting down")
		})
		run(t, r)
		assert.ErrorIs(t, r.Run(), ErrNotRestartable)
		assert.ErrorIs(t, r.Stop(), ErrNotRunning, "after Run")
	})
}

func TestPanicsInCallbacksAreLoggedAndTheLoopGoesOn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		var logs logBuffer
		r := newReactor(logs.option())
		var got []string
		r.Schedule(0, func() { panic("timer boom") })
		r.Schedule(0, func() { got = append(got, "timer after panic") })
		r.CallWhenRunning(func() {
			r.CallFromGoroutine(func() { panic(errors.New("handoff boom")) })
			r.CallFromGoroutine(func() { got = append(got, "handoff after panic") })
		})
		r.Schedule(time.Millisecond, func() { r.Stop() })
		run(t, r)
		assert.ElementsMatch(t, []string{"timer after panic", "handoff after panic"}, got)
		out := logs.String()
		assert.Contains(t, out, "timer boom")
		assert.Contains(t, out, "handoff boom")
		assert.Contains(t, out, "reactor: panic in delayed call")
		assert.Contains(t, out, "reactor_test.go", "the traceback shows the panic site")
	})
}

func TestBackendFallsBackOrIsWhatWasAskedFor(t *testing.T) {
	r := New(WithBackend(Portable))
	assert.Equal(t, Portable, r.Backend())
	assert.Equal(t, "portable", Portable.String())
	assert.Equal(t, "epoll", Epoll.String())
	assert.ErrorIs(t, r.AddReader(0, func() {}), ErrFDUnsupported)
	assert.ErrorIs(t, r.AddWriter(0, func() {}), ErrFDUnsupported)
	assert.ErrorIs(t, r.RemoveReader(0), ErrFDUnsupported)
	assert.ErrorIs(t, r.RemoveWriter(0), ErrFDUnsupported)
	assert.Nil(t, r.RemoveAll())
	assert.Equal(t, DefaultBackend, New().Backend())
}

func TestLoopIterationAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		calls := 0
		f := func() { calls++ }
		r.Schedule(time.Hour, f) // a timer that is never due
		iteration := func() {
			r.CallFromGoroutine(f)
			r.sleeping.Store(true) // as if asleep: the hand-off wakes the poller
			r.CallFromGoroutine(f)
			r.iterate() // the wake-up makes it return at once
		}
		iteration() // warm up the queues
		assert.Zero(t, testing.AllocsPerRun(100, iteration))
		assert.Equal(t, 2*(1+1+100), calls, "warm-up, AllocsPerRun's own warm-up, 100 runs")
	})
}

func TestStopWithErrorMakesRunReturnIt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		errFirst, errSecond := errors.New("first"), errors.New("second")
		r.CallWhenRunning(func() {
			require.NoError(t, r.StopWithError(errFirst))
			assert.ErrorIs(t, r.StopWithError(errSecond), ErrNotRunning)
		})
		assert.Equal(t, errFirst, r.Run())
	})
}
