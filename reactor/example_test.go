package reactor_test

import (
	"fmt"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// The reactor runs every call on the goroutine that calls Run, in time order.
func ExampleReactor() {
	r := reactor.New()
	r.Schedule(2*time.Millisecond, func() {
		fmt.Println("second")
		r.Stop()
	})
	r.Schedule(time.Millisecond, func() { fmt.Println("first") })
	r.CallWhenRunning(func() { fmt.Println("running") })
	fmt.Println("Running the reactor ...")
	if err := r.Run(); err != nil {
		fmt.Println(err)
	}
	fmt.Println("Reactor stopped.")
	// Output:
	// Running the reactor ...
	// running
	// first
	// second
	// Reactor stopped.
}

// A Clock makes timed code deterministic: time moves only when told to.
func ExampleClock() {
	c := reactor.NewClock(time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC))
	c.Schedule(2*time.Second, func() { fmt.Println("two seconds, at", c.Now().Format(time.TimeOnly)) })
	dc := c.Schedule(time.Second, func() { fmt.Println("never") })
	c.Schedule(time.Second, func() { fmt.Println("one second") })
	dc.Cancel()
	fmt.Println(len(c.Pending()), "pending")
	c.Advance(1500 * time.Millisecond)
	c.Advance(time.Second)
	// Output:
	// 2 pending
	// one second
	// two seconds, at 12:00:02
}

// CallLater returns a Deferred that fires with the function's result.
func ExampleCallLater() {
	c := reactor.NewClock(time.Time{})
	d := reactor.CallLater(c, time.Second, func() (string, error) { return "hello", nil })
	deferred.Then(d, func(s string) (int, error) {
		fmt.Println(s)
		return len(s), nil
	}).AddCallback(func(n int) (int, error) {
		fmt.Println(n, "bytes")
		return n, nil
	})
	c.Advance(time.Second)
	// Output:
	// hello
	// 5 bytes
}

// A LoopingCall stays on the grid of its start time and tells, with
// NewLoopingCallWithCount, how many intervals have passed.
func ExampleLoopingCall() {
	c := reactor.NewClock(time.Time{})
	var lc *reactor.LoopingCall
	lc = reactor.NewLoopingCallWithCount(c, func(count int) *deferred.Deferred[struct{}] {
		fmt.Printf("at %v: %d interval(s)\n", c.Now().Sub(time.Time{}), count)
		if c.Now().Sub(time.Time{}) >= 4*time.Second {
			lc.Stop()
		}
		return nil
	})
	lc.Start(time.Second, true).AddCallback(func(*reactor.LoopingCall) (*reactor.LoopingCall, error) {
		fmt.Println("stopped")
		return lc, nil
	})
	c.Pump(time.Second, 2500*time.Millisecond, 500*time.Millisecond)
	// Output:
	// at 0s: 1 interval(s)
	// at 1s: 1 interval(s)
	// at 3.5s: 2 interval(s)
	// at 4s: 1 interval(s)
	// stopped
}

// Shutdown triggers run after Stop; Run waits for the Deferreds they return.
func ExampleReactor_AddSystemEventTrigger() {
	r := reactor.New()
	r.AddSystemEventTrigger(reactor.Before, reactor.Shutdown, func() *deferred.Deferred[struct{}] {
		fmt.Println("before shutdown: flushing")
		return reactor.CallLater(r, time.Millisecond, func() (struct{}, error) {
			fmt.Println("flushed")
			return struct{}{}, nil
		})
	})
	r.AddSystemEventTrigger(reactor.During, reactor.Shutdown, func() *deferred.Deferred[struct{}] {
		fmt.Println("during shutdown")
		return nil
	})
	r.CallWhenRunning(func() { r.Stop() })
	r.Run()
	fmt.Println("Run returned")
	// Output:
	// before shutdown: flushing
	// flushed
	// during shutdown
	// Run returned
}

// DeferToGoroutine runs blocking work off the loop and delivers the result on it.
func ExampleDeferToGoroutine() {
	r := reactor.New(reactor.WithWorkers(2))
	r.CallWhenRunning(func() {
		d := reactor.DeferToGoroutine(r, func() (int, error) {
			return 6 * 7, nil // blocking work would go here
		})
		d.AddBoth(func(v int, f *failure.Failure) (int, error) {
			fmt.Println("result on the loop:", v, f)
			r.Stop()
			return v, nil
		})
	})
	r.Run()
	// Output:
	// result on the loop: 42 <nil>
}

// Another goroutine gets a result from the loop with BlockingCall (Twisted's
// blockingCallFromThread): f runs on the loop, and the goroutine waits for
// the Deferred it returns.
func ExampleBlockingCall() {
	r := reactor.New()
	done := make(chan struct{})
	go func() {
		defer close(done)
		v, err := reactor.BlockingCall(r, func() *deferred.Deferred[string] {
			return reactor.CallLater(r, time.Millisecond, func() (string, error) { return "from the loop", nil })
		})
		fmt.Println(v, err)
		_, err = reactor.BlockingCall(r, func() *deferred.Deferred[int] { panic("boom") })
		fmt.Println(err) // a Failure of the panic
		r.Stop()
	}()
	r.Run()
	<-done
	// Output:
	// from the loop <nil>
	// panic: boom
}
