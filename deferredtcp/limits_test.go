package deferredtcp_test

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/reactor"
)

// Resource limits and their defaults: connections per listener, bytes in
// a connection's write buffer, line and frame lengths. Each is bounded by
// default, and going over it ends the connection with a clear reason.

// TestLimitMaxConnections serves with WithMaxConnections(3) and five
// clients: three are accepted, the other two wait in the backlog (their
// connects complete in the kernel) until a served connection closes; then
// one more is accepted per close, never more than three open at once.
func TestLimitMaxConnections(t *testing.T) {
	const limit, clients = 3, 5
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r, deferredtcp.WithMaxConnections(limit))
		var open []*deferredtcp.Conn
		accepted, maxOpen, dialled := 0, 0, 0
		var served []int // accepted count at each check
		// Each step waits (for events) until the expected connections are
		// accepted and every client has connected, then lets 50 ms pass to
		// show that no more are, and closes the oldest served connection.
		expect := limit
		var settle func()
		step := func() {
			if accepted >= expect && dialled == clients {
				r.Schedule(50*time.Millisecond, settle)
			}
		}
		settle = func() {
			served = append(served, accepted)
			if accepted == clients || len(served) > clients {
				l.Close()
				r.Stop()
				return
			}
			expect = accepted + 1
			open[0].Close()
		}
		l.Serve(func(c *deferredtcp.Conn) {
			accepted++
			open = append(open, c)
			maxOpen = max(maxOpen, len(open))
			after(c.Lost(), func() {
				for i, o := range open {
					if o == c {
						open = append(open[:i], open[i+1:]...)
						break
					}
				}
			})
			step()
		})
		r.CallWhenRunning(func() {
			for range clients {
				deferred.Then(deferredtcp.Connect(r, "tcp", l.Addr().String()), func(c *deferredtcp.Conn) (struct{}, error) {
					c.OnData(func([]byte) {})
					c.OnEOF(func() { c.Close() })
					dialled++
					step()
					return struct{}{}, nil
				})
			}
		})
		run(t, r)
		require.Equal(t, []int{3, 4, 5}, served, "accepted after 0, 1 and 2 closes")
		require.Equal(t, limit, maxOpen)
	})
}

// TestLimitMaxWriteBuffer has a writer that ignores backpressure (Send in
// a loop) write to a peer that does not read: once the buffer would exceed
// the bound the write fails with ErrWriteBufferFull and the connection is
// aborted with that reason, instead of the buffer growing. With no option
// the bound is DefaultMaxWriteBuffer, 64 MiB.
func TestLimitMaxWriteBuffer(t *testing.T) {
	require.Equal(t, 64<<20, deferredtcp.DefaultMaxWriteBuffer)
	for _, tc := range []struct {
		name  string
		opts  []deferredtcp.Option
		bound int
	}{
		{"1MiB", []deferredtcp.Option{deferredtcp.WithMaxWriteBuffer(1 << 20)}, 1 << 20},
		{"default", nil, deferredtcp.DefaultMaxWriteBuffer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
				r := newReactor()
				var sendErr error
				var maxBuffered, sent int
				var serverLost, clientLost *outcome[struct{}]
				pair(t, r, func(server, client *deferredtcp.Conn) {
					serverLost = record(server.Lost())
					clientLost = record(client.Lost())
					chunk := make([]byte, 256<<10)
					for sendErr == nil {
						sendErr = server.Send(chunk)
						if sendErr == nil {
							sent += len(chunk)
						}
						maxBuffered = max(maxBuffered, server.Buffered())
					}
					// The peer notices the reset once it reads again.
					after(server.Lost(), func() { client.OnData(func([]byte) {}) })
					after(client.Lost(), stop(r))
				}, tc.opts...)
				run(t, r)
				require.ErrorIs(t, sendErr, deferredtcp.ErrWriteBufferFull)
				require.ErrorIs(t, serverLost.err, deferredtcp.ErrWriteBufferFull, "Lost tells why")
				require.True(t, isReset(clientLost.err), "the peer sees a reset: %v", clientLost.err)
				require.LessOrEqual(t, maxBuffered, tc.bound)
				t.Logf("sent %d bytes before the bound; %d buffered at most", sent, maxBuffered)
			})
		})
	}
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
