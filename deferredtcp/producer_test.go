package deferredtcp_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

const (
	high  = 4 << 10
	low   = 1 << 10
	chunk = 2 << 10
	total = 512 << 10
)

// buffered returns the bytes waiting in the write buffer under t.
func buffered(t deferredtcp.Transport) int {
	return t.(deferredtcp.ConnTransport).Conn().Buffered()
}

// consumer returns t as the Consumer the adapter's transports are.
func consumer(t deferredtcp.Transport) deferredtcp.Consumer { return t.(deferredtcp.Consumer) }

// pusher is a push producer writing chunks on every loop iteration until
// paused, total bytes in all.
type pusher struct {
	r                  *reactor.Reactor
	t                  deferredtcp.Transport
	sent               int
	paused             bool
	pauses, resumes    int
	badPause, badResum int
	onFirstPause       func()
}

func (p *pusher) tick() {
	for !p.paused && p.sent < total {
		p.t.Write(bytes.Repeat([]byte{'x'}, chunk))
		p.sent += chunk
	}
	if p.sent >= total {
		consumer(p.t).UnregisterProducer()
		p.t.LoseConnection()
		return
	}
}

func (p *pusher) PauseProducing() {
	p.paused = true
	p.pauses++
	if buffered(p.t) <= high {
		p.badPause++
	}
	if p.pauses == 1 && p.onFirstPause != nil {
		p.onFirstPause()
	}
}

func (p *pusher) ResumeProducing() {
	p.paused = false
	p.resumes++
	if buffered(p.t) > low {
		p.badResum++
	}
	p.r.Schedule(0, p.tick)
}

func (p *pusher) StopProducing() { p.paused = true }

// producing registers its producer when connected.
type producing struct {
	deferredtcp.BaseProtocol
	register func(t deferredtcp.Transport)
}

func (p *producing) ConnectionMade(t deferredtcp.Transport) { p.register(t) }

// sink counts what it reads; it starts paused when asked to.
type sink struct {
	deferredtcp.BaseProtocol
	startPaused bool
	n           int
	lost        *failure.Failure
	onLost      func()
}

func (s *sink) ConnectionMade(t deferredtcp.Transport) {
	if s.startPaused {
		t.(deferredtcp.PushProducer).PauseProducing()
	}
}
func (s *sink) DataReceived(p []byte) { s.n += len(p) }
func (s *sink) ConnectionLost(reason *failure.Failure) {
	s.lost = reason
	s.onLost()
}

func TestPushProducerPausedAboveHighWatermark(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		a, b := deferredtcp.Pipe(r, deferredtcp.WithWatermarks(high, low))
		client := &sink{startPaused: true, onLost: func() { r.Stop() }}
		ct := deferredtcp.ServeProtocol(b, client)
		prod := &pusher{r: r}
		// The reader is paused until the producer has been paused once:
		// the pipe fills, then the write buffer goes over the watermark.
		prod.onFirstPause = ct.(deferredtcp.PushProducer).ResumeProducing
		deferredtcp.ServeProtocol(a, &producing{register: func(tr deferredtcp.Transport) {
			prod.t = tr
			require.NoError(t, consumer(tr).RegisterProducer(prod, true))
			assert.ErrorIs(t, consumer(tr).RegisterProducer(prod, true), deferredtcp.ErrProducerRegistered)
			r.Schedule(0, prod.tick)
		}})
		run(t, r)
		assert.Equal(t, total, client.n)
		assert.ErrorIs(t, client.lost, deferredtcp.ErrConnectionDone)
		assert.GreaterOrEqual(t, prod.pauses, 1)
		assert.Equal(t, prod.pauses, prod.resumes)
		assert.Zero(t, prod.badPause, "paused only above the high watermark")
		assert.Zero(t, prod.badResum, "resumed only at or below the low watermark")
	})
}

// puller is a pull producer writing one chunk per ResumeProducing.
type puller struct {
	t        deferredtcp.Transport
	sent     int
	calls    int
	overHigh int
	stopped  bool
}

func (p *puller) ResumeProducing() {
	p.calls++
	if buffered(p.t) > high {
		p.overHigh++
	}
	p.t.Write(bytes.Repeat([]byte{'y'}, chunk))
	p.sent += chunk
	if p.sent >= total {
		consumer(p.t).UnregisterProducer()
		p.t.LoseConnection()
	}
}

func (p *puller) StopProducing() { p.stopped = true }

func TestPullProducerAskedWhileBelowWatermark(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		a, b := deferredtcp.Pipe(r, deferredtcp.WithWatermarks(high, low))
		client := &sink{onLost: func() { r.Stop() }}
		deferredtcp.ServeProtocol(b, client)
		prod := &puller{}
		deferredtcp.ServeProtocol(a, &producing{register: func(tr deferredtcp.Transport) {
			prod.t = tr
			assert.ErrorIs(t, consumer(tr).RegisterProducer(&puller{}, true), deferredtcp.ErrNotPushProducer)
			require.NoError(t, consumer(tr).RegisterProducer(prod, false))
		}})
		run(t, r)
		assert.Equal(t, total, client.n)
		assert.Equal(t, total/chunk, prod.calls)
		assert.Zero(t, prod.overHigh, "never asked above the high watermark")
		assert.False(t, prod.stopped, "unregistered before the close")
	})
}

func TestProducerStoppedWhenConnectionLost(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		a, b := deferredtcp.Pipe(r)
		prod := &pusher{r: r}
		client := &sink{onLost: func() { r.Stop() }}
		deferredtcp.ServeProtocol(b, client)
		deferredtcp.ServeProtocol(a, &producing{register: func(tr deferredtcp.Transport) {
			prod.t = tr
			require.NoError(t, consumer(tr).RegisterProducer(prod, true))
			tr.AbortConnection()
		}})
		run(t, r)
		assert.True(t, prod.paused, "StopProducing was called")
		require.NotNil(t, client.lost)
		// Registering on a lost transport stops the producer at once.
		late := &puller{}
		require.NoError(t, consumer(prod.t).RegisterProducer(late, false))
		assert.True(t, late.stopped)
	})
}
