package deferredtcp_test

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/reactor"
)

// The case: a "before shutdown" trigger registered after Listen says
// goodbye to 200 connected clients, and every one of them receives it — the
// listener and connections are torn down in the "during" phase, after every
// "before" trigger, whatever the registration order (as in Twisted).
func TestBeforeShutdownTriggerSaysGoodbyeToEveryClient(t *testing.T) {
	const clients = 200
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r, deferredtcp.WithBacklog(clients))
		var conns []*deferredtcp.Conn
		l.Serve(func(c *deferredtcp.Conn) {
			conns = append(conns, c)
			if len(conns) < clients {
				return
			}
			r.AddSystemEventTrigger(reactor.Before, reactor.Shutdown, func() *deferred.Deferred[struct{}] {
				for _, c := range conns {
					c.Write([]byte("goodbye\n"))
				}
				return nil
			})
			r.Stop()
		})
		got := make([]string, clients)
		var wg sync.WaitGroup
		for i := range clients {
			wg.Go(func() {
				nc, err := net.Dial("tcp", l.Addr().String())
				if !assert.NoError(t, err) {
					return
				}
				defer nc.Close()
				b, err := io.ReadAll(nc) // until the server closes
				assert.NoError(t, err)
				got[i] = string(b)
			})
		}
		run(t, r)
		wg.Wait()
		for i, s := range got {
			require.Equal(t, "goodbye\n", s, "client %d", i)
		}
	})
}

// The case: 10 reactors that Listen (and Serve), and Connect, but
// never run give every descriptor back once they are garbage collected.
func TestUnrunReactorsLeaveNoFDs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		server, err := net.Listen("tcp", "127.0.0.1:0") // never accepts: connects wait in its backlog
		require.NoError(t, err)
		defer server.Close()
		before := countFDs(t)
		for range 10 {
			r := newReactor()
			l := listen(t, r)
			l.Serve(func(c *deferredtcp.Conn) { c.Close() })
			deferredtcp.Connect(r, "tcp", server.Addr().String())
		}
		require.Greater(t, countFDs(t), before, "the listeners are open")
		for range 500 {
			runtime.GC()
			if countFDs(t) <= before {
				return
			}
			time.Sleep(10 * time.Millisecond) // cleanups run on a goroutine of the runtime's
		}
		t.Fatalf("%d descriptors still open after GC, %d before", countFDs(t), before)
	})
}

// Listen and Connect on a reactor that has begun its "during shutdown"
// phase, or has stopped, fail with reactor.ErrNotRunning and open nothing.
func TestListenAndConnectOnAStoppedReactorFail(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var during []error
		r.AddSystemEventTrigger(reactor.During, reactor.Shutdown, func() *deferred.Deferred[struct{}] {
			_, err := deferredtcp.Listen(r, "tcp", "127.0.0.1:0").Wait(t.Context())
			during = append(during, err)
			_, err = deferredtcp.Connect(r, "tcp", "127.0.0.1:1").Wait(t.Context())
			during = append(during, err)
			return nil
		})
		r.CallWhenRunning(func() {
			deferredtcp.Listen(r, "tcp", "127.0.0.1:0") // makes deferredtcp's state
			r.Stop()
		})
		run(t, r)
		before := countFDs(t)
		_, listenErr := deferredtcp.Listen(r, "tcp", "127.0.0.1:0").Wait(t.Context())
		_, connectErr := deferredtcp.Connect(r, "tcp", "127.0.0.1:1").Wait(t.Context())
		a, b := deferredtcp.Pipe(r)
		_, lostErr := a.Lost().Wait(t.Context())
		require.Len(t, during, 2)
		for _, err := range append(during, listenErr, connectErr, lostErr) {
			require.ErrorIs(t, err, reactor.ErrNotRunning)
		}
		_, err := b.Write([]byte("x")).Wait(t.Context())
		require.ErrorIs(t, err, deferredtcp.ErrClosed)
		require.Equal(t, before, countFDs(t), "nothing opened")
	})
}

// Under the debug switch, loop-only calls of deferredtcp from another
// goroutine panic with the call's name and the rule.
func TestDebugForeignGoroutineCallsPanic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor(reactor.WithDebug(true))
		l := listen(t, r)
		panics := map[string]string{}
		pair(t, r, func(server, client *deferredtcp.Conn) {
			calls := map[string]func(){
				"Listen":              func() { deferredtcp.Listen(r, "tcp", "127.0.0.1:0") },
				"Connect":             func() { deferredtcp.Connect(r, "tcp", l.Addr().String()) },
				"Conn.Write":          func() { server.Write([]byte("x")) },
				"Conn.Send":           func() { server.Send([]byte("x")) },
				"Conn.ReadUntil":      func() { client.ReadUntil([]byte("\n"), 0) },
				"Conn.Close":          func() { client.Close() },
				"Listener.Accept":     func() { l.Accept() },
				"Reactor.Schedule":    func() { r.Schedule(0, func() {}) },
				"Listener.Serve":      func() { l.Serve(nil) },
				"Conn.OnData":         func() { client.OnData(nil) },
				"Conn.SetIdleTimeout": func() { server.SetIdleTimeout(time.Second) },
			}
			for name, call := range calls {
				ch := make(chan string)
				go func() {
					defer func() { ch <- fmt.Sprint(recover()) }()
					call()
				}()
				panics[name] = <-ch
			}
			l.Close()
			client.Close()
			server.Close()
			r.Stop()
		})
		run(t, r)
		require.Len(t, panics, 11)
		for name, msg := range panics {
			assert.Contains(t, msg, name+" called from goroutine", name)
			assert.Contains(t, msg, "loop-only calls are made on the reactor's goroutine", name)
		}
	})
}

// Aborting one end of a Pipe fails the other's Lost with a reset, as over
// TCP; closing it ends the other's stream cleanly, after what was written.
func TestPipeAbortResetsThePeer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var aborted, closed *outcome[struct{}]
		var read *outcome[[]byte]
		r.CallWhenRunning(func() {
			a, b := deferredtcp.Pipe(r)
			aborted = record(b.Lost())
			a.Write([]byte("dropped with the reset"))
			a.Abort()
			c, d := deferredtcp.Pipe(r)
			c.Write([]byte("last words"))
			c.Close()
			closed = record(d.Lost())
			all := readAll(d)
			read = record(all)
			after(all, func() { d.Close() })
			after(d.Lost(), func() { after(b.Lost(), stop(r)) })
		})
		run(t, r)
		require.True(t, aborted.done)
		require.ErrorIs(t, aborted.err, syscall.ECONNRESET)
		require.NoError(t, read.err)
		require.Equal(t, "last words", string(read.value))
		require.True(t, closed.done)
		require.NoError(t, closed.err)
	})
}
