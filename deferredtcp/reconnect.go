package deferredtcp

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// Twisted's ReconnectingClientFactory constants.
const (
	// DefaultInitialDelay is the delay the back-off starts from.
	DefaultInitialDelay = time.Second
	// DefaultMaxDelay caps the delay (before the jitter).
	DefaultMaxDelay = 3600 * time.Second
	// DefaultFactor is what the delay is multiplied by at each retry: e.
	DefaultFactor = 2.7182818284590451
	// DefaultJitter is the standard deviation of the delay's normal
	// variate, as a fraction of the delay.
	DefaultJitter = 0.119626565582
)

// ReconnectingClientFactory is a [ClientFactory] that connects again, after
// a growing delay, whenever its connection attempt fails or its connection
// is lost (Twisted's ReconnectingClientFactory, with its algorithm and
// constants). Embed it in a factory that builds the protocol:
//
//	type Client struct{ deferredtcp.ReconnectingClientFactory }
//
//	func (c *Client) BuildProtocol(net.Addr) deferredtcp.Protocol { return &Echo{} }
//
//	deferredtcp.ConnectTCP(r, "127.0.0.1:8007", &Client{})
//
// Each retry does, as Twisted's retry: retries += 1; give up if MaxRetries
// is set and retries > MaxRetries; delay = min(delay × Factor, MaxDelay);
// then delay = a normal variate of mean delay and standard deviation
// delay × Jitter; and Connect is called after delay. The delay starts at
// InitialDelay, so the first retry waits about e seconds.
//
// A successful connection resets the delay and the retry count: the
// [Connector] calls ResetDelay just before BuildProtocol (Twisted leaves
// this to the user's buildProtocol). Set NoAutoReset to call ResetDelay
// yourself, for instance once a handshake has succeeded.
//
// The zero value uses Twisted's constants. Its methods are loop goroutine
// only; the factory serves one Connector at a time.
type ReconnectingClientFactory struct {
	BaseClientFactory

	// InitialDelay is the delay after a reset; 0 means DefaultInitialDelay.
	InitialDelay time.Duration
	// MaxDelay caps the delay before the jitter; 0 means DefaultMaxDelay.
	MaxDelay time.Duration
	// Factor multiplies the delay at each retry; 0 means DefaultFactor.
	Factor float64
	// Jitter is the relative standard deviation of the delay; 0 means
	// DefaultJitter, a negative value no jitter.
	Jitter float64
	// MaxRetries is how many consecutive failed retries are made before
	// giving up; 0 means no limit, a negative value no retry at all.
	MaxRetries int
	// NoAutoReset stops the Connector from calling ResetDelay when a
	// connection is made.
	NoAutoReset bool

	// Clock schedules the retries; nil means the Connector's reactor.
	Clock reactor.Scheduler
	// Rand draws the jitter; nil means math/rand/v2's global source.
	Rand *rand.Rand

	delay     float64 // seconds, as Twisted keeps it; 0 until first used
	retries   int
	call      *reactor.DelayedCall
	connector *Connector
	stopped   bool // StopTrying was called (not continueTrying)
}

func (f *ReconnectingClientFactory) initialDelay() float64 {
	if f.InitialDelay > 0 {
		return f.InitialDelay.Seconds()
	}
	return DefaultInitialDelay.Seconds()
}

func (f *ReconnectingClientFactory) maxDelay() float64 {
	if f.MaxDelay > 0 {
		return f.MaxDelay.Seconds()
	}
	return DefaultMaxDelay.Seconds()
}

func (f *ReconnectingClientFactory) factor() float64 {
	if f.Factor > 0 {
		return f.Factor
	}
	return DefaultFactor
}

func (f *ReconnectingClientFactory) jitter() float64 {
	switch {
	case f.Jitter > 0:
		return f.Jitter
	case f.Jitter < 0:
		return 0
	}
	return DefaultJitter
}

func (f *ReconnectingClientFactory) normFloat64() float64 {
	if f.Rand != nil {
		return f.Rand.NormFloat64()
	}
	return rand.NormFloat64()
}

// Delay returns the delay of the last retry scheduled, or the initial delay
// after a reset.
func (f *ReconnectingClientFactory) Delay() time.Duration {
	if f.delay == 0 {
		return seconds(f.initialDelay())
	}
	return seconds(f.delay)
}

// Retries returns the number of retries since the last reset.
func (f *ReconnectingClientFactory) Retries() int { return f.retries }

// Retry schedules c.Connect after the next delay (Twisted's retry), or does
// nothing after StopTrying or once MaxRetries retries have failed. A nil c
// means the connector of the last failure or loss; with none, Retry does
// nothing.
func (f *ReconnectingClientFactory) Retry(c *Connector) {
	if f.stopped {
		return
	}
	if c == nil {
		if c = f.connector; c == nil {
			return
		}
	}
	f.retries++
	if f.MaxRetries != 0 && f.retries > max(f.MaxRetries, 0) {
		return
	}
	if f.delay == 0 {
		f.delay = f.initialDelay()
	}
	f.delay = math.Min(f.delay*f.factor(), f.maxDelay())
	if j := f.jitter(); j != 0 {
		// random.normalvariate(delay, delay * jitter)
		f.delay += f.delay * j * f.normFloat64()
	}
	f.delay = math.Max(f.delay, 0)
	clock := f.Clock
	if clock == nil {
		clock = c.r
	}
	f.call = clock.Schedule(seconds(f.delay), func() {
		f.call = nil
		c.Connect()
	})
}

// StopTrying cancels the scheduled retry, stops the attempt in progress,
// and makes later failures and losses final, until ResetDelay (Twisted's
// stopTrying). Call it, then Disconnect the connector, to close for good.
func (f *ReconnectingClientFactory) StopTrying() {
	if f.call != nil {
		f.call.Cancel()
		f.call = nil
	}
	f.stopped = true
	if f.connector != nil {
		f.connector.StopConnecting()
	}
}

// ResetDelay puts the delay back to InitialDelay and the retry count to 0,
// and undoes StopTrying (Twisted's resetDelay). The Connector calls it when
// a connection is made, unless NoAutoReset is set.
func (f *ReconnectingClientFactory) ResetDelay() {
	f.delay = f.initialDelay()
	f.retries = 0
	f.call = nil
	f.stopped = false
}

// ClientConnectionFailed retries (Twisted's clientConnectionFailed). A
// factory that overrides it calls it to keep retrying.
func (f *ReconnectingClientFactory) ClientConnectionFailed(c *Connector, _ *failure.Failure) {
	if !f.stopped {
		f.connector = c
		f.Retry(c)
	}
}

// ClientConnectionLost retries (Twisted's clientConnectionLost). A factory
// that overrides it calls it to keep retrying.
func (f *ReconnectingClientFactory) ClientConnectionLost(c *Connector, _ *failure.Failure) {
	if !f.stopped {
		f.connector = c
		f.Retry(c)
	}
}

// StartedConnecting notes the connector, so that StopTrying can stop it.
func (f *ReconnectingClientFactory) StartedConnecting(c *Connector) {
	f.connector = c
}

func (f *ReconnectingClientFactory) connectionMade(c *Connector) {
	f.connector = c
	if !f.NoAutoReset {
		f.ResetDelay()
	}
}

// seconds converts Twisted's float seconds to a Duration.
func seconds(s float64) time.Duration {
	if s >= math.MaxInt64/float64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(s * float64(time.Second))
}
