package deferredtcp_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// pair connects a client to a fresh listener on r and returns both ends
// through ready, on the loop.
func pair(t testing.TB, r *reactor.Reactor, ready func(server, client *deferredtcp.Conn), opts ...deferredtcp.Option) {
	t.Helper()
	l := listen(t, r, opts...)
	r.CallWhenRunning(func() {
		var server, client *deferredtcp.Conn
		both := func() {
			if server != nil && client != nil {
				l.Close()
				ready(server, client)
			}
		}
		deferred.Then(l.Accept(), func(c *deferredtcp.Conn) (struct{}, error) {
			server = c
			both()
			return struct{}{}, nil
		})
		deferred.Then(deferredtcp.Connect(r, "tcp", l.Addr().String(), opts...), func(c *deferredtcp.Conn) (struct{}, error) {
			client = c
			both()
			return struct{}{}, nil
		}).AddErrback(func(f *failure.Failure) (struct{}, error) {
			t.Errorf("connect: %v", f)
			r.Stop()
			return struct{}{}, nil
		})
	})
}

func TestEchoChain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		for _, network := range []string{"tcp", "unix"} {
			t.Run(network, func(t *testing.T) {
				r := newReactor()
				addr := "127.0.0.1:0"
				if network == "unix" {
					addr = t.TempDir() + "/echo.sock"
				}
				l, err := deferredtcp.Listen(r, network, addr).Wait(t.Context())
				require.NoError(t, err)
				l.Serve(echo)
				var got []string
				var lost *outcome[struct{}]
				r.CallWhenRunning(func() {
					deferred.Then(deferredtcp.Connect(r, network, l.Addr().String()), func(c *deferredtcp.Conn) (struct{}, error) {
						lost = record(c.Lost())
						var round func(i int)
						round = func(i int) {
							if i == 5 {
								c.Close()
								return
							}
							msg := fmt.Sprintf("message %d", i)
							deferred.ThenDeferred(c.Write([]byte(msg)), func(int) *deferred.Deferred[[]byte] {
								return c.ReadFull(len(msg))
							}).AddCallback(func(p []byte) ([]byte, error) {
								got = append(got, string(p))
								round(i + 1)
								return p, nil
							})
						}
						round(0)
						after(c.Lost(), stop(r))
						return struct{}{}, nil
					})
				})
				run(t, r)
				require.Equal(t, []string{"message 0", "message 1", "message 2", "message 3", "message 4"}, got)
				require.True(t, lost.done)
				require.NoError(t, lost.err)
			})
		}
	})
}

// after runs f once d has fired, and handles d's Failure.
func after[T any](d *deferred.Deferred[T], f func()) {
	d.AddBoth(func(v T, _ *failure.Failure) (T, error) {
		f()
		return v, nil
	})
}

// trickle writes p one byte per loop iteration.
func trickle(r *reactor.Reactor, c *deferredtcp.Conn, p []byte) {
	if len(p) == 0 {
		return
	}
	c.Send(p[:1])
	r.Schedule(time.Millisecond, func() { trickle(r, c, p[1:]) })
}

func TestReadFullAcrossFragments(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var got *outcome[[]byte]
		pair(t, r, func(server, client *deferredtcp.Conn) {
			trickle(r, client, []byte("0123456789"))
			d := server.ReadFull(10)
			got = record(d)
			after(d, stop(r))
		})
		run(t, r)
		require.NoError(t, got.err)
		require.Equal(t, "0123456789", string(got.value))
	})
}

func TestReadUntil(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var lines []string
		pair(t, r, func(server, client *deferredtcp.Conn) {
			client.Send([]byte("li"))
			r.Schedule(time.Millisecond, func() { client.Send([]byte("ne1\r\nline2\r")) })
			r.Schedule(2*time.Millisecond, func() { client.Send([]byte("\n\r\nline3\r\nrest")) })
			r.Schedule(3*time.Millisecond, func() { client.Close() })
			var next func()
			next = func() {
				server.ReadUntil([]byte("\r\n"), 10).AddCallbacks(func(p []byte) ([]byte, error) {
					lines = append(lines, string(p))
					next()
					return nil, nil
				}, func(f *failure.Failure) ([]byte, error) {
					lines = append(lines, f.Error())
					deferred.Then(server.Read(), func(p []byte) ([]byte, error) {
						lines = append(lines, string(p))
						server.Close()
						r.Stop()
						return nil, nil
					})
					return nil, nil
				})
			}
			next()
		})
		run(t, r)
		require.Equal(t, []string{"line1", "line2", "", "line3", io.ErrUnexpectedEOF.Error(), "rest"}, lines)
	})
}

func TestReadUntilLineTooLong(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var line *outcome[[]byte]
		var lost *outcome[struct{}]
		var peer *outcome[[]byte]
		pair(t, r, func(server, client *deferredtcp.Conn) {
			lost = record(server.Lost())
			client.Write(bytes.Repeat([]byte("x"), 200))
			line = record(server.ReadUntil([]byte("\n"), 100))
			all := readAll(client)
			peer = record(all)
			after(all, stop(r))
		})
		run(t, r)
		require.ErrorIs(t, line.err, deferredtcp.ErrLineTooLong)
		require.ErrorIs(t, lost.err, deferredtcp.ErrLineTooLong)
		require.NoError(t, peer.err, "the peer sees a clean end of stream")
	})
}

func TestSecondReadIsAnError(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var second *outcome[[]byte]
		var first *outcome[[]byte]
		pair(t, r, func(server, client *deferredtcp.Conn) {
			first = record(server.Read())
			second = record(server.ReadFull(3))
			client.Abort()
			after(server.Lost(), stop(r))
		})
		run(t, r)
		require.ErrorIs(t, second.err, deferredtcp.ErrReadPending)
		require.True(t, first.done)
		require.Error(t, first.err, "the pending read fails when the peer resets")
	})
}

func TestWriteOneMiBThenClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		payload := make([]byte, 1<<20)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		var got *outcome[[]byte]
		var wrote *outcome[int]
		pair(t, r, func(server, client *deferredtcp.Conn) {
			wrote = record(server.Write(payload))
			server.Close()
			all := readAll(client)
			got = record(all)
			after(all, func() { after(client.Close(), stop(r)) })
		})
		run(t, r)
		require.NoError(t, wrote.err)
		require.NoError(t, got.err)
		require.True(t, bytes.Equal(payload, got.value), "got %d bytes, want %d", len(got.value), len(payload))
	})
}

func TestAbort(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var serverLost, clientLost *outcome[struct{}]
		var write *outcome[int]
		pair(t, r, func(server, client *deferredtcp.Conn) {
			serverLost = record(server.Lost())
			clientLost = record(client.Lost())
			server.Abort()
			write = record(server.Write([]byte("late")))
			after(client.Lost(), stop(r))
		})
		run(t, r)
		require.ErrorIs(t, serverLost.err, deferredtcp.ErrAborted)
		require.Error(t, clientLost.err, "the peer's Lost is a failure")
		require.ErrorIs(t, clientLost.err, syscall.ECONNRESET, "got %v", clientLost.err)
		require.ErrorIs(t, write.err, net.ErrClosed)
	})
}

func TestCloseWrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var request []byte
		var answer *outcome[[]byte]
		var clientLost, serverLost *outcome[struct{}]
		var closeWriteErr error
		var lateWrite *outcome[int]
		pair(t, r, func(server, client *deferredtcp.Conn) {
			clientLost = record(client.Lost())
			serverLost = record(server.Lost())
			client.Write([]byte("ping"))
			closeWriteErr = client.CloseWrite()
			lateWrite = record(client.Write([]byte("too late")))
			deferred.ThenDeferred(readAll(server), func(p []byte) *deferred.Deferred[int] {
				request = p
				return server.Write([]byte("pong")) // still open for writing after EOF
			}).AddBoth(func(int, *failure.Failure) (int, error) {
				server.Close()
				return 0, nil
			})
			answer = record(readAll(client))
			after(client.Lost(), stop(r))
		})
		run(t, r)
		require.NoError(t, closeWriteErr)
		require.ErrorIs(t, lateWrite.err, deferredtcp.ErrClosed)
		require.Equal(t, "ping", string(request))
		require.NoError(t, answer.err)
		require.Equal(t, "pong", string(answer.value))
		require.NoError(t, clientLost.err, "both halves closed: a clean close")
		require.NoError(t, serverLost.err)
	})
}
