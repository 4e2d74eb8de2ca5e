package reactor

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/failure"
)

// outcome records how the Deferred of LoopingCall.Start fired.
type outcome struct {
	fired bool
	lc    *LoopingCall
	f     *failure.Failure
}

func watch(d *deferred.Deferred[*LoopingCall]) *outcome {
	o := &outcome{}
	d.AddBoth(func(lc *LoopingCall, f *failure.Failure) (*LoopingCall, error) {
		o.fired, o.lc, o.f = true, lc, f
		return lc, nil
	})
	return o
}

// since returns the Clock's times of calls, as offsets from epoch.
func since(ts []time.Time) []time.Duration {
	out := make([]time.Duration, len(ts))
	for i, t := range ts {
		out[i] = t.Sub(epoch)
	}
	return out
}

func TestLoopingCallStaysOnTheStartGrid(t *testing.T) {
	deferredtest.NoUnhandled(t)
	c := NewClock(epoch)
	var calls []time.Time
	lc := NewLoopingCall(c, func() *Deferred { calls = append(calls, c.Now()); return nil })
	o := watch(lc.Start(10*time.Second, true))
	assert.True(t, lc.Running())
	assert.Equal(t, 10*time.Second, lc.Interval())
	c.Pump(3*time.Second, 7*time.Second, 9*time.Second, 2*time.Second, 8*time.Second)
	// At 3, 10, 19, 21 and 29 s: the 20 s tick runs late at 21 s, and the next
	// one stays at 30 s, not 31 s.
	assert.Equal(t, []time.Duration{0, 10 * time.Second, 21 * time.Second}, since(calls))
	require.Len(t, c.Pending(), 1)
	assert.Equal(t, epoch.Add(30*time.Second), c.Pending()[0].Time())
	require.NoError(t, lc.Stop())
	assert.True(t, o.fired)
	assert.Same(t, lc, o.lc)
	assert.Nil(t, o.f)
	assert.Empty(t, c.Pending())
}

func TestLoopingCallSkipsMissedTicks(t *testing.T) {
	deferredtest.NoUnhandled(t)
	c := NewClock(epoch)
	var calls []time.Time
	lc := NewLoopingCall(c, func() *Deferred { calls = append(calls, c.Now()); return nil })
	lc.Start(10*time.Second, false)
	c.Advance(35 * time.Second) // ticks 10, 20 and 30 were missed: one call
	c.Advance(5 * time.Second)
	assert.Equal(t, []time.Duration{35 * time.Second, 40 * time.Second}, since(calls))
	require.NoError(t, lc.Stop())
}

func TestLoopingCallWithCountCountsElapsedIntervals(t *testing.T) {
	for _, now := range []bool{true, false} {
		deferredtest.NoUnhandled(t)
		c := NewClock(epoch)
		var counts []int
		lc := NewLoopingCallWithCount(c, func(n int) *Deferred { counts = append(counts, n); return nil })
		lc.Start(time.Second, now)
		c.Pump(time.Second, 3500*time.Millisecond, 500*time.Millisecond, 1000*time.Millisecond)
		want := []int{1, 1, 3, 1, 1} // at 0, 1, 4.5, 5 and 6 s
		if !now {
			want = []int{1, 3, 1, 1}
		}
		assert.Equal(t, want, counts, "now=%v", now)
		require.NoError(t, lc.Stop())
	}
}

// Twisted's test_withCountIntervalZero: on a Clock, one Advance(0) keeps
// calling a zero-interval LoopingCall until it stops itself.
func TestLoopingCallWithCountZeroInterval(t *testing.T) {
	deferredtest.NoUnhandled(t)
	c := NewClock(epoch)
	var counts []int
	var lc *LoopingCall
	lc = NewLoopingCallWithCount(c, func(n int) *Deferred {
		counts = append(counts, n)
		if len(counts) == 5 {
			require.NoError(t, lc.Stop())
		}
		return nil
	})
	d := lc.Start(0, false)
	c.Advance(0)
	assert.Equal(t, []int{1, 1, 1, 1, 1}, counts)
	assert.True(t, d.Called(), "stopped: Start's Deferred fired")
}

func TestLoopingCallWaitsForTheReturnedDeferred(t *testing.T) {
	deferredtest.NoUnhandled(t)
	c := NewClock(epoch)
	var calls []time.Time
	var pending *deferred.Deferred[struct{}]
	lc := NewLoopingCall(c, func() *Deferred {
		calls = append(calls, c.Now())
		pending = deferred.New[struct{}]()
		return pending
	})
	o := watch(lc.Start(10*time.Second, true))
	c.Advance(25 * time.Second)
	assert.Len(t, calls, 1, "no call while the previous Deferred is pending")
	assert.Empty(t, c.Pending())
	pending.Callback(struct{}{}) // at 25 s: the next call is on the grid, at 30 s
	require.Len(t, c.Pending(), 1)
	assert.Equal(t, epoch.Add(30*time.Second), c.Pending()[0].Time())
	c.Advance(5 * time.Second)
	assert.Equal(t, []time.Duration{0, 30 * time.Second}, since(calls))

	// Stop while a call's Deferred is pending: Start's Deferred fires after it.
	require.NoError(t, lc.Stop())
	assert.False(t, lc.Running())
	assert.False(t, o.fired)
	pending.Callback(struct{}{})
	assert.True(t, o.fired)
	assert.Same(t, lc, o.lc)
	assert.Len(t, calls, 2)
	assert.Empty(t, c.Pending())
}

func TestLoopingCallFailureErrbacksStart(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name     string
		f        func() *Deferred
		panicked bool
	}{
		{name: "failed Deferred", f: func() *Deferred { return deferred.Fail[struct{}](boom) }},
		{name: "panic", f: func() *Deferred { panic(boom) }, panicked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deferredtest.NoUnhandled(t)
			c := NewClock(epoch)
			calls := 0
			lc := NewLoopingCall(c, func() *Deferred {
				calls++
				if calls == 2 {
					return tt.f()
				}
				return nil
			})
			o := watch(lc.Start(time.Second, true))
			c.Pump(time.Second, time.Second, time.Second)
			assert.Equal(t, 2, calls)
			require.True(t, o.fired)
			require.NotNil(t, o.f)
			assert.ErrorIs(t, o.f, boom)
			assert.Equal(t, tt.panicked, o.f.Panicked())
			assert.False(t, lc.Running())
			assert.Empty(t, c.Pending())
		})
	}
}

func TestLoopingCallErrors(t *testing.T) {
	deferredtest.NoUnhandled(t)
	c := NewClock(epoch)
	lc := NewLoopingCall(c, func() *Deferred { return nil })
	assert.ErrorIs(t, lc.Stop(), ErrLoopingCallNotRunning, "stop when idle")
	assert.ErrorIs(t, lc.Reset(), ErrLoopingCallNotRunning)
	_, err := lc.Start(-time.Second, true).Wait(t.Context())
	assert.ErrorIs(t, err, ErrNegativeInterval)
	assert.False(t, lc.Running())

	o := watch(lc.Start(time.Second, false))
	_, err = lc.Start(time.Second, false).Wait(t.Context())
	assert.ErrorIs(t, err, ErrLoopingCallRunning, "double start")
	require.NoError(t, lc.Stop())
	assert.True(t, o.fired)
	assert.ErrorIs(t, lc.Stop(), ErrLoopingCallNotRunning, "second stop")

	// A stopped LoopingCall can start again.
	o = watch(lc.Start(time.Second, true))
	require.NoError(t, lc.Stop())
	assert.True(t, o.fired)
}

func TestLoopingCallStopFromInsideTheCall(t *testing.T) {
	deferredtest.NoUnhandled(t)
	c := NewClock(epoch)
	var lc *LoopingCall
	calls := 0
	lc = NewLoopingCall(c, func() *Deferred {
		calls++
		if calls == 3 {
			assert.NoError(t, lc.Stop())
		}
		return nil
	})
	o := watch(lc.Start(time.Second, true))
	c.Pump(time.Second, time.Second, time.Second, time.Second)
	assert.Equal(t, 3, calls)
	assert.True(t, o.fired)
	assert.Empty(t, c.Pending())
}

func TestLoopingCallReset(t *testing.T) {
	deferredtest.NoUnhandled(t)
	c := NewClock(epoch)
	var calls []time.Time
	lc := NewLoopingCall(c, func() *Deferred { calls = append(calls, c.Now()); return nil })
	lc.Start(10*time.Second, false)
	c.Advance(7 * time.Second)
	require.NoError(t, lc.Reset()) // the grid restarts at 7 s
	c.Pump(3*time.Second, 7*time.Second, 10*time.Second)
	assert.Equal(t, []time.Duration{17 * time.Second, 27 * time.Second}, since(calls))
	require.NoError(t, lc.Stop())
}

func TestLoopingCallOnTheReactorWithDeferredsFiredElsewhere(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		deferredtest.NoUnhandled(t)
		r := newReactor()
		calls := 0 // loop goroutine only: the race detector checks it
		var lc *LoopingCall
		lc = NewLoopingCall(r, func() *Deferred {
			if calls++; calls == 3 {
				require.NoError(t, lc.Stop())
				return nil
			}
			d := deferred.New[struct{}]()
			go d.Callback(struct{}{})
			return d
		})
		r.CallWhenRunning(func() {
			lc.Start(time.Millisecond, true).AddCallback(func(lc *LoopingCall) (*LoopingCall, error) {
				r.Stop()
				return lc, nil
			})
		})
		run(t, r)
		assert.Equal(t, 3, calls, "each call came after the previous one's Deferred fired elsewhere")
	})
}
