package deferredtcp_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// TestLoadEcho is the CI-sized soak: 500 concurrent connections to an echo
// server (half served by Read/Write chains, half by OnData/Send), each
// sending messages of random sizes and checking that every byte comes back
// in order, for 5 seconds on the epoll backend and 2 on the portable one (a
// fifth of that under the race detector, whose run is there for races, not
// for wear; a tenth with -short). The clients run on a second reactor, on
// another goroutine. No error is allowed, and the server's write buffers
// stay bounded. The 5 000-connection, 60-second run is bench/cmd/soak.
func TestLoadEcho(t *testing.T) {
	const conns = 500
	durations := map[reactor.Backend]time.Duration{reactor.Epoll: 5 * time.Second, reactor.Portable: 2 * time.Second}
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		checkGoroutines(t)
		server, clients := newReactor(), newReactor()
		soak := durations[server.Backend()]
		switch {
		case testing.Short():
			soak /= 10
		case raceEnabled:
			soak /= 5
		}
		l := listen(t, server, deferredtcp.WithBacklog(conns))
		served, serverLost := 0, 0
		var serverErrs []error
		maxBuffered := 0
		l.Serve(func(c *deferredtcp.Conn) {
			served++
			c.Lost().AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
				if f != nil {
					serverErrs = append(serverErrs, f)
				}
				if serverLost++; serverLost == conns {
					l.Close()
					server.Stop()
				}
				return struct{}{}, nil
			})
			if served%2 == 0 {
				echo(c)
				return
			}
			c.OnData(func(p []byte) {
				if err := c.Send(p); err != nil {
					serverErrs = append(serverErrs, err)
				}
				maxBuffered = max(maxBuffered, c.Buffered())
			})
			c.OnEOF(func() { c.Close() })
		})
		serverDone := make(chan error, 1)
		go func() { serverDone <- server.Run() }()

		var rounds, bytesEchoed int
		var clientErrs []error
		finished := 0
		var deadline time.Time
		clients.CallWhenRunning(func() {
			deadline = clients.Now().Add(soak)
			watchdog := clients.Schedule(soak+20*time.Second, func() {
				t.Errorf("still running %v after the soak: %d of %d clients finished", 20*time.Second, finished, conns)
				server.Stop()
				clients.Stop()
			})
			clients.AddSystemEventTrigger(reactor.Before, reactor.Shutdown, func() *deferred.Deferred[struct{}] {
				watchdog.Cancel()
				return nil
			})
			for id := range conns {
				rng := rand.New(rand.NewPCG(uint64(id), 8))
				deferred.Then(deferredtcp.Connect(clients, "tcp", l.Addr().String()), func(c *deferredtcp.Conn) (struct{}, error) {
					var round func(n int)
					round = func(n int) {
						if !clients.Now().Before(deadline) {
							c.Close()
							return
						}
						msg := make([]byte, 1+rng.IntN(8<<10))
						for i := range msg {
							msg[i] = byte(id + n + i)
						}
						c.Write(msg)
						c.ReadFull(len(msg)).AddCallbacks(func(p []byte) ([]byte, error) {
							if !bytes.Equal(p, msg) {
								clientErrs = append(clientErrs, fmt.Errorf("client %d round %d: echo differs", id, n))
								c.Abort()
								return nil, nil
							}
							rounds++
							bytesEchoed += len(p)
							round(n + 1)
							return nil, nil
						}, func(f *failure.Failure) ([]byte, error) {
							clientErrs = append(clientErrs, fmt.Errorf("client %d round %d: %w", id, n, f))
							return nil, nil
						})
					}
					round(0)
					c.Lost().AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
						if f != nil {
							clientErrs = append(clientErrs, fmt.Errorf("client %d lost: %w", id, f))
						}
						if finished++; finished == conns {
							clients.Stop()
						}
						return struct{}{}, nil
					})
					return struct{}{}, nil
				}).AddErrback(func(f *failure.Failure) (struct{}, error) {
					clientErrs = append(clientErrs, fmt.Errorf("client %d: %w", id, f))
					if finished++; finished == conns {
						clients.Stop()
					}
					return struct{}{}, nil
				})
			}
		})
		start := time.Now()
		require.NoError(t, clients.Run())
		took := time.Since(start)
		select {
		case err := <-serverDone:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			server.Stop()
			t.Fatal("the server still runs 10s after its clients left")
		}
		require.Empty(t, clientErrs)
		require.Empty(t, serverErrs)
		require.Equal(t, conns, served)
		require.LessOrEqual(t, maxBuffered, deferredtcp.DefaultHighWatermark+deferredtcp.DefaultReadBufferSize)
		t.Logf("%d connections for %v: %d round trips (%.0f/s), %d MiB echoed and checked, 0 errors; %d goroutines at the end",
			conns, took.Round(time.Millisecond), rounds, float64(rounds)/took.Seconds(), bytesEchoed>>20, runtime.NumGoroutine())
	})
}
