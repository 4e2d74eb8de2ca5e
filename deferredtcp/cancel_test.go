package deferredtcp_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// TestLostCancelUnsubscribes makes a million Lost subscriptions on one open
// connection and cancels each: the live heap grows by less than 1 MB, and
// a subscription left alone still fires when the connection closes. When
// cancelling left the subscription in place, a million of them held
// 150 MB. Under -race it makes 30 000 (which held 4.5 MB, over four times
// the bound): a million would take minutes there (each Cancel records a
// stack trace in its Failure) without telling more. The subscriptions are
// the same on both backends; the million runs on epoll only.
func TestLostCancelUnsubscribes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		n := 30_000
		if !raceEnabled && r.Backend() == reactor.Epoll {
			n = 1_000_000
		}
		var grown int64
		var kept, cancelled *outcome[struct{}]
		var took time.Duration
		pair(t, r, func(server, client *deferredtcp.Conn) {
			kept = record(server.Lost())
			before := liveHeap()
			start := time.Now()
			ignore := func(*failure.Failure) (struct{}, error) { return struct{}{}, nil }
			for range n {
				d := server.Lost()
				d.Cancel()
				d.AddErrback(ignore)
			}
			took = time.Since(start)
			grown = int64(liveHeap()) - int64(before)
			d := server.Lost()
			cancelled = record(d)
			d.Cancel()
			server.Close()
			after(client.Close(), stop(r))
		})
		run(t, r)
		t.Logf("%d Lost+Cancel in %v; live heap grew by %d bytes", n, took, grown)
		require.Less(t, grown, int64(1<<20))
		require.True(t, kept.done)
		require.NoError(t, kept.err)
		require.ErrorIs(t, cancelled.err, deferred.ErrCancelled)
	})
}

// TestReadTimeoutOnAnotherGoroutine reads with AddTimeout on
// deferred.SystemClock, whose timeouts cancel the read on a timer goroutine,
// while the peer sends lines at random moments: reads of every kind
// (Read, ReadFull, ReadUntil) time out often, yet under -race nothing
// races, and every byte sent is read exactly once, in order, however the
// timeouts and the arrivals interleave.
func TestReadTimeoutOnAnotherGoroutine(t *testing.T) {
	const lines = 300
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var want, got []byte
		for i := range lines {
			want = fmt.Appendf(want, "%04d:%s\n", i, strings.Repeat("x", 44))
		}
		var timeouts atomic.Int64
		pair(t, r, func(server, client *deferredtcp.Conn) {
			var send func(p []byte)
			send = func(p []byte) {
				if len(p) == 0 {
					return
				}
				client.Send(p[:50])
				r.Schedule(time.Duration(rand.IntN(300))*time.Microsecond, func() { send(p[50:]) })
			}
			send(want)
			kind := 0
			var next func()
			next = func() { // on the loop
				if len(got) == len(want) {
					server.Close()
					after(client.Close(), stop(r))
					return
				}
				var d *deferred.Deferred[[]byte]
				suffix := ""
				switch kind++; kind % 3 {
				case 0:
					d = server.Read()
				case 1:
					d = server.ReadFull(7)
				case 2:
					d, suffix = server.ReadUntil([]byte("\n"), 0), "\n"
				}
				timeout := time.Duration(rand.IntN(300)) * time.Microsecond
				d.AddTimeout(timeout, deferred.SystemClock).AddBoth(func(p []byte, f *failure.Failure) ([]byte, error) {
					switch {
					case f == nil: // fired by the loop, on the loop
						got = append(append(got, p...), suffix...)
						next()
					case errors.Is(f, deferred.ErrTimeout): // on the timer's goroutine
						timeouts.Add(1)
						r.CallFromGoroutine(next)
					default:
						t.Errorf("read: %v", f)
						r.Stop()
					}
					return nil, nil
				})
			}
			next()
		})
		run(t, r)
		t.Logf("%d reads timed out", timeouts.Load())
		require.Equal(t, string(want), string(got))
		require.NotZero(t, timeouts.Load())
	})
}

// TestAcceptAndReadFromCancelledOnAnotherGoroutine times an Accept and a
// UDP ReadFrom out on deferred.SystemClock: under -race nothing races, and
// the connection and the datagram that come next go to the next Accept and
// ReadFrom.
func TestAcceptAndReadFromCancelledOnAnotherGoroutine(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r)
		u := record(deferredtcp.ListenUDP(r, "127.0.0.1:0"))
		require.NoError(t, u.err)
		var accepted, dialled *outcome[*deferredtcp.Conn]
		var packet *outcome[deferredtcp.Packet]
		var acceptErr, readErr atomic.Value
		left := 2
		done := func() {
			if left--; left == 0 {
				r.Stop()
			}
		}
		r.CallWhenRunning(func() {
			l.Accept().AddTimeout(time.Millisecond, deferred.SystemClock).AddErrback(func(f *failure.Failure) (*deferredtcp.Conn, error) {
				acceptErr.Store(error(f))
				r.CallFromGoroutine(func() {
					d := l.Accept()
					accepted = record(d)
					c := deferredtcp.Connect(r, "tcp", l.Addr().String())
					dialled = record(c)
					after(d, func() {
						after(c, func() {
							if accepted.err == nil {
								accepted.value.Close()
							}
							if dialled.err == nil {
								dialled.value.Close()
							}
							done()
						})
					})
				})
				return nil, nil
			})
			u.value.ReadFrom().AddTimeout(time.Millisecond, deferred.SystemClock).AddErrback(func(f *failure.Failure) (deferredtcp.Packet, error) {
				readErr.Store(error(f))
				r.CallFromGoroutine(func() {
					d := u.value.ReadFrom()
					packet = record(d)
					after(d, done)
					require.NoError(t, u.value.WriteTo([]byte("hello"), u.value.LocalAddr()))
				})
				return deferredtcp.Packet{}, nil
			})
		})
		run(t, r)
		require.ErrorIs(t, acceptErr.Load().(error), deferred.ErrTimeout)
		require.ErrorIs(t, readErr.Load().(error), deferred.ErrTimeout)
		require.NoError(t, accepted.err)
		require.NoError(t, dialled.err)
		require.NoError(t, packet.err)
		require.Equal(t, "hello", string(packet.value.Data))
	})
}
