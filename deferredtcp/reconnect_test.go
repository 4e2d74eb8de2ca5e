package deferredtcp_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// pendingDelays returns the delays of the calls pending on clock.
func pendingDelays(clock *reactor.Clock) []time.Duration {
	var out []time.Duration
	for _, dc := range clock.Pending() {
		out = append(out, dc.Time().Sub(clock.Now()))
	}
	return out
}

func TestReconnectScheduleWithoutJitter(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := reactor.NewClock(epoch)
	f := &deferredtcp.ReconnectingClientFactory{Clock: clock, Jitter: -1}
	c := &deferredtcp.Connector{}
	reason := failure.New(errors.New("refused"))
	// Twisted: delay = min(delay * e, 3600), starting from 1.
	want := []float64{
		2.718281828459045, 7.3890560989306495, 20.085536923187664,
		54.59815003314423, 148.41315910257657, 403.428793492735,
		1096.6331584284583, 2980.957987041727, 3600, 3600,
	}
	for i, w := range want {
		f.ClientConnectionFailed(c, reason)
		assert.Equal(t, i+1, f.Retries())
		assert.InDelta(t, w, f.Delay().Seconds(), 1e-9, "retry %d", i+1)
		pending := clock.Pending()
		require.Len(t, pending, i+1)
		assert.Equal(t, time.Duration(w*float64(time.Second)), pending[i].Time().Sub(epoch), "retry %d", i+1)
	}
	f.StopTrying()
	f.ClientConnectionFailed(c, reason)
	assert.Len(t, clock.Pending(), len(want)-1, "StopTrying cancels the last call and stops retrying")
	assert.Equal(t, len(want), f.Retries())
}

func TestReconnectScheduleWithJitter(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := reactor.NewClock(epoch)
	f := &deferredtcp.ReconnectingClientFactory{Clock: clock, Rand: rand.New(rand.NewPCG(1, 2))}
	c := &deferredtcp.Connector{}
	// The same computation with the same source, written out as Twisted's
	// retry: delay = min(delay*factor, maxDelay); delay = normalvariate(delay, delay*jitter).
	ref := rand.New(rand.NewPCG(1, 2))
	delay := 1.0
	var want []time.Duration
	for i := range 12 {
		delay = math.Min(delay*2.7182818284590451, 3600)
		delay = delay + delay*0.119626565582*ref.NormFloat64()
		want = append(want, time.Duration(delay*float64(time.Second)))
		f.ClientConnectionLost(c, failure.New(deferredtcp.ErrConnectionDone))
		assert.Equal(t, want[i], f.Delay(), "retry %d", i+1)
	}
	// Every retry is pending on the clock with its delay.
	slices.Sort(want)
	assert.Equal(t, want, pendingDelays(clock))
	// Past the cap, the jitter still applies: delays hover around 3600s.
	assert.InDelta(t, 3600, f.Delay().Seconds(), 3600*0.5)
	assert.NotEqual(t, 3600.0, f.Delay().Seconds())
}

func TestReconnectMaxRetriesAndReset(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := reactor.NewClock(epoch)
	f := &deferredtcp.ReconnectingClientFactory{Clock: clock, Jitter: -1, MaxRetries: 3,
		InitialDelay: 2 * time.Second, Factor: 2, MaxDelay: 10 * time.Second}
	c := &deferredtcp.Connector{}
	reason := failure.New(errors.New("refused"))
	for range 5 {
		f.ClientConnectionFailed(c, reason)
	}
	assert.Equal(t, []time.Duration{4 * time.Second, 8 * time.Second, 10 * time.Second}, pendingDelays(clock))
	assert.Equal(t, 5, f.Retries())

	f.ResetDelay()
	assert.Equal(t, 0, f.Retries())
	assert.Equal(t, 2*time.Second, f.Delay())
	f.ClientConnectionFailed(c, reason)
	assert.Len(t, clock.Pending(), 4)
	assert.Equal(t, 4*time.Second, f.Delay())

	never := &deferredtcp.ReconnectingClientFactory{Clock: reactor.NewClock(epoch), MaxRetries: -1}
	never.ClientConnectionFailed(c, reason)
	assert.Equal(t, 1, never.Retries())
	assert.Equal(t, time.Second, never.Delay())
}

func TestReconnectDefaults(t *testing.T) {
	deferredtest.NoUnhandled(t)
	assert.Equal(t, time.Second, deferredtcp.DefaultInitialDelay)
	assert.Equal(t, time.Hour, deferredtcp.DefaultMaxDelay)
	assert.Equal(t, math.E, deferredtcp.DefaultFactor)
	assert.Equal(t, 0.119626565582, deferredtcp.DefaultJitter)
	var f deferredtcp.ReconnectingClientFactory
	assert.Equal(t, time.Second, f.Delay())
}

// reconnectingClient counts what happens to it, and stops the reactor on
// the third connection.
type reconnectingClient struct {
	deferredtcp.ReconnectingClientFactory
	r                *reactor.Reactor
	clock            *reactor.Clock
	failures, losses int
	made             int
	delays           []time.Duration
	onFailure        func()
}

func (c *reconnectingClient) BuildProtocol(net.Addr) deferredtcp.Protocol {
	c.made++
	return &closeAtOnce{}
}

func (c *reconnectingClient) ClientConnectionFailed(conn *deferredtcp.Connector, reason *failure.Failure) {
	c.failures++
	c.ReconnectingClientFactory.ClientConnectionFailed(conn, reason)
	if c.onFailure != nil {
		c.onFailure()
	}
	c.next()
}

func (c *reconnectingClient) ClientConnectionLost(conn *deferredtcp.Connector, reason *failure.Failure) {
	c.losses++
	c.ReconnectingClientFactory.ClientConnectionLost(conn, reason)
	c.next()
}

// next records the retry's delay and lets the fake clock run it.
func (c *reconnectingClient) next() {
	c.delays = append(c.delays, c.Delay())
	if c.made == 2 {
		c.StopTrying()
		c.r.Stop()
		return
	}
	c.clock.Advance(c.Delay())
}

type closeAtOnce struct{ deferredtcp.BaseProtocol }

func (p *closeAtOnce) ConnectionMade(t deferredtcp.Transport) { t.LoseConnection() }

func TestReconnectingClientAgainstServer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		// A port with no listener: the first attempts are refused.
		probe := listen(t, r)
		addr := probe.Addr().String()
		probe.Close()

		clock := reactor.NewClock(epoch)
		f := &reconnectingClient{r: r, clock: clock}
		f.Clock, f.Jitter = clock, -1
		var failuresBeforeListen int
		var listened *outcome[*deferredtcp.Listener]
		r.CallWhenRunning(func() {
			c := deferredtcp.ConnectTCP(r, addr, f)
			assert.Equal(t, addr, c.Destination().String())
		})
		// Once two attempts have failed, listen on the port.
		f.onFailure = func() {
			if f.failures != 2 {
				return
			}
			failuresBeforeListen = f.failures
			listened = record(deferredtcp.ListenTCP(r, addr, deferredtcp.FactoryFunc(func(net.Addr) deferredtcp.Protocol {
				return &deferredtcp.BaseProtocol{}
			})))
		}
		run(t, r)
		require.NotNil(t, listened)
		require.NoError(t, listened.err)

		require.GreaterOrEqual(t, failuresBeforeListen, 2)
		assert.Equal(t, 2, f.made)
		assert.Equal(t, 2, f.losses)
		// Failures grow the delay; each connection resets it, so the loss
		// after a connection waits e seconds again.
		require.GreaterOrEqual(t, len(f.delays), 4)
		assert.InDelta(t, math.E, f.delays[0].Seconds(), 1e-9)
		assert.InDelta(t, math.E*math.E, f.delays[1].Seconds(), 1e-9)
		last := f.delays[len(f.delays)-1]
		assert.InDelta(t, math.E, last.Seconds(), 1e-9)
	})
}
