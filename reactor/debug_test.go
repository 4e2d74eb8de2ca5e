package reactor

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/failure"
)

// panicOf runs f and returns what it panicked with, as a string ("" if it did
// not).
func panicOf(f func()) (msg string) {
	defer func() {
		if v := recover(); v != nil {
			msg = fmt.Sprint(v)
		}
	}()
	f()
	return ""
}

// onAnotherGoroutine runs f on a new goroutine and returns its panic.
func onAnotherGoroutine(f func()) string {
	ch := make(chan string)
	go func() { ch <- panicOf(f) }()
	return <-ch
}

// Under WithDebug, every loop-only call made from another goroutine while the
// reactor runs panics with the call's name and the rule; made on the loop,
// before Run or after it, it does not.
func TestDebugLoopOnlyCallsFromAnotherGoroutinePanic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor(WithDebug(true))
		dc := r.Schedule(time.Hour, func() {}) // before Run: fine
		calls := map[string]func(){
			"Reactor.Schedule":                 func() { r.Schedule(0, func() {}) },
			"Reactor.AfterFunc":                func() { r.AfterFunc(0, func() {}) },
			"Reactor.CallWhenRunning":          func() { r.CallWhenRunning(func() {}) },
			"Reactor.AddSystemEventTrigger":    func() { r.AddSystemEventTrigger(Before, Shutdown, func() *Deferred { return nil }) },
			"Reactor.RemoveSystemEventTrigger": func() { r.RemoveSystemEventTrigger(TriggerID{}) },
			"Reactor.Extension":                func() { r.Extension(extKey{}, nil) },
			"Reactor.AddReader":                func() { r.AddReader(0, func() {}) },
			"Reactor.RemoveWriter":             func() { r.RemoveWriter(0) },
			"DeferToGoroutine":                 func() { DeferToGoroutine(r, func() (int, error) { return 0, nil }) },
			"DelayedCall.Cancel":               func() { dc.Cancel() },
			"DelayedCall.Reset":                func() { dc.Reset(time.Hour) },
			"DelayedCall.Active":               func() { dc.Active() },
		}
		r.CallWhenRunning(func() {
			for name, call := range calls {
				msg := onAnotherGoroutine(call)
				assert.Contains(t, msg, "reactor: "+name+" called from goroutine", name)
				assert.Contains(t, msg, "loop-only calls are made on the reactor's goroutine", name)
			}
			assert.Empty(t, panicOf(func() { r.Schedule(0, func() {}) }), "on the loop")
			assert.Empty(t, panicOf(func() { dc.Active() }), "on the loop")
			r.Stop()
		})
		run(t, r)
		assert.Empty(t, onAnotherGoroutine(func() { r.Schedule(0, func() {}) }), "after Run")
	})
}

// Without WithDebug, a Schedule from another goroutine while the loop waits
// for events — where it would hang unnoticed, the loop asleep until its next
// timer — panics too.
func TestScheduleFromAnotherGoroutineWhileTheLoopWaitsPanics(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor(WithDebug(false))
		got := make(chan string)
		r.CallWhenRunning(func() {
			go func() {
				for !r.parked.Load() { // until the loop blocks, with nothing to do
					runtime.Gosched()
				}
				msg := panicOf(func() { r.Schedule(0, func() {}) })
				r.Stop()
				got <- msg
			}()
		})
		run(t, r)
		msg := <-got
		assert.Contains(t, msg, "reactor: Reactor.Schedule called from another goroutine while the loop waits for events")
		assert.Contains(t, msg, DebugEnv+"=1")
	})
}

// Under WithDebug, Wait on the loop for a Deferred that has not fired fails
// at once instead of hanging; for a fired one it returns the result.
func TestDebugWaitOnTheLoopFailsAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor(WithDebug(true))
		var unfiredErr, firedErr error
		var v int
		r.CallWhenRunning(func() {
			_, unfiredErr = deferred.New[int]().Wait(t.Context())
			v, firedErr = deferred.Succeed(7).Wait(t.Context())
			r.Stop()
		})
		run(t, r)
		assert.ErrorIs(t, unfiredErr, ErrBlockingOnLoop)
		assert.NoError(t, firedErr)
		assert.Equal(t, 7, v)
		// Off the loop, Wait blocks as usual.
		d := deferred.New[int]()
		go d.Callback(3)
		v, err := d.Wait(t.Context())
		assert.NoError(t, err)
		assert.Equal(t, 3, v)
	})
}

func TestBlockingCall(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		deferredtest.NoUnhandled(t)
		r := newReactor()
		boom := errors.New("boom")
		type outcome struct {
			v   int
			err error
		}
		results := make(chan map[string]outcome)
		r.CallWhenRunning(func() {
			_, onLoopErr := BlockingCall(r, func() *deferred.Deferred[int] { return deferred.Succeed(1) })
			assert.ErrorIs(t, onLoopErr, ErrBlockingOnLoop, "on the loop: an error, not a deadlock")
			go func() {
				got := map[string]outcome{}
				call := func(name string, f func() *deferred.Deferred[int]) {
					v, err := BlockingCall(r, f)
					got[name] = outcome{v, err}
				}
				call("value", func() *deferred.Deferred[int] { return deferred.Succeed(42) })
				call("later", func() *deferred.Deferred[int] {
					return CallLater(r, time.Millisecond, func() (int, error) { return 43, nil })
				})
				call("failure", func() *deferred.Deferred[int] { return deferred.Fail[int](boom) })
				call("panic", func() *deferred.Deferred[int] { panic(boom) })
				call("nil", func() *deferred.Deferred[int] { return nil })
				call("stopped while waiting", func() *deferred.Deferred[int] {
					r.Stop()
					return deferred.New[int]() // never fires
				})
				results <- got
			}()
		})
		run(t, r)
		got := <-results
		assert.Equal(t, outcome{v: 42}, got["value"])
		assert.Equal(t, outcome{v: 43}, got["later"])
		assert.ErrorIs(t, got["failure"].err, boom)
		var f *failure.Failure
		require.ErrorAs(t, got["panic"].err, &f)
		assert.True(t, f.Panicked())
		assert.ErrorIs(t, f, boom)
		assert.Contains(t, f.Traceback(), "debug_test.go", "the panic's stack")
		assert.Equal(t, outcome{}, got["nil"])
		assert.ErrorIs(t, got["stopped while waiting"].err, ErrNotRunning)
		_, err := BlockingCall(r, func() *deferred.Deferred[int] { return deferred.Succeed(1) })
		assert.ErrorIs(t, err, ErrNotRunning, "after Run returned")
	})
}

func TestGoroutineIdentity(t *testing.T) {
	a, ga := goid(), getg()
	assert.NotZero(t, a)
	assert.NotZero(t, ga)
	assert.Equal(t, a, goid())
	assert.Equal(t, ga, getg())
	type ids struct {
		id uint64
		g  uintptr
	}
	ch := make(chan ids)
	go func() { ch <- ids{goid(), getg()} }()
	other := <-ch
	assert.NotEqual(t, a, other.id)
	assert.NotEqual(t, ga, other.g)
}

// An Inline body runs on a goroutine of its own (a coroutine), resumed by
// the loop: under WithDebug its loop-only calls count as the loop's.
func TestDebugInlineBodyResumedByTheLoopIsTheLoop(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		deferredtest.NoUnhandled(t)
		r := newReactor(WithDebug(true))
		var got []string
		r.CallWhenRunning(func() {
			deferred.Inline(func(co *deferred.Co) (struct{}, error) {
				got = append(got, panicOf(func() { r.Schedule(0, func() {}) }))
				_, err := deferred.Await(co, CallLater(r, time.Millisecond, func() (int, error) { return 1, nil }))
				require.NoError(t, err)
				got = append(got, panicOf(func() { r.Schedule(0, func() {}) }))
				r.Stop()
				return struct{}{}, nil
			})
		})
		run(t, r)
		assert.Equal(t, []string{"", ""}, got, "no panic, before and after the body suspended")
	})
}
