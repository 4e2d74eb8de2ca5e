package deferredtcp_test

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// Resource limits and their defaults: connections per listener, bytes in
// a connection's write buffer, line and frame lengths. Each is bounded by
// default, and going over it ends the connection with a clear reason.

// TestLimitMaxConnections serves with WithMaxConnections(3) and five
// clients, on a test loop: three are accepted, the other two wait in the
// backlog (their connects complete, as in the kernel) until a served
// connection closes; then one more is accepted per close, never more than
// three open at once.
func TestLimitMaxConnections(t *testing.T) {
	const limit, clients = 3, 5
	loop := newTestLoop(t)
	l, err := fired(t, deferredtcp.Listen(loop, "tcp", "server:80", deferredtcp.WithMaxConnections(limit)))
	require.NoError(t, err)
	var open []*deferredtcp.Conn
	accepted, maxOpen := 0, 0
	l.Serve(func(c *deferredtcp.Conn) {
		accepted++
		open = append(open, c)
		maxOpen = max(maxOpen, len(open))
		after(c.Lost(), func() { open = slices.DeleteFunc(open, func(o *deferredtcp.Conn) bool { return o == c }) })
	})
	var dialed []*deferred.Deferred[*deferredtcp.Conn]
	for range clients {
		dialed = append(dialed, deferredtcp.Connect(loop, "tcp", "server:80"))
	}
	var served []int // accepted count once nothing moves any more
	for {
		loop.Flush()
		served = append(served, accepted)
		if accepted == clients || len(served) > clients {
			break
		}
		open[0].Close()
	}
	for _, d := range dialed {
		_, err := fired(t, d)
		require.NoError(t, err, "every client connected at once, accepted or not")
	}
	require.Equal(t, []int{3, 4, 5}, served, "accepted after 0, 1 and 2 closes")
	require.Equal(t, limit, maxOpen)
}

// TestLimitMaxConnectionsOnSockets is TestLimitMaxConnections on real
// sockets, without waiting to see that no more are accepted: all five are
// served in the end, never more than three open at once.
func TestLimitMaxConnectionsOnSockets(t *testing.T) {
	const limit, clients = 3, 5
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r, deferredtcp.WithMaxConnections(limit))
		open, accepted, maxOpen, clientsDone := 0, 0, 0, 0
		l.Serve(func(c *deferredtcp.Conn) {
			accepted++
			open++
			maxOpen = max(maxOpen, open)
			after(c.Lost(), func() { open-- })
			// Serve for a turn of the loop, then close: the next waits.
			r.Schedule(0, func() { c.Close() })
		})
		r.CallWhenRunning(func() {
			for range clients {
				deferred.ThenDeferred(deferredtcp.Connect(r, "tcp", l.Addr().String()), func(c *deferredtcp.Conn) *deferred.Deferred[struct{}] {
					c.OnData(func([]byte) {})
					c.OnEOF(func() { c.Close() })
					return c.Lost()
				}).AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
					require.Nil(t, f)
					if clientsDone++; clientsDone == clients {
						l.Close()
						r.Stop()
					}
					return struct{}{}, nil
				})
			}
		})
		run(t, r)
		require.Equal(t, clients, accepted)
		require.LessOrEqual(t, maxOpen, limit)
	})
}

// TestLimitMaxWriteBuffer has a writer that ignores backpressure (Send in
// a loop) write to a peer that does not read: once the buffer would exceed
// the bound the write fails with ErrWriteBufferFull and the connection is
// aborted with that reason, instead of the buffer growing. With no option
// the bound is DefaultMaxWriteBuffer, 64 MiB.
func TestLimitMaxWriteBuffer(t *testing.T) {
	require.Equal(t, 64<<20, deferredtcp.DefaultMaxWriteBuffer)
	// Over sockets, with a 1 MiB bound.
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var sendErr error
		var maxBuffered, sent int
		var serverLost, clientLost *outcome[struct{}]
		pair(t, r, func(server, client *deferredtcp.Conn) {
			serverLost = record(server.Lost())
			clientLost = record(client.Lost())
			sent, maxBuffered, sendErr = sendUntilFull(server)
			// The peer notices the reset once it reads again.
			after(server.Lost(), func() { client.OnData(func([]byte) {}) })
			after(client.Lost(), stop(r))
		}, deferredtcp.WithMaxWriteBuffer(1<<20))
		run(t, r)
		require.ErrorIs(t, sendErr, deferredtcp.ErrWriteBufferFull)
		require.ErrorIs(t, serverLost.err, deferredtcp.ErrWriteBufferFull, "Lost tells why")
		require.True(t, isReset(clientLost.err), "the peer sees a reset: %v", clientLost.err)
		require.LessOrEqual(t, maxBuffered, 1<<20)
		t.Logf("sent %d bytes before the bound; %d buffered at most", sent, maxBuffered)
	})
	// The default bound applies without the option: one Send over it fails,
	// writing nothing (on a test loop: a 64 MiB buffer proves nothing more
	// than the 1 MiB one, and fills slowly).
	t.Run("default", func(t *testing.T) {
		loop := newTestLoop(t)
		server, client := loopPair(t, loop)
		serverLost, clientLost := server.Lost(), client.Lost()
		require.ErrorIs(t, server.Send(make([]byte, deferredtcp.DefaultMaxWriteBuffer+1)), deferredtcp.ErrWriteBufferFull)
		loop.Flush()
		_, err := fired(t, serverLost)
		require.ErrorIs(t, err, deferredtcp.ErrWriteBufferFull, "Lost tells why")
		_, err = fired(t, clientLost)
		require.True(t, isReset(err), "the peer sees a reset: %v", err)
		require.Zero(t, client.Queued(), "nothing was written")
	})
}

// sendUntilFull Sends 256 KiB chunks to c, ignoring backpressure, until a
// Send fails; it returns the bytes sent, the most buffered, and the error.
func sendUntilFull(c *deferredtcp.Conn) (sent, maxBuffered int, err error) {
	chunk := make([]byte, 256<<10)
	for err == nil {
		if err = c.Send(chunk); err == nil {
			sent += len(chunk)
		}
		maxBuffered = max(maxBuffered, c.Buffered())
	}
	return sent, maxBuffered, err
}

// TestLimitLineLengthDefault reads lines with ReadUntil's max at 0: the
// default, DefaultLineMaxLength (16 KiB, as LineReceiver's), applies.
func TestLimitLineLengthDefault(t *testing.T) {
	require.Equal(t, 16384, deferredtcp.DefaultLineMaxLength)
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var first, second *outcome[[]byte]
		var lost *outcome[struct{}]
		pair(t, r, func(server, client *deferredtcp.Conn) {
			client.OnData(func([]byte) {})
			client.Write(append(bytes.Repeat([]byte("a"), deferredtcp.DefaultLineMaxLength), '\n'))
			client.Write(append(bytes.Repeat([]byte("b"), deferredtcp.DefaultLineMaxLength+1), '\n'))
			lost = record(server.Lost())
			d := server.ReadUntil([]byte("\n"), 0)
			first = record(d)
			after(d, func() {
				second = record(server.ReadUntil([]byte("\n"), -1))
				after(server.Lost(), func() { after(client.Close(), stop(r)) })
			})
		})
		run(t, r)
		require.NoError(t, first.err)
		require.Len(t, first.value, deferredtcp.DefaultLineMaxLength)
		require.ErrorIs(t, second.err, deferredtcp.ErrLineTooLong)
		require.ErrorIs(t, lost.err, deferredtcp.ErrLineTooLong)
	})
}

// TestLimitFrameLengthDefault reads a length-prefixed string and a
// netstring with max at 0: the default, DefaultStringMaxLength (99 999, as
// Twisted's), applies, so a 2 GiB prefix fails at once (with nothing
// allocated for it) and closes the connection.
func TestLimitFrameLengthDefault(t *testing.T) {
	require.Equal(t, 99999, deferredtcp.DefaultStringMaxLength)
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var prefixed, netstring *outcome[[]byte]
		var lost1, lost2 *outcome[struct{}]
		left := 2
		done := func() {
			if left--; left == 0 {
				r.Stop()
			}
		}
		pair(t, r, func(server, client *deferredtcp.Conn) {
			lost1 = record(server.Lost())
			client.OnData(func([]byte) {})
			client.Write(binary.BigEndian.AppendUint32(nil, 1<<31))
			prefixed = record(deferredtcp.ReadInt32String(server, 0))
			after(server.Lost(), func() { after(client.Close(), done) })
		})
		pair(t, r, func(server, client *deferredtcp.Conn) {
			lost2 = record(server.Lost())
			client.OnData(func([]byte) {})
			client.Write([]byte("100000:"))
			netstring = record(deferredtcp.ReadNetstring(server, 0))
			after(server.Lost(), func() { after(client.Close(), done) })
		})
		run(t, r)
		require.ErrorIs(t, prefixed.err, deferredtcp.ErrLengthLimitExceeded)
		require.ErrorIs(t, lost1.err, deferredtcp.ErrLengthLimitExceeded)
		require.ErrorIs(t, netstring.err, deferredtcp.ErrNetstringParse)
		require.ErrorIs(t, lost2.err, deferredtcp.ErrNetstringParse)
	})
}
