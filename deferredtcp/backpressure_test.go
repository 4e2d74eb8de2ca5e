package deferredtcp_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// TestSlowReaderBackpressure writes 16 MB, waiting on each Write, to a peer
// that does not read at first, on a test loop: once nothing moves any more
// (the stall, 128 KiB in), both the writer's buffer and the reader's queue
// are bounded; once the peer reads, every byte arrives.
// (TestFaultSlowReader100MB writes 100 MB over sockets, to a reader that is
// slow.)
func TestSlowReaderBackpressure(t *testing.T) {
	const total = 16 << 20
	loop := newTestLoop(t)
	server, client := loopPair(t, loop)
	chunk := make([]byte, 64<<10)
	var sent, received, maxBuffered int
	var writeErr error
	var write func()
	write = func() {
		for sent < total {
			d := client.Write(chunk)
			maxBuffered = max(maxBuffered, client.Buffered()+server.Queued())
			if !d.Called() {
				d.AddCallbacks(func(int) (int, error) {
					sent += len(chunk)
					write()
					return 0, nil
				}, func(f *failure.Failure) (int, error) {
					writeErr = f
					return 0, nil
				})
				return
			}
			sent += len(chunk)
		}
		client.Close()
	}
	write()
	loop.Flush()
	require.Less(t, sent, total, "the writer stalled")
	stalledBuffered, stalledQueued := client.Buffered(), server.Queued()
	server.OnData(func(p []byte) { received += len(p) })
	eof := false
	server.OnEOF(func() { eof = true; server.Close() })
	loop.Flush()
	require.True(t, eof)
	require.NoError(t, writeErr)
	require.Equal(t, total, sent)
	require.Equal(t, total, received)
	require.Less(t, maxBuffered, 1<<20, "bytes buffered in the process at most")
	require.LessOrEqual(t, stalledBuffered, deferredtcp.DefaultHighWatermark+len(chunk))
	require.LessOrEqual(t, stalledQueued, 2*deferredtcp.DefaultReadBufferSize, "the reader stopped reading")
	t.Logf("at the stall: %d bytes in the write buffer, %d queued for reading; max %d", stalledBuffered, stalledQueued, maxBuffered)
}

func TestWriteWaitsForLowWatermark(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var firedAt, full int
		var d *deferred.Deferred[int]
		pair(t, r, func(server, client *deferredtcp.Conn) {
			// Fill the kernel's buffers and ours past the high watermark.
			big := make([]byte, 16<<20)
			d = client.Write(big)
			full = client.Buffered()
			d.AddCallback(func(n int) (int, error) {
				firedAt = client.Buffered()
				client.Close()
				server.Close()
				r.Stop()
				return n, nil
			})
			server.OnData(func([]byte) {})
		}, deferredtcp.WithWatermarks(1<<20, 256<<10))
		run(t, r)
		require.Greater(t, full, 1<<20)
		require.LessOrEqual(t, firedAt, 256<<10)
	})
}

func TestMaxWriteBuffer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var err error
		pair(t, r, func(server, client *deferredtcp.Conn) {
			err = client.Send(make([]byte, 2<<20))
			client.Abort()
			server.Abort()
			r.Stop()
		}, deferredtcp.WithMaxWriteBuffer(1<<20))
		run(t, r)
		require.ErrorIs(t, err, deferredtcp.ErrWriteBufferFull)
	})
}

// TestIdleTimeout, on a test loop: activity (a byte read) pushes the
// timeout back; with none for the whole timeout, the connection is closed
// cleanly and Lost reports ErrIdleTimeout, a net.Error whose Timeout is true.
func TestIdleTimeout(t *testing.T) {
	loop := newTestLoop(t)
	server, client := loopPair(t, loop)
	start := loop.Now()
	server.SetIdleTimeout(60 * time.Millisecond)
	server.OnData(func([]byte) {})
	client.OnEOF(func() { client.Close() })
	serverLost, clientLost := server.Lost(), client.Lost()
	loop.Advance(40 * time.Millisecond)
	client.Send([]byte("still here"))
	loop.Advance(59 * time.Millisecond)
	require.False(t, serverLost.Called(), "activity at 40ms pushed the timeout back")
	loop.Advance(time.Millisecond)
	loop.Flush()
	_, err := fired(t, serverLost)
	require.ErrorIs(t, err, deferredtcp.ErrIdleTimeout)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout())
	require.Equal(t, 100*time.Millisecond, loop.Now().Sub(start))
	_, err = fired(t, clientLost)
	require.NoError(t, err, "the idle connection closed cleanly: the peer read EOF")
}

func TestOnDataEcho(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r)
		l.Serve(func(c *deferredtcp.Conn) {
			c.OnData(func(p []byte) { c.Send(p) })
			c.OnEOF(func() { c.Close() })
		})
		var got *outcome[[]byte]
		r.CallWhenRunning(func() {
			deferred.Then(deferredtcp.Connect(r, "tcp", l.Addr().String()), func(c *deferredtcp.Conn) (struct{}, error) {
				c.Write([]byte("fast "))
				c.Write([]byte("path"))
				c.CloseWrite()
				all := readAll(c)
				got = record(all)
				after(all, stop(r))
				return struct{}{}, nil
			})
		})
		run(t, r)
		require.NoError(t, got.err)
		require.Equal(t, "fast path", string(got.value))
	})
}
