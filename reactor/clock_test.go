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

var epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func TestClockAdvanceRunsDueCallsInOrder(t *testing.T) {
	c := NewClock(epoch)
	var got []string
	at := func(d time.Duration, name string) *DelayedCall {
		return c.Schedule(d, func() { got = append(got, name+"@"+c.Now().Sub(epoch).String()) })
	}
	at(3*time.Second, "c")
	at(time.Second, "a1")
	at(time.Second, "a2")
	at(2*time.Second, "b")
	cancelled := at(time.Second, "cancelled")
	require.NoError(t, cancelled.Cancel())

	c.Advance(500 * time.Millisecond)
	assert.Empty(t, got)
	c.Advance(2 * time.Second) // time moves first: every call sees 2.5s
	assert.Equal(t, []string{"a1@2.5s", "a2@2.5s", "b@2.5s"}, got)
	c.Pump(time.Second, time.Second)
	assert.Equal(t, []string{"a1@2.5s", "a2@2.5s", "b@2.5s", "c@3.5s"}, got)
	assert.Equal(t, epoch.Add(4500*time.Millisecond), c.Now())
	assert.Empty(t, c.Pending())
}

// Twisted's task.Clock.advance runs calls while the first one is due, so a
// call that becomes due during an Advance runs in it; one due later does not.
func TestClockRunsCallsThatBecomeDueDuringTheSameAdvance(t *testing.T) {
	c := NewClock(epoch)
	var got []string
	c.Schedule(time.Second, func() {
		got = append(got, "outer")
		c.Schedule(0, func() {
			got = append(got, "inner")
			c.Schedule(0, func() { got = append(got, "innermost") })
		})
		c.Schedule(time.Second, func() { got = append(got, "later") })
	})
	moved := c.Schedule(time.Hour, func() { got = append(got, "moved") })
	c.Schedule(2*time.Second, func() { require.NoError(t, moved.Reset(0)) })
	c.Advance(time.Second)
	assert.Equal(t, []string{"outer", "inner", "innermost"}, got)
	require.Len(t, c.Pending(), 3)
	c.Advance(time.Second)
	assert.Equal(t, []string{"outer", "inner", "innermost", "later", "moved"}, got,
		"a call moved to now during the Advance runs in it")
	assert.Empty(t, c.Pending())
}

func TestClockPendingIsSortedByTimeThenSchedulingOrder(t *testing.T) {
	c := NewClock(epoch)
	a := c.Schedule(2*time.Second, func() {})
	b := c.Schedule(time.Second, func() {})
	d := c.Schedule(2*time.Second, func() {})
	e := c.Schedule(time.Second, func() {})
	assert.Equal(t, []*DelayedCall{b, e, a, d}, c.Pending())
	require.NoError(t, b.Reset(2*time.Second)) // moved: after a and d
	assert.Equal(t, []*DelayedCall{e, a, d, b}, c.Pending())
	require.NoError(t, d.Delay(-time.Second))
	assert.Equal(t, []*DelayedCall{e, d, a, b}, c.Pending())
	assert.Equal(t, epoch.Add(time.Second), d.Time())
}

func TestClockDelayedCallErrors(t *testing.T) {
	c := NewClock(epoch)
	ran := 0
	dc := c.Schedule(time.Second, func() { ran++ })
	assert.True(t, dc.Active())
	c.Advance(time.Second)
	assert.Equal(t, 1, ran)
	assert.False(t, dc.Active())
	assert.ErrorIs(t, dc.Cancel(), ErrAlreadyCalled)
	assert.ErrorIs(t, dc.Reset(time.Second), ErrAlreadyCalled)
	assert.ErrorIs(t, dc.Delay(time.Second), ErrAlreadyCalled)

	dc = c.Schedule(time.Second, func() { ran++ })
	require.NoError(t, dc.Cancel())
	assert.ErrorIs(t, dc.Cancel(), ErrAlreadyCancelled)
	assert.ErrorIs(t, dc.Reset(time.Second), ErrAlreadyCancelled)
	c.Advance(time.Hour)
	assert.Equal(t, 1, ran)

	assert.PanicsWithValue(t, "reactor: negative delay", func() { c.Schedule(-time.Nanosecond, func() {}) })
	assert.Panics(t, func() { c.Advance(-time.Second) })
}

func TestClockAfterFunc(t *testing.T) {
	c := NewClock(epoch)
	ran := false
	stop := c.AfterFunc(time.Second, func() { ran = true })
	assert.True(t, stop())
	assert.False(t, stop())
	c.Advance(time.Second)
	assert.False(t, ran)
	stop = c.AfterFunc(time.Second, func() { ran = true })
	c.Advance(time.Second)
	assert.True(t, ran)
	assert.False(t, stop())
}

func TestClockPanicPropagatesAndLeavesTheClockUsable(t *testing.T) {
	c := NewClock(epoch)
	c.Schedule(time.Second, func() { panic("boom") })
	ran := false
	c.Schedule(time.Second, func() { ran = true })
	assert.PanicsWithValue(t, "boom", func() { c.Advance(time.Second) })
	c.Advance(0)
	assert.True(t, ran)
}

func TestClockIsSafeForConcurrentUse(t *testing.T) {
	c := NewClock(epoch)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			c.Schedule(time.Millisecond, func() {}).Cancel()
			c.AfterFunc(time.Millisecond, func() {})()
		}
	}()
	for range 1000 {
		c.Advance(time.Millisecond)
		_ = c.Pending()
	}
	<-done
}

func TestCallLater(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		f       func() (int, error)
		want    int
		wantErr error
		panics  bool
	}{
		{name: "value", f: func() (int, error) { return 42, nil }, want: 42},
		{name: "nil function", f: nil, want: 0},
		{name: "error", f: func() (int, error) { return 0, boom }, wantErr: boom},
		{name: "panic", f: func() (int, error) { panic(boom) }, wantErr: boom, panics: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deferredtest.NoUnhandled(t)
			c := NewClock(epoch)
			var got int
			var gotF *failure.Failure
			fired := false
			CallLater(c, time.Second, tt.f).AddBoth(func(v int, f *failure.Failure) (int, error) {
				got, gotF, fired = v, f, true
				return v, nil
			})
			c.Advance(999 * time.Millisecond)
			assert.False(t, fired)
			c.Advance(time.Millisecond)
			require.True(t, fired)
			if tt.wantErr == nil {
				assert.Nil(t, gotF)
				assert.Equal(t, tt.want, got)
				return
			}
			require.NotNil(t, gotF)
			assert.ErrorIs(t, gotF, tt.wantErr)
			assert.Equal(t, tt.panics, gotF.Panicked())
		})
	}
}

func TestCallLaterCancelRemovesTheCall(t *testing.T) {
	deferredtest.NoUnhandled(t)
	c := NewClock(epoch)
	ran := false
	d := CallLater(c, time.Second, func() (struct{}, error) { ran = true; return struct{}{}, nil })
	require.Len(t, c.Pending(), 1)
	d.Cancel()
	assert.Empty(t, c.Pending())
	_, err := d.Wait(t.Context())
	assert.ErrorIs(t, err, deferred.ErrCancelled)
	c.Advance(time.Hour)
	assert.False(t, ran)
}

func TestCallLaterNegativeDelay(t *testing.T) {
	deferredtest.NoUnhandled(t)
	_, err := CallLater[int](NewClock(epoch), -time.Second, nil).Wait(t.Context())
	assert.ErrorIs(t, err, ErrNegativeDelay)
}

func TestCallLaterOnTheReactor(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		deferredtest.NoUnhandled(t)
		r := newReactor()
		var got []int
		r.CallWhenRunning(func() {
			CallLater(r, 2*time.Millisecond, func() (int, error) { return 2, nil }).
				AddCallback(func(v int) (int, error) { got = append(got, v); r.Stop(); return v, nil })
			CallLater(r, time.Millisecond, func() (int, error) { return 1, nil }).
				AddCallback(func(v int) (int, error) { got = append(got, v); return v, nil })
			cancelled := CallLater(r, 0, func() (int, error) { got = append(got, -1); return 0, nil })
			done := make(chan struct{})
			go func() { cancelled.Cancel(); close(done) }() // from another goroutine
			<-done
			cancelled.AddErrback(func(f *failure.Failure) (int, error) {
				return 0, f.Trap(deferred.ErrCancelled)
			})
		})
		run(t, r)
		assert.Equal(t, []int{1, 2}, got)
	})
}
