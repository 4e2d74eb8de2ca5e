package service_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/reactor"
	"github.com/twistgo/twist/service"
)

var errBoom = errors.New("boom")

// three returns a MultiService of three fake services a, b, c whose
// Deferreds the test fires.
func three(t *testing.T, clock reactor.Scheduler, opts ...service.Option) (*service.MultiService, *events, []*fake) {
	t.Helper()
	ev := &events{}
	m := service.NewMultiService("app", clock, append([]service.Option{logTo(t)}, opts...)...)
	var fakes []*fake
	for _, name := range []string{"a", "b", "c"} {
		f := newFake(name, ev)
		f.instant = false
		require.NoError(t, m.AddService(f))
		fakes = append(fakes, f)
	}
	return m, ev, fakes
}

func TestMultiServiceStartsInOrderAndStopsInReverseWaitingOnEach(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := reactor.NewClock(epoch)
	m, ev, f := three(t, clock, service.WithStopTimeout(10*time.Second))
	a, b, c := f[0], f[1], f[2]

	started := watch(m.StartService())
	assert.Equal(t, "start:a", ev.take(), "b waits for a")
	assert.True(t, m.Running())
	a.lastStart(t).Callback(struct{}{})
	assert.Equal(t, "start:b", ev.take())
	clock.Advance(time.Second) // a slow start
	b.lastStart(t).Callback(struct{}{})
	assert.Equal(t, "start:c", ev.take())
	assert.False(t, started.fired)
	c.lastStart(t).Callback(struct{}{})
	require.True(t, started.fired)
	require.NoError(t, started.err)

	stopped := watch(m.StopService())
	assert.Equal(t, "stop:c", ev.take(), "b waits for c")
	c.lastStop(t).Callback(struct{}{})
	assert.Equal(t, "stop:b", ev.take())
	clock.Advance(9 * time.Second) // a slow stop, within the deadline
	assert.Empty(t, ev.take(), "a waits for the slow b")
	b.lastStop(t).Callback(struct{}{})
	assert.Equal(t, "stop:a", ev.take())
	again := watch(m.StopService()) // a second stop waits with the first
	a.lastStop(t).Callback(struct{}{})
	require.True(t, stopped.fired)
	require.NoError(t, stopped.err)
	require.True(t, again.fired)
	require.NoError(t, again.err)
	assert.False(t, m.Running())
	assert.Empty(t, clock.Pending(), "the deadline timer is gone")
}

func TestMultiServiceStopDeadline(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := reactor.NewClock(epoch)
	m, ev, f := three(t, clock, service.WithStopTimeout(5*time.Second))
	for _, s := range f {
		s.instant = true
	}
	require.NoError(t, watch(m.StartService()).err)
	ev.take()
	f[2].instant = false // c's stop hangs

	stopped := watch(m.StopService())
	assert.Equal(t, "stop:c", ev.take())
	clock.Advance(5*time.Second - time.Nanosecond)
	assert.False(t, stopped.fired)
	clock.Advance(time.Nanosecond)
	assert.Equal(t, "stop:b stop:a", ev.take(), "the others are asked at the deadline")
	require.True(t, stopped.fired)
	var te *service.StopTimeoutError
	require.ErrorAs(t, stopped.err, &te)
	assert.Equal(t, []string{"c"}, te.Pending)
	assert.ErrorIs(t, stopped.err, service.ErrStopTimeout)
	assert.ErrorIs(t, stopped.err, os.ErrDeadlineExceeded)
	assert.True(t, te.Timeout())

	// c's late stop is only logged.
	f[2].lastStop(t).Errback(errBoom)
}

func TestMultiServiceStartFailureRollsBack(t *testing.T) {
	deferredtest.NoUnhandled(t)
	m, ev, f := three(t, reactor.NewClock(epoch))
	for _, s := range f {
		s.instant = true
	}
	f[1].failing = errBoom

	started := watch(m.StartService())
	assert.Equal(t, "start:a start:b stop:a", ev.take(), "c never starts; a stops again")
	require.True(t, started.fired)
	require.ErrorIs(t, started.err, errBoom)
	var se *service.Error
	require.ErrorAs(t, started.err, &se)
	assert.Equal(t, "b", se.Service)
	assert.Equal(t, "start", se.Op)
	assert.False(t, m.Running())

	// It can start again once the cause is gone.
	f[1].failing = nil
	require.NoError(t, watch(m.StartService()).err)
	assert.Equal(t, "start:a start:b start:c", ev.take())
}

func TestMultiServiceStopWhileStartingCancelsTheStart(t *testing.T) {
	deferredtest.NoUnhandled(t)
	m, ev, f := three(t, reactor.NewClock(epoch))
	f[0].instant = true
	started := watch(m.StartService())
	assert.Equal(t, "start:a start:b", ev.take())

	stopped := watch(m.StopService())
	assert.Equal(t, 1, f[1].cancels, "b's start was cancelled")
	assert.Equal(t, "stop:a", ev.take(), "only a, which had started, stops")
	require.True(t, started.fired)
	assert.ErrorIs(t, started.err, deferred.ErrCancelled)
	require.True(t, stopped.fired)
	assert.NoError(t, stopped.err)
}

func TestMultiServiceStopFailuresAreJoinedAndTheOthersStillStop(t *testing.T) {
	deferredtest.NoUnhandled(t)
	m, ev, f := three(t, reactor.NewClock(epoch))
	for _, s := range f {
		s.instant = true
	}
	require.NoError(t, watch(m.StartService()).err)
	ev.take()
	f[1].instant = false

	stopped := watch(m.StopService())
	f[1].lastStop(t).Errback(errBoom)
	assert.Equal(t, "stop:c stop:b stop:a", ev.take())
	require.ErrorIs(t, stopped.err, errBoom)
	var se *service.Error
	require.ErrorAs(t, stopped.err, &se)
	assert.Equal(t, "b", se.Service)
	assert.Equal(t, "stop", se.Op)
	assert.Contains(t, stopped.err.Error(), "service: stop b: boom")
}

func TestMultiServiceAddAndRemove(t *testing.T) {
	deferredtest.NoUnhandled(t)
	ev := &events{}
	m := service.NewMultiService("app", reactor.NewClock(epoch))
	a := newFake("a", ev)
	require.NoError(t, m.AddService(a))
	require.ErrorIs(t, m.AddService(a), service.ErrAlreadyAdded)
	require.ErrorIs(t, m.AddService(newFake("a", ev)), service.ErrDuplicateName)
	require.ErrorIs(t, m.AddService(nil), service.ErrNilService)
	require.NoError(t, m.AddService(newFake("", ev)))
	require.NoError(t, m.AddService(newFake("", ev)), "unnamed services never clash")
	got, ok := m.ServiceNamed("a")
	require.True(t, ok)
	assert.Same(t, a, got)
	assert.Len(t, m.Services(), 3)

	require.NoError(t, watch(m.StartService()).err)
	assert.ErrorIs(t, watch(m.StartService()).err, service.ErrAlreadyRunning)
	ev.take()

	// Added while running: started at once (Twisted's addService).
	b := newFake("b", ev)
	require.NoError(t, m.AddService(b))
	assert.Equal(t, "start:b", ev.take())
	assert.True(t, b.Running())

	require.NoError(t, watch(m.RemoveService(b)).err)
	assert.Equal(t, "stop:b", ev.take())
	assert.ErrorIs(t, watch(m.RemoveService(b)).err, service.ErrNotChild)
	_, ok = m.ServiceNamed("b")
	assert.False(t, ok)
}

func TestMultiServiceNested(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := reactor.NewClock(epoch)
	ev := &events{}
	outer := service.NewMultiService("outer", clock)
	inner := service.NewMultiService("inner", clock)
	require.NoError(t, inner.AddService(newFake("x", ev)))
	require.NoError(t, inner.AddService(newFake("y", ev)))
	require.NoError(t, outer.AddService(newFake("a", ev)))
	require.NoError(t, outer.AddService(inner))
	require.NoError(t, outer.AddService(newFake("z", ev)))

	require.NoError(t, watch(outer.StartService()).err)
	assert.Equal(t, "start:a start:x start:y start:z", ev.take())
	require.NoError(t, watch(outer.StopService()).err)
	assert.Equal(t, "stop:z stop:y stop:x stop:a", ev.take())
}
