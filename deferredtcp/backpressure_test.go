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

// TestSlowReaderBackpressure writes 100 MB, waiting on each Write, to a peer
// that does not read at first: both the writer's buffer and the reader's
// queue stay bounded while it stalls; once the peer reads, every byte
// arrives.
func TestSlowReaderBackpressure(t *testing.T) {
	const total = 100 << 20
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		chunk := make([]byte, 64<<10)
		var sent, received, maxBuffered, stalledBuffered, stalledQueued int
		var writeErr error
		pair(t, r, func(server, client *deferredtcp.Conn) {
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
			// Watch for the stall, then start reading.
			last := -1
			var watch func()
			watch = func() {
				if sent != last {
					last = sent
					r.Schedule(20*time.Millisecond, watch)
					return
				}
				stalledBuffered, stalledQueued = client.Buffered(), server.Queued()
				server.OnData(func(p []byte) { received += len(p) })
				server.OnEOF(func() {
					server.Close()
					r.Stop()
				})
			}
			watch()
		})
		run(t, r)
		require.NoError(t, writeErr)
		require.Equal(t, total, sent)
		require.Equal(t, total, received)
		require.Less(t, maxBuffered, 1<<20, "bytes buffered in the process at most")
		require.LessOrEqual(t, stalledBuffered, deferredtcp.DefaultHighWatermark+len(chunk))
		require.LessOrEqual(t, stalledQueued, 2*deferredtcp.DefaultReadBufferSize, "the reader stopped reading")
		t.Logf("at the stall: %d bytes in the write buffer, %d queued for reading; max %d", stalledBuffered, stalledQueued, maxBuffered)
	})
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

func TestIdleTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var serverLost, clientLost *outcome[struct{}]
		var start time.Time
		var took time.Duration
		pair(t, r, func(server, client *deferredtcp.Conn) {
			start = time.Now()
			server.SetIdleTimeout(60 * time.Millisecond)
			server.OnData(func([]byte) {})
			r.Schedule(40*time.Millisecond, func() { client.Send([]byte("still here")) })
			serverLost = record(server.Lost())
			clientLost = record(client.Lost())
			after(server.Lost(), func() { took = time.Since(start) })
			client.OnEOF(func() { client.Close() })
			after(client.Lost(), stop(r))
		})
		run(t, r)
		require.ErrorIs(t, serverLost.err, deferredtcp.ErrIdleTimeout)
		var ne net.Error
		require.True(t, errors.As(serverLost.err, &ne) && ne.Timeout())
		require.NoError(t, clientLost.err, "the idle connection closed cleanly: the peer read EOF")
		require.GreaterOrEqual(t, took, 100*time.Millisecond, "activity at 40ms pushed the timeout back")
	})
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
