package service_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
	"github.com/twistgo/twist/service"
)

// twistedDelays are Twisted's backoffPolicy() delays, before the jitter,
// after 1, 2, ... consecutive failures: 1 s × 1.5^n, capped at 60 s.
var twistedDelays = []time.Duration{
	1500 * time.Millisecond,
	2250 * time.Millisecond,
	3375 * time.Millisecond,
	5062500 * time.Microsecond,
	7593750 * time.Microsecond,
	11390625 * time.Microsecond,
	17085937500 * time.Nanosecond,
	25628906250 * time.Nanosecond,
	38443359375 * time.Nanosecond,
	57665039062 * time.Nanosecond, // 57.6650390625 s, truncated to the nanosecond
	60 * time.Second,
	60 * time.Second,
}

func noJitter() float64 { return 0 }

func TestBackoffPolicyIsTwisteds(t *testing.T) {
	policy := service.BackoffPolicy(service.DefaultInitialDelay, service.DefaultMaxDelay, service.DefaultFactor, noJitter)
	for i, want := range twistedDelays {
		assert.Equal(t, want, policy(i+1), "attempt %d", i+1)
	}
	assert.Equal(t, 60*time.Second, policy(1_000_000), "no overflow")
	assert.Equal(t, time.Second, policy(0))

	half := service.BackoffPolicy(time.Second, time.Minute, 1.5, func() float64 { return 0.5 })
	assert.Equal(t, 2*time.Second, half(1), "the jitter is added in seconds")
	assert.Equal(t, 60500*time.Millisecond, half(20), "after the cap")

	def := service.DefaultRetryPolicy()
	for range 100 {
		d := def(1)
		assert.True(t, d >= 1500*time.Millisecond && d < 2500*time.Millisecond, "default jitter in [0, 1) s: %v", d)
	}
}

// dialer is a Dial whose attempts the test fires.
type dialer struct {
	clock     reactor.Scheduler
	attempts  []*deferred.Deferred[*deferredtcp.Conn]
	times     []time.Time
	cancelled int
}

func (d *dialer) dial() *deferred.Deferred[*deferredtcp.Conn] {
	a := deferred.NewWithCanceller(func(*deferred.Deferred[*deferredtcp.Conn]) { d.cancelled++ })
	d.attempts = append(d.attempts, a)
	d.times = append(d.times, d.clock.Now())
	return a
}

func (d *dialer) last(t testing.TB) *deferred.Deferred[*deferredtcp.Conn] {
	t.Helper()
	require.NotEmpty(t, d.attempts)
	return d.attempts[len(d.attempts)-1]
}

// seeded returns a jitter source, and a twin that yields the same numbers
// for the test's expectations.
func seeded() (jitter, twin func() float64) {
	return rand.New(rand.NewPCG(3, 16)).Float64, rand.New(rand.NewPCG(3, 16)).Float64
}

func jitter(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// nextRetry returns when the only pending call, the retry, is due.
func nextRetry(t testing.TB, clock *reactor.Clock) time.Time {
	t.Helper()
	p := clock.Pending()
	require.Len(t, p, 1, "one retry timer")
	return p[0].Time()
}

func TestClientServiceRetriesOnTwistedsSchedule(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := reactor.NewClock(epoch)
	jit, twin := seeded()
	d := &dialer{clock: clock}
	s := service.NewClientService(clock, d.dial, logTo(t), service.WithRetryPolicy(service.BackoffPolicy(
		service.DefaultInitialDelay, service.DefaultMaxDelay, service.DefaultFactor, jit)))

	early := watch(s.WhenConnected(3)) // before the start, as Twisted allows
	require.NoError(t, watch(s.StartService()).err)
	assert.True(t, s.Running())
	patient := watch(s.WhenConnected(0))
	require.Len(t, d.attempts, 1, "the first attempt is made at once")
	assert.Equal(t, epoch, d.times[0])

	for i, base := range twistedDelays {
		failedAt := clock.Now()
		d.last(t).Errback(fmt.Errorf("refused %d", i+1))
		want := failedAt.Add(base + jitter(twin()))
		require.Equal(t, want, nextRetry(t, clock), "retry %d", i+1)
		clock.Advance(want.Sub(clock.Now()) - time.Nanosecond)
		require.Len(t, d.attempts, i+1, "not before its time")
		clock.Advance(time.Nanosecond)
		require.Len(t, d.attempts, i+2, "attempt %d at its time", i+2)
		assert.Equal(t, want, d.times[i+1])

		if i+1 == 3 {
			require.True(t, early.fired, "WhenConnected(3) fails after three failures")
			assert.EqualError(t, errorsUnwrapFailure(early.err), "refused 3")
		} else if i+1 < 3 {
			assert.False(t, early.fired, "not after %d failures", i+1)
		}
	}
	assert.False(t, patient.fired, "WhenConnected(0) waits while the service runs")

	// Stop while an attempt is pending cancels it.
	stopped := watch(s.StopService())
	assert.Equal(t, 1, d.cancelled)
	require.True(t, stopped.fired)
	require.NoError(t, stopped.err)
	require.True(t, patient.fired)
	assert.ErrorIs(t, patient.err, deferred.ErrCancelled)
	assert.False(t, s.Running())
	assert.ErrorIs(t, watch(s.WhenConnected(0)).err, deferred.ErrCancelled, "stopped: no connection to come")
}

// errorsUnwrapFailure returns the error a Failure carries.
func errorsUnwrapFailure(err error) error {
	if f, ok := err.(*failure.Failure); ok {
		return f.Unwrap()
	}
	return err
}

func TestClientServiceStopCancelsAPendingRetry(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := reactor.NewClock(epoch)
	d := &dialer{clock: clock}
	s := service.NewClientService(clock, d.dial, logTo(t), service.WithRetryPolicy(
		service.BackoffPolicy(time.Second, time.Minute, 1.5, noJitter)))
	s.StartService()
	d.last(t).Errback(errBoom)
	require.Len(t, clock.Pending(), 1)

	stopped := watch(s.StopService())
	require.True(t, stopped.fired, "nothing to wait for")
	require.NoError(t, stopped.err)
	assert.Empty(t, clock.Pending(), "the retry is cancelled")
	clock.Advance(time.Hour)
	assert.Len(t, d.attempts, 1, "no attempt after the stop")

	// It can start again; as in Twisted, the count of failures goes on.
	s.StartService()
	require.Len(t, d.attempts, 2)
	d.last(t).Errback(errBoom)
	assert.Equal(t, clock.Now().Add(2250*time.Millisecond), nextRetry(t, clock))
	require.NoError(t, watch(s.StopService()).err)
}

func TestClientServiceWhenConnectedCancelled(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := reactor.NewClock(epoch)
	d := &dialer{clock: clock}
	s := service.NewClientService(clock, d.dial, logTo(t))
	s.StartService()
	w := s.WhenConnected(1)
	o := watch(w)
	w.Cancel()
	require.True(t, o.fired)
	assert.ErrorIs(t, o.err, deferred.ErrCancelled)
	d.last(t).Errback(errBoom) // the cancelled waiter is not failed again
	require.NoError(t, watch(s.StopService()).err)
}

// The connect, lose, reconnect cycle over in-memory connections.
func TestClientServiceReconnectsAfterALostConnection(t *testing.T) {
	deferredtest.NoUnhandled(t)
	l := newLoop(t)
	jit, twin := seeded()
	d := &dialer{clock: l.clock}
	var s *service.ClientService
	var got *deferredtcp.Conn
	var a, b *deferredtcp.Conn
	l.do(t, func() {
		s = service.NewClientService(l.clock, d.dial, logTo(t), service.WithRetryPolicy(
			service.BackoffPolicy(time.Second, time.Minute, 1.5, jit)))
		s.StartService()
		s.WhenConnected(0).AddCallback(func(c *deferredtcp.Conn) (*deferredtcp.Conn, error) {
			got = c
			return c, nil
		})
		d.last(t).Errback(errBoom)
		require.Equal(t, epoch.Add(1500*time.Millisecond+jitter(twin())), nextRetry(t, l.clock))
	})
	l.advance(t, 5*time.Second)
	l.do(t, func() {
		require.Len(t, d.attempts, 2)
		a, b = deferredtcp.Pipe(l.r)
		d.last(t).Callback(a)
		assert.Same(t, a, got, "WhenConnected fires with the connection")
		assert.Same(t, a, s.Conn())
		var now *deferredtcp.Conn
		s.WhenConnected(0).AddCallback(func(c *deferredtcp.Conn) (*deferredtcp.Conn, error) { now = c; return c, nil })
		assert.Same(t, a, now, "and with the current one at once")
		assert.Empty(t, l.clock.Pending())
		// The chain that uses the connection closes it at the server's EOF.
		a.Read().AddErrback(func(f *failure.Failure) ([]byte, error) {
			a.Close()
			return nil, f.Trap(io.EOF)
		})
	})

	// The server closes: the service reconnects after the first delay
	// again (a connection resets the count).
	lost := make(chan struct{})
	var lostAt time.Time
	l.do(t, func() {
		a.Lost().AddBoth(func(struct{}, *failure.Failure) (struct{}, error) { close(lost); return struct{}{}, nil })
		b.Close()
		lostAt = l.clock.Now()
	})
	wait(t, lost)
	l.do(t, func() {
		assert.Nil(t, s.Conn())
		assert.Equal(t, lostAt.Add(1500*time.Millisecond+jitter(twin())), nextRetry(t, l.clock))
	})
	l.advance(t, 3*time.Second)
	var a2, b2 *deferredtcp.Conn
	stopped := new(*outcome)
	peerEOF := make(chan struct{})
	l.do(t, func() {
		require.Len(t, d.attempts, 3)
		a2, b2 = deferredtcp.Pipe(l.r)
		d.last(t).Callback(a2)
		*stopped = watch(s.StopService())
		b2.Read().AddBoth(func(_ []byte, f *failure.Failure) ([]byte, error) {
			assert.ErrorIs(t, f, io.EOF, "stop closes the connection")
			close(peerEOF)
			return nil, nil
		})
	})
	wait(t, peerEOF)
	stopDone := make(chan struct{})
	l.do(t, func() {
		a2.Lost().AddBoth(func(struct{}, *failure.Failure) (struct{}, error) { close(stopDone); return struct{}{}, nil })
	})
	wait(t, stopDone)
	l.do(t, func() {
		require.True(t, (*stopped).fired, "the stop fires once the connection is closed")
		require.NoError(t, (*stopped).err)
		assert.Empty(t, l.clock.Pending(), "no retry after the stop")
		b2.Close()
	})
}

// recorder is a Protocol that records what happens to it.
type recorder struct {
	deferredtcp.BaseProtocol
	events chan string
}

func (p *recorder) ConnectionMade(t deferredtcp.Transport) {
	p.BaseProtocol.ConnectionMade(t)
	p.events <- "made"
}
func (p *recorder) DataReceived(data []byte) { p.events <- "data:" + string(data) }
func (p *recorder) ConnectionLost(*failure.Failure) {
	p.events <- "lost"
}

func TestClientServiceWithProtocol(t *testing.T) {
	deferredtest.NoUnhandled(t)
	l := newLoop(t)
	d := &dialer{clock: l.clock}
	events := make(chan string, 16)
	var built []*recorder
	factory := deferredtcp.FactoryFunc(func(net.Addr) deferredtcp.Protocol {
		p := &recorder{events: events}
		built = append(built, p)
		return p
	})
	var s *service.ClientService
	var b *deferredtcp.Conn
	var proto deferredtcp.Protocol
	l.do(t, func() {
		s = service.NewClientService(l.clock, d.dial, logTo(t), service.WithProtocol(factory),
			service.WithRetryPolicy(service.BackoffPolicy(time.Second, time.Minute, 1.5, noJitter)))
		s.StartService()
		s.WhenConnectedProtocol(0).AddCallback(func(p deferredtcp.Protocol) (deferredtcp.Protocol, error) {
			proto = p
			return p, nil
		})
		var a *deferredtcp.Conn
		a, b = deferredtcp.Pipe(l.r)
		d.last(t).Callback(a)
	})
	assert.Equal(t, "made", next(t, events))
	l.do(t, func() {
		require.Len(t, built, 1)
		assert.Same(t, built[0], proto)
		b.Write([]byte("hello"))
	})
	assert.Equal(t, "data:hello", next(t, events))
	l.do(t, func() { b.Close() })
	assert.Equal(t, "lost", next(t, events))
	l.do(t, func() {
		assert.Equal(t, l.clock.Now().Add(1500*time.Millisecond), nextRetry(t, l.clock), "a lost connection is retried")
		require.NoError(t, watch(s.StopService()).err)
	})
}

func next(t testing.TB, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for an event")
	}
	return ""
}

// A dial whose cancellation delivers a connection anyway: the stop still
// completes, and the connection is not kept.
func TestClientServiceStopWhenTheCancelledDialConnects(t *testing.T) {
	deferredtest.NoUnhandled(t)
	l := newLoop(t)
	l.do(t, func() {
		a, b := deferredtcp.Pipe(l.r)
		dial := func() *deferred.Deferred[*deferredtcp.Conn] {
			return deferred.NewWithCanceller(func(d *deferred.Deferred[*deferredtcp.Conn]) { d.Callback(a) })
		}
		s := service.NewClientService(l.clock, dial, logTo(t))
		s.StartService()
		stopped := watch(s.StopService())
		require.True(t, stopped.fired)
		require.NoError(t, stopped.err)
		assert.False(t, s.Running())
		assert.Nil(t, s.Conn())
		b.Close()
	})
}
