package reactor

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
)

func TestShutdownTriggersRunInPhasesAfterStop(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		deferredtest.NoUnhandled(t)
		r := newReactor()
		var got []string
		trig := func(p Phase, name string) TriggerID {
			return r.AddSystemEventTrigger(p, Shutdown, func() *Deferred {
				got = append(got, name)
				return nil
			})
		}
		trig(After, "after1")
		trig(During, "during1")
		trig(Before, "before1")
		removed := trig(Before, "removed")
		trig(Before, "before2")
		trig(After, "after2")
		r.RemoveSystemEventTrigger(removed)
		r.RemoveSystemEventTrigger(removed) // twice: no-op
		r.RemoveSystemEventTrigger(TriggerID{})
		r.CallWhenRunning(func() {
			require.NoError(t, r.Stop())
			got = append(got, "Stop returned")
		})
		run(t, r)
		assert.Equal(t, []string{"Stop returned", "before1", "before2", "during1", "after1", "after2"}, got)
	})
}

func TestDuringWaitsForEveryBeforeDeferred(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		deferredtest.NoUnhandled(t)
		r := newReactor()
		var got []string
		r.AddSystemEventTrigger(Before, Shutdown, func() *Deferred {
			// Fired by a timer on the loop.
			return CallLater(r, 2*time.Millisecond, func() (struct{}, error) {
				got = append(got, "before timer fired")
				return struct{}{}, nil
			})
		})
		r.AddSystemEventTrigger(Before, Shutdown, func() *Deferred {
			// Fired from another goroutine.
			d := deferred.New[struct{}]()
			go func() { d.Callback(struct{}{}) }()
			return d
		})
		r.AddSystemEventTrigger(Before, Shutdown, func() *Deferred {
			return DeferToGoroutine(r, func() (struct{}, error) { return struct{}{}, nil })
		})
		r.AddSystemEventTrigger(During, Shutdown, func() *Deferred {
			got = append(got, "during")
			return CallLater(r, time.Millisecond, func() (struct{}, error) {
				got = append(got, "during's deferred")
				return struct{}{}, nil
			})
		})
		r.AddSystemEventTrigger(After, Shutdown, func() *Deferred {
			got = append(got, "after")
			return nil
		})
		r.CallWhenRunning(func() { r.Stop() })
		run(t, r)
		assert.Equal(t, []string{"before timer fired", "during", "during's deferred", "after"}, got)
	})
}

func TestStartupWaitsForBeforeDeferreds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		deferredtest.NoUnhandled(t)
		r := newReactor()
		var got []string
		r.AddSystemEventTrigger(Before, Startup, func() *Deferred {
			return CallLater(r, time.Millisecond, func() (struct{}, error) {
				got = append(got, "before")
				assert.False(t, r.started, "not running before startup's during phase")
				return struct{}{}, nil
			})
		})
		r.CallWhenRunning(func() {
			got = append(got, "running")
			r.Stop()
		})
		run(t, r)
		assert.Equal(t, []string{"before", "running"}, got)
	})
}

func TestStopDuringStartupAbandonsStartup(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		never := deferred.New[struct{}]()
		r.AddSystemEventTrigger(Before, Startup, func() *Deferred {
			r.Schedule(0, func() { r.Stop() })
			return never
		})
		ran := false
		r.CallWhenRunning(func() { ran = true })
		run(t, r)
		assert.False(t, ran)
		never.Callback(struct{}{})
	})
}

func TestFailingAndPanickingTriggersAreLoggedAndTheRestRun(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		deferredtest.NoUnhandled(t)
		var logs logBuffer
		r := newReactor(logs.option())
		var got []string
		r.AddSystemEventTrigger(Before, Shutdown, func() *Deferred { panic("trigger boom") })
		r.AddSystemEventTrigger(Before, Shutdown, func() *Deferred {
			return deferred.Fail[struct{}](errors.New("trigger failed"))
		})
		r.AddSystemEventTrigger(Before, Shutdown, func() *Deferred {
			got = append(got, "before")
			return nil
		})
		r.AddSystemEventTrigger(During, Shutdown, func() *Deferred {
			got = append(got, "during")
			return nil
		})
		r.CallWhenRunning(func() { r.Stop() })
		run(t, r)
		assert.Equal(t, []string{"before", "during"}, got)
		assert.Contains(t, logs.String(), "trigger boom")
		assert.Contains(t, logs.String(), "trigger failed")
		assert.Contains(t, logs.String(), "reactor: system event trigger failed")
	})
}

func TestShutdownDeadline(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		var logs logBuffer
		r := newReactor(logs.option(), WithShutdownTimeout(5*time.Millisecond))
		never := deferred.New[struct{}]()
		var got []string
		r.AddSystemEventTrigger(Before, Shutdown, func() *Deferred { return never })
		r.AddSystemEventTrigger(During, Shutdown, func() *Deferred {
			got = append(got, "during")
			return deferred.New[struct{}]() // not waited on: past the deadline
		})
		r.CallWhenRunning(func() { r.Stop() })
		start := time.Now()
		run(t, r)
		assert.Less(t, time.Since(start), time.Second)
		assert.Equal(t, []string{"during"}, got, "later phases still run after the deadline")
		assert.Contains(t, logs.String(), "reactor: shutdown deadline passed")
		never.Callback(struct{}{})
	})
}

func TestAddSystemEventTriggerPanicsOnNonsense(t *testing.T) {
	r := New(WithBackend(Portable))
	assert.Panics(t, func() { r.AddSystemEventTrigger(Phase(7), Startup, func() *Deferred { return nil }) })
	assert.Panics(t, func() { r.AddSystemEventTrigger(Before, Event(9), func() *Deferred { return nil }) })
	assert.Panics(t, func() { r.AddSystemEventTrigger(Before, Startup, nil) })
	assert.Equal(t, "during", During.String())
	assert.Equal(t, "shutdown", Shutdown.String())
}
