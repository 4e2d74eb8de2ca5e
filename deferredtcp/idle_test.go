package deferredtcp_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/deferredtcp"
)

// These tests run on a test loop: an idle timeout is time, which the fake
// clock steps exactly, so each checks that nothing happens a nanosecond
// before the timeout and what happens at it.

const idle = 40 * time.Second

// TestIdleTimeoutGoodbye says goodbye from the OnIdleTimeout hook: the
// connection then closes cleanly, so the peer reads the goodbye and EOF,
// and Lost reports ErrIdleTimeout.
func TestIdleTimeoutGoodbye(t *testing.T) {
	loop := newTestLoop(t)
	server, client := loopPair(t, loop)
	start := loop.Now()
	var took time.Duration
	calls := 0
	server.SetIdleTimeout(idle)
	server.OnIdleTimeout(func() deferredtcp.IdleAction {
		calls++
		took = loop.Now().Sub(start)
		server.Write([]byte("goodbye\n"))
		return deferredtcp.IdleClose
	})
	lost := server.Lost()
	got := readAll(client)
	loop.Advance(idle - time.Nanosecond)
	require.Zero(t, calls, "a nanosecond before the timeout")
	loop.Advance(time.Nanosecond)
	require.Equal(t, 1, calls)
	require.Equal(t, idle, took)
	p, err := fired(t, got)
	require.NoError(t, err)
	require.Equal(t, "goodbye\n", string(p), "the goodbye, then EOF")
	_, err = fired(t, lost)
	require.ErrorIs(t, err, deferredtcp.ErrIdleTimeout)
	client.Close()
}

// TestIdleTimeoutAbort returns IdleAbort from the hook: the connection is
// aborted, its buffered bytes dropped, and the peer sees a reset.
func TestIdleTimeoutAbort(t *testing.T) {
	loop := newTestLoop(t)
	server, client := loopPair(t, loop)
	server.SetIdleTimeout(idle)
	server.OnIdleTimeout(func() deferredtcp.IdleAction {
		server.Write([]byte("never sent")) // dropped by the abort
		return deferredtcp.IdleAbort
	})
	serverLost, clientLost := server.Lost(), client.Lost()
	var heard []byte
	client.OnData(func(p []byte) { heard = append(heard, p...) })
	loop.Advance(idle - time.Nanosecond)
	require.False(t, serverLost.Called(), "a nanosecond before the timeout")
	loop.Advance(time.Nanosecond)
	_, err := fired(t, serverLost)
	require.ErrorIs(t, err, deferredtcp.ErrIdleTimeout)
	_, err = fired(t, clientLost)
	require.True(t, isReset(err), "the peer sees a reset: %v", err)
	require.Empty(t, heard, "the buffered goodbye is dropped")
}

// TestIdleTimeoutKeep returns IdleKeep once: the connection stays open and
// the timeout starts over; the second time the default, a clean close,
// applies.
func TestIdleTimeoutKeep(t *testing.T) {
	loop := newTestLoop(t)
	server, client := loopPair(t, loop)
	start := loop.Now()
	calls := 0
	server.SetIdleTimeout(idle)
	server.OnIdleTimeout(func() deferredtcp.IdleAction {
		if calls++; calls == 1 {
			return deferredtcp.IdleKeep
		}
		server.OnIdleTimeout(nil)
		return deferredtcp.IdleClose
	})
	lost := server.Lost()
	var took time.Duration
	after(server.Lost(), func() { took = loop.Now().Sub(start) })
	client.OnEOF(func() { client.Close() })
	clientLost := client.Lost()
	loop.Advance(idle)
	require.Equal(t, 1, calls)
	loop.Advance(idle - time.Nanosecond)
	require.False(t, lost.Called(), "kept: the timeout started over")
	loop.Advance(time.Nanosecond)
	require.Equal(t, 2, calls)
	_, err := fired(t, lost)
	require.ErrorIs(t, err, deferredtcp.ErrIdleTimeout)
	require.Equal(t, 2*idle, took)
	_, err = fired(t, clientLost)
	require.NoError(t, err, "closed cleanly")
}

// TestIdleTimeoutStalledFlush times out a connection whose peer does not
// read while 1 MiB waits in its write buffer (the in-memory connection
// holds 64 KiB in flight): the clean close cannot flush, and once that
// makes no progress for another timeout period the connection is aborted,
// instead of waiting for the peer forever.
func TestIdleTimeoutStalledFlush(t *testing.T) {
	loop := newTestLoop(t)
	server, client := loopPair(t, loop)
	require.NoError(t, server.Send(bytes.Repeat([]byte("x"), 1<<20)))
	start := loop.Now()
	var buffered int
	server.SetIdleTimeout(idle)
	server.OnIdleTimeout(func() deferredtcp.IdleAction {
		buffered = server.Buffered()
		return deferredtcp.IdleClose
	})
	lost := server.Lost()
	var took time.Duration
	after(server.Lost(), func() { took = loop.Now().Sub(start) })
	loop.Advance(idle)
	require.Greater(t, buffered, 0, "the flush was stuck")
	loop.Advance(idle - time.Nanosecond)
	require.False(t, lost.Called(), "the flush is given a whole period")
	loop.Advance(time.Nanosecond)
	_, err := fired(t, lost)
	require.ErrorIs(t, err, deferredtcp.ErrIdleTimeout)
	require.Equal(t, 2*idle, took, "a period to time out, another to give up the flush")
	_, err = fired(t, client.Lost())
	require.True(t, isReset(err), "the peer sees a reset: %v", err)
}
