package service_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
	"github.com/twistgo/twist/service"
)

// logTo returns an option that logs into the test's output.
func logTo(t testing.TB) service.Option {
	return service.WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil)))
}

// epoch is where the fake clocks start.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// events records what the fake services do, in order.
type events struct{ list []string }

func (e *events) add(format string, args ...any) {
	e.list = append(e.list, fmt.Sprintf(format, args...))
}

// take returns the events so far and forgets them.
func (e *events) take() string {
	s := strings.Join(e.list, " ")
	e.list = nil
	return s
}

// fake is a Service whose starts and stops fire when the test says: each
// call records an event and returns a Deferred that the test fires through
// starts and stops (or at once, when instant).
type fake struct {
	name    string
	ev      *events
	instant bool  // start and stop fire at once
	failing error // start fails at once with it

	running bool
	starts  []*deferred.Deferred[struct{}]
	stops   []*deferred.Deferred[struct{}]
	cancels int // start Deferreds cancelled
}

func newFake(name string, ev *events) *fake { return &fake{name: name, ev: ev, instant: true} }

func (f *fake) Name() string  { return f.name }
func (f *fake) Running() bool { return f.running }

func (f *fake) StartService() *deferred.Deferred[struct{}] {
	f.ev.add("start:%s", f.name)
	if f.failing != nil {
		return deferred.Fail[struct{}](f.failing)
	}
	f.running = true
	if f.instant {
		return deferred.Succeed(struct{}{})
	}
	d := deferred.NewWithCanceller(func(*deferred.Deferred[struct{}]) {
		f.cancels++
		f.running = false
	})
	f.starts = append(f.starts, d)
	return d
}

func (f *fake) StopService() *deferred.Deferred[struct{}] {
	f.ev.add("stop:%s", f.name)
	f.running = false
	if f.instant {
		return deferred.Succeed(struct{}{})
	}
	d := deferred.New[struct{}]()
	f.stops = append(f.stops, d)
	return d
}

// lastStart and lastStop return the Deferred of the last call.
func (f *fake) lastStart(t testing.TB) *deferred.Deferred[struct{}] {
	t.Helper()
	require.NotEmpty(t, f.starts, "%s was not started", f.name)
	return f.starts[len(f.starts)-1]
}

func (f *fake) lastStop(t testing.TB) *deferred.Deferred[struct{}] {
	t.Helper()
	require.NotEmpty(t, f.stops, "%s was not stopped", f.name)
	return f.stops[len(f.stops)-1]
}

// outcome follows a Deferred: fired reports whether it has, err its error.
type outcome struct {
	fired bool
	err   error
}

func watch[T any](d *deferred.Deferred[T]) *outcome {
	o := &outcome{}
	d.AddBoth(func(v T, f *failure.Failure) (T, error) {
		o.fired = true
		if f != nil {
			o.err = f
		}
		return v, nil
	})
	return o
}

// loop is a reactor running on its own goroutine, for tests that need real
// (in-memory or loopback) connections; their timers run on clock.
type loop struct {
	r     *reactor.Reactor
	clock *reactor.Clock
}

func newLoop(t testing.TB) *loop {
	t.Helper()
	l := &loop{r: reactor.New(), clock: reactor.NewClock(epoch)}
	done := make(chan error)
	go func() { done <- l.r.Run() }()
	t.Cleanup(func() {
		l.r.Stop()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("the reactor did not stop")
		}
	})
	return l
}

// do runs f on the loop and waits for it.
func (l *loop) do(t testing.TB, f func()) {
	t.Helper()
	ran := make(chan struct{})
	l.r.CallFromGoroutine(func() {
		defer close(ran)
		f()
	})
	wait(t, ran)
}

// advance advances the fake clock on the loop.
func (l *loop) advance(t testing.TB, d time.Duration) {
	t.Helper()
	l.do(t, func() { l.clock.Advance(d) })
}

// wait waits for ch to close, failing the test after 10 seconds.
func wait(t testing.TB, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting")
	}
}

var _ service.Service = (*fake)(nil)
