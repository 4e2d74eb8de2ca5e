package service_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/reactor"
	"github.com/twistgo/twist/service"
)

func plainBackoff() service.Option {
	return service.WithRetryPolicy(service.BackoffPolicy(time.Second, time.Minute, 1.5, noJitter))
}

func TestSupervisorRestartsAServiceWhoseStartFails(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := reactor.NewClock(epoch)
	ev := &events{}
	f := newFake("db", ev)
	f.failing = errBoom
	v := service.Supervise(clock, f, plainBackoff(), logTo(t))
	assert.Equal(t, "db", v.Name())
	assert.Equal(t, service.Stopped, v.State())

	started := watch(v.StartService())
	require.True(t, started.fired, "the first attempt has settled")
	require.NoError(t, started.err, "the Supervisor runs, backing off")
	assert.Equal(t, service.BackingOff, v.State())
	assert.True(t, v.Running())

	// Twisted's backoff: 1.5 s, 2.25 s, then it starts.
	for i, delay := range []time.Duration{1500 * time.Millisecond, 2250 * time.Millisecond} {
		assert.Equal(t, "start:db", ev.take())
		clock.Advance(delay - time.Nanosecond)
		assert.Empty(t, ev.take(), "no restart before %v", delay)
		if i == 1 {
			f.failing = nil
		}
		clock.Advance(time.Nanosecond)
	}
	assert.Equal(t, "start:db", ev.take())
	assert.Equal(t, service.Running, v.State())
	assert.Equal(t, 2, v.Restarts())
	assert.True(t, f.Running())

	require.NoError(t, watch(v.StopService()).err)
	assert.Equal(t, "stop:db", ev.take())
	assert.Equal(t, service.Stopped, v.State())
	assert.Empty(t, clock.Pending())
}

// A TimerService whose function fails on its third call is restarted
// after the policy's delay, and calls again from then on.
func TestSupervisorRestartsAServiceThatFailsWhileRunning(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := reactor.NewClock(epoch)
	var calls []time.Duration
	timer := service.NewTimerService(clock, time.Second, func() *deferred.Deferred[struct{}] {
		calls = append(calls, clock.Now().Sub(epoch))
		if len(calls) == 3 {
			return deferred.Fail[struct{}](errBoom)
		}
		return nil
	}, logTo(t))
	timer.SetName("ticker")
	v := service.Supervise(clock, timer, plainBackoff(), logTo(t))

	require.NoError(t, watch(v.StartService()).err)
	assert.Equal(t, service.Running, v.State())
	clock.Advance(time.Second)
	clock.Advance(time.Second) // the third call fails
	assert.Equal(t, service.BackingOff, v.State())
	assert.Equal(t, []time.Duration{0, time.Second, 2 * time.Second}, calls)
	clock.Advance(1500*time.Millisecond - time.Nanosecond)
	assert.Len(t, calls, 3, "no call while backing off")
	clock.Advance(time.Nanosecond)
	assert.Equal(t, service.Running, v.State())
	assert.Equal(t, 1, v.Restarts())
	clock.Advance(time.Second)
	assert.Equal(t, []time.Duration{0, time.Second, 2 * time.Second, 3500 * time.Millisecond, 4500 * time.Millisecond}, calls)

	require.NoError(t, watch(v.StopService()).err)
	assert.False(t, timer.Running())
	assert.Empty(t, clock.Pending())
}

func TestSupervisorStopCancelsARestart(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := reactor.NewClock(epoch)
	ev := &events{}
	f := newFake("db", ev)
	f.failing = errBoom
	v := service.Supervise(clock, f, plainBackoff(), logTo(t))
	v.StartService()
	require.Equal(t, service.BackingOff, v.State())
	require.NoError(t, watch(v.StopService()).err)
	assert.Equal(t, service.Stopped, v.State())
	assert.Empty(t, clock.Pending())
	clock.Advance(time.Hour)
	assert.Equal(t, "start:db", ev.take(), "no restart after the stop")
}

func TestSupervisorStopWhileStartingCancelsTheStart(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := reactor.NewClock(epoch)
	ev := &events{}
	f := newFake("db", ev)
	f.instant = false
	v := service.Supervise(clock, f, plainBackoff(), logTo(t))
	started := watch(v.StartService())
	assert.Equal(t, service.Starting, v.State())
	stopped := watch(v.StopService())
	assert.Equal(t, 1, f.cancels)
	require.True(t, stopped.fired)
	require.NoError(t, stopped.err)
	require.True(t, started.fired)
	assert.ErrorIs(t, started.err, deferred.ErrCancelled)
	assert.Equal(t, service.Stopped, v.State())
	assert.Equal(t, "stopped", v.State().String())
}

func TestTimerServiceCallsWhileRunningAndStopWaitsForTheCall(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := reactor.NewClock(epoch)
	var calls []time.Duration
	var inProgress *deferred.Deferred[struct{}]
	s := service.NewTimerService(clock, time.Second, func() *deferred.Deferred[struct{}] {
		calls = append(calls, clock.Now().Sub(epoch))
		if len(calls) == 2 {
			inProgress = deferred.New[struct{}]()
			return inProgress
		}
		return nil
	}, logTo(t))
	require.NoError(t, watch(s.StartService()).err)
	assert.ErrorIs(t, watch(s.StartService()).err, service.ErrAlreadyRunning)
	done := watch(s.Done())
	clock.Advance(time.Second)
	assert.Equal(t, []time.Duration{0, time.Second}, calls)

	stopped := watch(s.StopService())
	assert.False(t, stopped.fired, "the call in progress is waited for")
	inProgress.Callback(struct{}{})
	require.True(t, stopped.fired)
	require.NoError(t, stopped.err)
	require.True(t, done.fired)
	require.NoError(t, done.err, "a stop is no failure")
	clock.Advance(time.Hour)
	assert.Len(t, calls, 2)
	assert.Empty(t, clock.Pending())
}

func TestTimerServiceStartFailsWhenTheFirstCallDoes(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := reactor.NewClock(epoch)
	s := service.NewTimerService(clock, time.Second, func() *deferred.Deferred[struct{}] { panic(errBoom) }, logTo(t))
	assert.ErrorIs(t, watch(s.StartService()).err, errBoom)
	assert.False(t, s.Running())
	assert.ErrorIs(t, watch(s.Done()).err, errBoom)
	assert.Empty(t, clock.Pending())
}
