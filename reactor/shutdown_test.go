package reactor

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/failure"
)

// Twisted's reactor.running: false in "before startup" triggers, true from
// "during startup" through "before shutdown", false from "during shutdown".
func TestRunningFollowsTwistedsPhases(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		got := map[string]bool{}
		for _, ev := range []Event{Startup, Shutdown} {
			for _, p := range []Phase{Before, During, After} {
				r.AddSystemEventTrigger(p, ev, func() *Deferred {
					got[p.String()+" "+ev.String()] = r.Running()
					return nil
				})
			}
		}
		r.CallWhenRunning(func() { r.Stop() })
		assert.False(t, r.Running(), "before Run")
		run(t, r)
		assert.False(t, r.Running(), "after Run")
		assert.Equal(t, map[string]bool{
			"before startup": false, "during startup": true, "after startup": true,
			"before shutdown": true, "during shutdown": false, "after shutdown": false,
		}, got)
	})
}

// The case: 200 blocking functions queued behind 8 workers, a 300 ms
// shutdown deadline. Every Deferred fires (those not finished with
// ErrShutdown), Run returns within the deadline plus 100 ms, and the warning
// counts running and queued functions apart.
func TestShutdownDeadlineFailsEveryUnfinishedDeferToGoroutine(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		deferredtest.NoUnhandled(t)
		var logs logBuffer
		const deadline = 300 * time.Millisecond
		r := newReactor(logs.option(), WithWorkers(8), WithShutdownTimeout(deadline))
		release := make(chan struct{})
		var jobs sync.WaitGroup
		t.Cleanup(jobs.Wait) // the abandoned functions still return, after Run
		var ds []*deferred.Deferred[int]
		var fired, shutdownFailures int
		r.CallWhenRunning(func() {
			for i := range 200 {
				jobs.Add(1)
				d := DeferToGoroutine(r, func() (int, error) {
					defer jobs.Done()
					<-release
					return i, nil
				})
				d.AddBoth(func(_ int, f *failure.Failure) (int, error) {
					fired++
					if f != nil && errors.Is(f, ErrShutdown) {
						shutdownFailures++
					}
					return 0, nil
				})
				ds = append(ds, d)
			}
			r.Stop()
		})
		start := time.Now()
		run(t, r)
		took := time.Since(start)
		close(release)
		// The queued ones never ran: they are not waited for.
		for range 200 - 8 {
			jobs.Done()
		}
		assert.GreaterOrEqual(t, took, deadline)
		assert.Less(t, took, deadline+100*time.Millisecond)
		assert.Equal(t, 200, fired, "every Deferred fired before Run returned")
		assert.Equal(t, 200, shutdownFailures)
		for _, d := range ds {
			assert.True(t, d.Called())
		}
		assert.Contains(t, logs.String(), "runningFunctions=8")
		assert.Contains(t, logs.String(), "queuedFunctions=192")
	})
}

// A function submitted once the shutdown is over (by an "after" trigger past
// the deadline, or a call handed over while Run ends) fails at once: nothing
// would deliver its result.
func TestDeferToGoroutineFailsOnceTheShutdownIsOver(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		deferredtest.NoUnhandled(t)
		r := newReactor(WithShutdownTimeout(10 * time.Millisecond))
		never := deferred.New[struct{}]()
		var late, handedOver *deferred.Deferred[int]
		r.AddSystemEventTrigger(Before, Shutdown, func() *Deferred { return never })
		r.AddSystemEventTrigger(After, Shutdown, func() *Deferred {
			late = DeferToGoroutine(r, func() (int, error) { return 1, nil })
			r.CallFromGoroutine(func() {
				handedOver = DeferToGoroutine(r, func() (int, error) { return 2, nil })
			})
			return nil
		})
		r.CallWhenRunning(func() { r.Stop() })
		run(t, r)
		never.Callback(struct{}{})
		for _, d := range []*deferred.Deferred[int]{late, handedOver} {
			require.NotNil(t, d)
			_, err := d.Wait(t.Context())
			assert.ErrorIs(t, err, ErrShutdown)
		}
	})
}

// recordingExtension records what the reactor calls.
type recordingExtension struct {
	got      *[]string
	deadline time.Time
	shutDown *deferred.Deferred[struct{}]
}

func (e *recordingExtension) ShutDown(deadline time.Time) *deferred.Deferred[struct{}] {
	*e.got = append(*e.got, "extension shut down")
	e.deadline = deadline
	return e.shutDown
}

func (e *recordingExtension) Release() { *e.got = append(*e.got, "extension released") }

type extKey struct{}

// An extension shuts down at the start of "during shutdown", whenever it was
// made: "before" triggers added after it still run first, and "during"
// triggers added before it run after it. "after" waits for its Deferred.
func TestExtensionShutsDownAtTheStartOfDuringShutdown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		deferredtest.NoUnhandled(t)
		r := newReactor(WithShutdownTimeout(time.Minute))
		var got []string
		trig := func(p Phase, name string) {
			r.AddSystemEventTrigger(p, Shutdown, func() *Deferred { got = append(got, name); return nil })
		}
		trig(During, "during trigger")
		ext := &recordingExtension{got: &got, shutDown: deferred.New[struct{}]()}
		made := 0
		e, err := r.Extension(extKey{}, func() (Extension, func()) { made++; return ext, nil })
		require.NoError(t, err)
		require.Same(t, ext, e)
		e, err = r.Extension(extKey{}, func() (Extension, func()) { made++; return nil, nil })
		require.NoError(t, err)
		require.Same(t, ext, e, "the same extension for the same key")
		require.Equal(t, 1, made)
		trig(Before, "before trigger")
		trig(After, "after trigger")
		r.AddSystemEventTrigger(During, Shutdown, func() *Deferred {
			_, err := r.Extension(struct{ other int }{}, func() (Extension, func()) { return ext, nil })
			assert.ErrorIs(t, err, ErrNotRunning, "nothing new once during shutdown began")
			return nil
		})
		var stopped time.Time
		r.CallWhenRunning(func() {
			stopped = r.Now()
			r.Stop()
			r.Schedule(time.Millisecond, func() {
				got = append(got, "extension's Deferred fires")
				ext.shutDown.Callback(struct{}{})
			})
		})
		run(t, r)
		assert.Equal(t, []string{"before trigger", "extension shut down", "during trigger",
			"extension's Deferred fires", "after trigger", "extension released"}, got)
		assert.WithinDuration(t, stopped.Add(time.Minute), ext.deadline, time.Second)
		_, err = r.Extension(extKey{}, func() (Extension, func()) { return ext, nil })
		assert.ErrorIs(t, err, ErrNotRunning, "after Run returned")
	})
}

// An unrun reactor that is garbage collected calls its extensions'
// collected functions; one that ran never does.
func TestExtensionCollectedWithAnUnrunReactor(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		collected := make(chan int, 2)
		func() {
			var got []string
			r := newReactor()
			_, err := r.Extension(extKey{}, func() (Extension, func()) {
				return &recordingExtension{got: &got}, func() { collected <- 1 }
			})
			require.NoError(t, err)
		}()
		ran := newReactor()
		var got []string
		_, err := ran.Extension(extKey{}, func() (Extension, func()) {
			return &recordingExtension{got: &got}, func() { collected <- 2 }
		})
		require.NoError(t, err)
		ran.CallWhenRunning(func() { ran.Stop() })
		run(t, ran)
		assert.Equal(t, []string{"extension shut down", "extension released"}, got)
		ran = nil
		for range 500 {
			runtime.GC()
			select {
			case n := <-collected:
				require.Equal(t, 1, n, "the reactor that ran released its extension itself")
				return
			case <-time.After(10 * time.Millisecond): // cleanups run on their own goroutine
			}
		}
		t.Fatal("the unrun reactor's extension was never collected")
	})
}

func TestBackendZeroIsTheDefault(t *testing.T) {
	assert.Equal(t, "default("+DefaultBackend.String()+")", Backend(0).String())
	assert.Equal(t, DefaultBackend, New(WithBackend(0)).Backend())
	assert.Equal(t, DefaultBackend, New(WithBackend(9)).Backend())
	assert.Equal(t, "Backend(9)", Backend(9).String())
}
