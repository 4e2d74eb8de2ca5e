package deferredtcp_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/reactor"
)

// These tests run on real time with short timeouts: a Conn's idle timer
// runs on its reactor, which has no fake clock yet.

const idle = 40 * time.Millisecond

// TestIdleTimeoutGoodbye says goodbye from the OnIdleTimeout hook: the
// connection then closes cleanly, so the peer reads the goodbye and EOF,
// and Lost reports ErrIdleTimeout.
func TestIdleTimeoutGoodbye(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var got *outcome[[]byte]
		var lost *outcome[struct{}]
		var start time.Time
		var took time.Duration
		calls := 0
		pair(t, r, func(server, client *deferredtcp.Conn) {
			start = time.Now()
			server.SetIdleTimeout(idle)
			server.OnIdleTimeout(func() deferredtcp.IdleAction {
				calls++
				took = time.Since(start)
				server.Write([]byte("goodbye\n"))
				return deferredtcp.IdleClose
			})
			lost = record(server.Lost())
			d := readAll(client)
			got = record(d)
			after(d, func() { after(client.Close(), stop(r)) })
		})
		run(t, r)
		require.Equal(t, 1, calls)
		require.GreaterOrEqual(t, took, idle)
		require.NoError(t, got.err)
		require.Equal(t, "goodbye\n", string(got.value), "the goodbye, then EOF")
		require.ErrorIs(t, lost.err, deferredtcp.ErrIdleTimeout)
	})
}

// TestIdleTimeoutAbort returns IdleAbort from the hook: the connection is
// aborted, its buffered bytes dropped, and the peer sees a reset.
func TestIdleTimeoutAbort(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var serverLost, clientLost *outcome[struct{}]
		pair(t, r, func(server, client *deferredtcp.Conn) {
			server.SetIdleTimeout(idle)
			server.OnIdleTimeout(func() deferredtcp.IdleAction {
				server.Write([]byte("never sent")) // dropped by the abort, if not already out
				return deferredtcp.IdleAbort
			})
			serverLost = record(server.Lost())
			after(server.Lost(), func() { client.OnData(func([]byte) {}) })
			clientLost = record(client.Lost())
			after(client.Lost(), stop(r))
		})
		run(t, r)
		require.ErrorIs(t, serverLost.err, deferredtcp.ErrIdleTimeout)
		require.True(t, isReset(clientLost.err), "the peer sees a reset: %v", clientLost.err)
	})
}

// TestIdleTimeoutKeep returns IdleKeep once: the connection stays open and
// the timeout starts over; the second time the default, a clean close,
// applies.
func TestIdleTimeoutKeep(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var lost, clientLost *outcome[struct{}]
		var start time.Time
		var took time.Duration
		calls := 0
		pair(t, r, func(server, client *deferredtcp.Conn) {
			start = time.Now()
			server.SetIdleTimeout(idle)
			server.OnIdleTimeout(func() deferredtcp.IdleAction {
				if calls++; calls == 1 {
					return deferredtcp.IdleKeep
				}
				server.OnIdleTimeout(nil)
				return deferredtcp.IdleClose
			})
			lost = record(server.Lost())
			after(server.Lost(), func() { took = time.Since(start) })
			client.OnEOF(func() { client.Close() })
			clientLost = record(client.Lost())
			after(client.Lost(), stop(r))
		})
		run(t, r)
		require.Equal(t, 2, calls)
		require.GreaterOrEqual(t, took, 2*idle)
		require.ErrorIs(t, lost.err, deferredtcp.ErrIdleTimeout)
		require.NoError(t, clientLost.err, "closed cleanly")
	})
}

// TestIdleTimeoutStalledFlush times out a connection whose peer does not
// read while 8 MiB wait in its write buffer: the clean close cannot flush,
// and once that makes no progress for another timeout period the
// connection is aborted, instead of waiting for the peer forever.
func TestIdleTimeoutStalledFlush(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var lost *outcome[struct{}]
		var buffered int
		var start time.Time
		var took time.Duration
		pair(t, r, func(server, client *deferredtcp.Conn) {
			require.NoError(t, server.Send(bytes.Repeat([]byte("x"), 8<<20)))
			start = time.Now()
			server.SetIdleTimeout(idle)
			server.OnIdleTimeout(func() deferredtcp.IdleAction {
				buffered = server.Buffered()
				return deferredtcp.IdleClose
			})
			lost = record(server.Lost())
			after(server.Lost(), func() {
				took = time.Since(start)
				client.Abort()
				r.Stop()
			})
		})
		run(t, r)
		require.Greater(t, buffered, 0, "the flush was stuck")
		require.ErrorIs(t, lost.err, deferredtcp.ErrIdleTimeout)
		require.GreaterOrEqual(t, took, 2*idle, "a period to time out, another to give up the flush")
		require.Less(t, took, 2*idle+time.Second)
	})
}
