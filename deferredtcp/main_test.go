package deferredtcp_test

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

func TestMain(m *testing.M) {
	// Warm Go's own network poller up, so that its descriptors are not
	// counted as leaks by the first test that uses net.
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		l.Close()
	}
	goleak.VerifyTestMain(m)
}

// forEachBackend runs f as a subtest per reactor backend. newReactor makes a
// reactor of that backend (logging to the test, unless opts say otherwise); the subtest checks that no Failure is left
// unhandled and that every file descriptor opened during it is closed.
func forEachBackend(t *testing.T, f func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor)) {
	t.Helper()
	for _, b := range []reactor.Backend{reactor.Epoll, reactor.Portable} {
		t.Run(b.String(), func(t *testing.T) {
			checkFDs(t)
			deferredtest.NoUnhandled(t)
			f(t, func(opts ...reactor.Option) *reactor.Reactor {
				r := reactor.New(append([]reactor.Option{reactor.WithBackend(b),
					reactor.WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil)))}, opts...)...)
				require.Equal(t, b, r.Backend())
				return r
			})
		})
	}
}

// run runs r on the test goroutine until a callback stops it, failing the
// test (and stopping r) if that takes more than 10 seconds.
func run(t testing.TB, r *reactor.Reactor) {
	t.Helper()
	watchdog := r.Schedule(10*time.Second, func() {
		t.Error("reactor still running after 10s")
		r.Stop()
	})
	r.AddSystemEventTrigger(reactor.Before, reactor.Shutdown, func() *deferred.Deferred[struct{}] {
		watchdog.Cancel()
		return nil
	})
	require.NoError(t, r.Run())
}

// countFDs counts the process's open file descriptors.
func countFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// checkFDs fails t if, when it ends, more descriptors are open than now.
func checkFDs(t testing.TB) {
	t.Helper()
	before := countFDs(t)
	t.Cleanup(func() {
		// Portable goroutines close nothing themselves; the loop closed
		// everything before Run returned.
		require.LessOrEqual(t, countFDs(t), before, "file descriptors leaked")
	})
}

// listen binds a listener on 127.0.0.1:0 before the reactor runs.
func listen(t testing.TB, r *reactor.Reactor, opts ...deferredtcp.Option) *deferredtcp.Listener {
	t.Helper()
	l, err := deferredtcp.Listen(r, "tcp", "127.0.0.1:0", opts...).Wait(t.Context())
	require.NoError(t, err)
	return l
}

// echo serves c with a Read → Write chain until the peer is done, then
// closes it.
func echo(c *deferredtcp.Conn) {
	var loop func()
	loop = func() {
		deferred.ThenDeferred(c.Read(), c.Write).AddBoth(func(_ int, f *failure.Failure) (int, error) {
			if f != nil {
				c.Close()
				return 0, nil
			}
			loop()
			return 0, nil
		})
	}
	loop()
}

// readAll reads c until EOF.
func readAll(c *deferredtcp.Conn) *deferred.Deferred[[]byte] {
	var buf []byte
	d := deferred.New[[]byte]()
	var step func()
	step = func() {
		c.Read().AddCallbacks(func(p []byte) ([]byte, error) {
			buf = append(buf, p...)
			step()
			return nil, nil
		}, func(f *failure.Failure) ([]byte, error) {
			if errors.Is(f, io.EOF) {
				d.Callback(buf)
			} else {
				d.Errback(f)
			}
			return nil, nil
		})
	}
	step()
	return d
}

// outcome records how a Deferred ended, for assertions once Run returned.
type outcome[T any] struct {
	done  bool
	value T
	err   error
}

func record[T any](d *deferred.Deferred[T]) *outcome[T] {
	o := &outcome[T]{}
	d.AddBoth(func(v T, f *failure.Failure) (T, error) {
		o.done, o.value = true, v
		if f != nil {
			o.err = f
		}
		return v, nil
	})
	return o
}

// raceScaled returns n, or small under the race detector, which slows these
// tests down about tenfold: for counts whose property does not depend on
// scale (each use says why).
func raceScaled(n, small int) int {
	if raceEnabled {
		return small
	}
	return n
}

func stop(r *reactor.Reactor) func() { return func() { r.Stop() } }
