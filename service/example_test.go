package service_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
	"github.com/twistgo/twist/service"
)

// quiet keeps the examples' logs out of their output.
var quiet = service.WithLogger(slog.New(slog.DiscardHandler))

// printing returns a service that prints when it starts and stops.
func printing(name string) *service.Simple {
	return service.New(name,
		func() *deferred.Deferred[struct{}] { fmt.Println("start", name); return nil },
		func() *deferred.Deferred[struct{}] { fmt.Println("stop", name); return nil })
}

// Children start in order and stop in reverse order.
func ExampleMultiService() {
	clock := reactor.NewClock(time.Time{})
	m := service.NewMultiService("app", clock, quiet)
	for _, name := range []string{"database", "cache", "web"} {
		m.AddService(printing(name))
	}
	m.StartService()
	m.StopService()
	// Output:
	// start database
	// start cache
	// start web
	// stop web
	// stop cache
	// stop database
}

// The Twisted tutorial's echo.tac, run until its context is done (or
// SIGINT, or SIGTERM): an application, a TCP service and the handler of its
// connections. Here a client service asks the echo server once, then ends
// the program.
func ExampleApplication() {
	r := reactor.New()
	app := service.NewApplication(r, "echo", quiet)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	echo := service.TCPServerFunc(r, "127.0.0.1:0", func(c *deferredtcp.Conn) {
		deferred.ThenDeferred(c.ReadUntil([]byte("\n"), 1024), func(line []byte) *deferred.Deferred[int] {
			return c.Write(append(line, '\n'))
		}).AddBoth(func(int, *failure.Failure) (int, error) {
			c.Close()
			return 0, nil
		})
	})
	app.AddService(echo)
	app.AddService(service.New("client", func() *deferred.Deferred[struct{}] {
		// Started after echo: it listens already.
		deferred.ThenDeferred(deferredtcp.Connect(r, "tcp", echo.Addr().String()), func(c *deferredtcp.Conn) *deferred.Deferred[[]byte] {
			c.Write([]byte("hello, twisted\n"))
			return c.ReadUntil([]byte("\n"), 1024)
		}).AddBoth(func(reply []byte, f *failure.Failure) ([]byte, error) {
			fmt.Printf("echoed: %s\n", reply)
			cancel() // stop gracefully, as SIGTERM would
			return nil, nil
		})
		return nil
	}, nil))

	err := app.Run(ctx)
	fmt.Println("Run returned", err)
	// Output:
	// echoed: hello, twisted
	// Run returned <nil>
}

// Twisted's backoffPolicy: 1.5 s after the first failure, times 1.5 after
// each further one, up to a minute, plus a jitter (here none).
func ExampleBackoffPolicy() {
	policy := service.BackoffPolicy(time.Second, time.Minute, 1.5, func() float64 { return 0 })
	for attempt := 1; attempt <= 4; attempt++ {
		fmt.Println(attempt, policy(attempt))
	}
	fmt.Println(20, policy(20))
	// Output:
	// 1 1.5s
	// 2 2.25s
	// 3 3.375s
	// 4 5.0625s
	// 20 1m0s
}

// A ClientService retries on its policy's schedule; WhenConnected(2) gives
// up after two failures in a row. The dial step is injected: here every
// attempt is refused, on a fake clock.
func ExampleClientService() {
	clock := reactor.NewClock(time.Time{})
	dial := func() *deferred.Deferred[*deferredtcp.Conn] {
		fmt.Println("attempt at", clock.Now().Sub(time.Time{}))
		return deferred.Fail[*deferredtcp.Conn](errors.New("connection refused"))
	}
	s := service.NewClientService(clock, dial, quiet, service.WithRetryPolicy(
		service.BackoffPolicy(time.Second, time.Minute, 1.5, func() float64 { return 0 })))
	s.WhenConnected(2).AddErrback(func(f *failure.Failure) (*deferredtcp.Conn, error) {
		fmt.Println("WhenConnected(2):", f)
		return nil, nil
	})
	s.StartService()
	clock.Advance(1500 * time.Millisecond)
	clock.Advance(2250 * time.Millisecond)
	s.StopService()
	clock.Advance(time.Hour)
	// Output:
	// attempt at 0s
	// attempt at 1.5s
	// WhenConnected(2): connection refused
	// attempt at 3.75s
}

// A Supervisor restarts a service whose start fails, after Twisted's
// backoff.
func ExampleSupervisor() {
	clock := reactor.NewClock(time.Time{})
	tries := 0
	flaky := service.New("flaky", func() *deferred.Deferred[struct{}] {
		tries++
		if tries < 3 {
			return deferred.Fail[struct{}](errors.New("not yet"))
		}
		return nil
	}, nil)
	v := service.Supervise(clock, flaky, quiet, service.WithRetryPolicy(
		service.BackoffPolicy(time.Second, time.Minute, 1.5, func() float64 { return 0 })))
	v.StartService()
	fmt.Println(v.State())
	clock.Advance(1500 * time.Millisecond)
	fmt.Println(v.State())
	clock.Advance(2250 * time.Millisecond)
	fmt.Println(v.State(), "after", v.Restarts(), "restarts")
	// Output:
	// backing off
	// backing off
	// running after 2 restarts
}
