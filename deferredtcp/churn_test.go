package deferredtcp_test

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// TestChurn opens and closes churnCycles connections, churnBatch at a time,
// ending them every way there is: the client closes, the server closes,
// either aborts. Each client sends a byte and waits for its echo first, so
// that every connection was really served. Afterwards every Lost has
// fired, the listener's loop holds no connection, and descriptors and
// goroutines are back to where they were (forEachBackend and
// checkGoroutines check that).
func TestChurn(t *testing.T) {
	const churnCycles = 10000
	cycles := churnCycles
	if raceEnabled {
		// Each cycle costs ten times as much under the race detector, which
		// looks for races, not leaks: 1 000 cycles still end 250 connections
		// each way, and a leak of a single descriptor or goroutine fails the
		// test at any count.
		cycles = 1000
	}
	if testing.Short() {
		cycles /= 10
	}
	const batch = 100
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		checkGoroutines(t)
		fdsBefore, goroutinesBefore := countFDs(t), runtime.NumGoroutine()
		r := newReactor()
		l := listen(t, r, deferredtcp.WithBacklog(batch))
		served, serverLost := 0, 0
		l.Serve(func(c *deferredtcp.Conn) {
			served++
			after(c.Lost(), func() { serverLost++ })
			kind := served % 4
			deferred.Then(c.ReadFull(1), func(p []byte) (struct{}, error) {
				c.Write(p)
				switch kind {
				case 1:
					c.Close() // the server closes first
				case 2:
					c.Abort() // the server resets (after the echo, maybe)
				default:
					echo(c) // the client closes, or resets
				}
				return struct{}{}, nil
			})
		})
		done, failed := 0, 0
		var errs []error
		var peakFDs int
		var startBatch func()
		startBatch = func() {
			left := batch
			for i := range batch {
				n := done + i
				deferred.ThenDeferred(deferredtcp.Connect(r, "tcp", l.Addr().String()), func(c *deferredtcp.Conn) *deferred.Deferred[struct{}] {
					lost := c.Lost()
					c.Write([]byte{byte(n)})
					c.ReadFull(1).AddBoth(func(p []byte, f *failure.Failure) ([]byte, error) {
						if n%7 == 0 {
							c.Abort()
						} else {
							c.Close()
						}
						return nil, nil
					})
					return lost
				}).AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
					// Resets and aborts are expected; a failed connect is not.
					if f != nil && !isReset(f) && !errors.Is(f, deferredtcp.ErrAborted) {
						failed++
						errs = append(errs, fmt.Errorf("cycle %d: %w", n, f))
					}
					if left--; left == 0 {
						done += batch
						peakFDs = max(peakFDs, countFDs(t))
						if done >= cycles {
							l.Close()
							r.Stop()
							return struct{}{}, nil
						}
						startBatch()
					}
					return struct{}{}, nil
				})
			}
		}
		r.CallWhenRunning(startBatch)
		start := time.Now()
		runFor(t, r, 50*time.Second)
		took := time.Since(start)
		require.Empty(t, errs)
		require.Equal(t, cycles, done)
		require.Equal(t, cycles, served)
		require.Equal(t, served, serverLost, "every server-side Lost fired")
		t.Logf("%d connect/close cycles in %v (%.0f/s); %d fds at a batch's end at most, %d before; %d goroutines before, %d after Run",
			cycles, took.Round(time.Millisecond), float64(cycles)/took.Seconds(), peakFDs, fdsBefore, goroutinesBefore, runtime.NumGoroutine())
	})
}

// runFor runs r as run does, with a watchdog of d.
func runFor(t testing.TB, r *reactor.Reactor, d time.Duration) {
	t.Helper()
	watchdog := r.Schedule(d, func() {
		t.Errorf("reactor still running after %v", d)
		r.Stop()
	})
	r.AddSystemEventTrigger(reactor.Before, reactor.Shutdown, func() *deferred.Deferred[struct{}] {
		watchdog.Cancel()
		return nil
	})
	require.NoError(t, r.Run())
}
