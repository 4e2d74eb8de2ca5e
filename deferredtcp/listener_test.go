package deferredtcp_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

func TestListenerCloseStopsAccepts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r)
		addr := l.Addr().String()
		var pending, afterClose *outcome[*deferredtcp.Conn]
		var closed *outcome[struct{}]
		var refused *outcome[*deferredtcp.Conn]
		r.CallWhenRunning(func() {
			pending = record(l.Accept())
			c := l.Close()
			closed = record(c)
			afterClose = record(l.Accept())
			after(c, func() {
				d := deferredtcp.Connect(r, "tcp", addr)
				refused = record(d)
				after(d, stop(r))
			})
		})
		run(t, r)
		require.ErrorIs(t, pending.err, deferredtcp.ErrClosed)
		require.ErrorIs(t, afterClose.err, net.ErrClosed)
		require.True(t, closed.done)
		require.NoError(t, closed.err)
		require.ErrorIs(t, refused.err, syscall.ECONNREFUSED)
	})
}

func TestServeManyClients(t *testing.T) {
	const clients = 200
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r, deferredtcp.WithBacklog(clients))
		served := 0
		l.Serve(func(c *deferredtcp.Conn) {
			served++
			echo(c)
		})
		ok, failed := 0, 0
		r.CallWhenRunning(func() {
			for i := range clients {
				msg := []byte(fmt.Sprintf("client %03d says hello", i))
				deferred.ThenDeferred(deferredtcp.Connect(r, "tcp", l.Addr().String()), func(c *deferredtcp.Conn) *deferred.Deferred[[]byte] {
					c.Write(msg)
					return deferred.ThenDeferred(c.ReadFull(len(msg)), func(p []byte) *deferred.Deferred[[]byte] {
						c.Close()
						return deferred.Succeed(p)
					})
				}).AddBoth(func(p []byte, f *failure.Failure) ([]byte, error) {
					if f == nil && bytes.Equal(p, msg) {
						ok++
					} else {
						failed++
						t.Errorf("client %d: %q, %v", i, p, f)
					}
					if ok+failed == clients {
						r.Stop()
					}
					return nil, nil
				})
			}
		})
		run(t, r)
		require.Equal(t, clients, ok)
		require.Equal(t, clients, served)
	})
}

func TestStopClosesEverything(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var lost []*outcome[struct{}]
		pair(t, r, func(server, client *deferredtcp.Conn) {
			lost = append(lost, record(server.Lost()), record(client.Lost()))
			server.Write([]byte("unread"))
			r.Stop()
		})
		l := listen(t, r) // a listener still open at Stop
		_ = l
		run(t, r)
		require.Len(t, lost, 2)
		for _, o := range lost {
			require.True(t, o.done, "Lost fired at Stop")
		}
	})
}

func TestListenGroup(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		b := newReactor().Backend()
		g := reactor.NewGroup(2, reactor.WithBackend(b))
		var mu sync.Mutex
		perLoop := map[*reactor.Reactor]int{}
		gl, err := deferredtcp.ListenGroup(g, "tcp", "127.0.0.1:0", func(c *deferredtcp.Conn) {
			mu.Lock()
			perLoop[c.Reactor()]++
			mu.Unlock()
			echo(c)
		})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- g.Run() }()
		const clients = 20
		var wg sync.WaitGroup
		for i := range clients {
			wg.Go(func() {
				c, err := net.Dial("tcp", gl.Addr().String())
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				msg := []byte(fmt.Sprintf("hello %d", i))
				c.Write(msg)
				got := make([]byte, len(msg))
				_, err = io.ReadFull(c, got)
				if err != nil || !bytes.Equal(got, msg) {
					t.Errorf("echo: %q, %v", got, err)
				}
			})
		}
		wg.Wait()
		_, err = gl.Close().Wait(t.Context())
		require.NoError(t, err)
		g.Stop()
		require.NoError(t, <-done)
		total := 0
		for _, n := range perLoop {
			total += n
		}
		require.Equal(t, clients, total)
		t.Logf("connections per loop: %v", perLoop)
	})
}

// TestListenerCloseAfterStop closes a serving listener right after Stop,
// and again once Run has returned: both Deferreds fire. On the portable
// backend the first waited for a hand-off from the accepting goroutine
// that the end of the shutdown dropped, so neither ever fired.
func TestListenerCloseAfterStop(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r)
		l.Serve(func(c *deferredtcp.Conn) { c.Close() })
		var afterStop *outcome[struct{}]
		r.CallWhenRunning(func() {
			r.Stop()
			afterStop = record(l.Close())
		})
		run(t, r)
		afterRun := record(l.Close())
		require.True(t, afterStop.done, "Close right after Stop fired")
		require.NoError(t, afterStop.err)
		require.True(t, afterRun.done, "Close after Run returned fired")
		require.NoError(t, afterRun.err)
	})
}
