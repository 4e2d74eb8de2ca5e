package reactor_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

var errMain = errors.New("main failed")

func TestReactReturnsTheErrorOfAFailingMain(t *testing.T) {
	err := reactor.React(func(r *reactor.Reactor) *deferred.Deferred[struct{}] {
		return reactor.CallLater(r, time.Millisecond, func() (struct{}, error) { return struct{}{}, errMain })
	})
	require.ErrorIs(t, err, errMain)
}

func TestReactReturnsNilWhenMainSucceeds(t *testing.T) {
	var shutdown bool
	err := reactor.React(func(r *reactor.Reactor) *deferred.Deferred[struct{}] {
		require.True(t, r.Running(), "main runs once the reactor runs")
		r.AddSystemEventTrigger(reactor.After, reactor.Shutdown, func() *deferred.Deferred[struct{}] {
			shutdown = true
			return nil
		})
		return reactor.CallLater[struct{}](r, time.Millisecond, nil)
	})
	require.NoError(t, err)
	assert.True(t, shutdown, "React stops the reactor through its shutdown triggers")
}

func TestReactNilDeferredIsDoneAtOnce(t *testing.T) {
	require.NoError(t, reactor.React(func(*reactor.Reactor) *deferred.Deferred[struct{}] { return nil }))
}

func TestReactPanicInMainIsItsError(t *testing.T) {
	err := reactor.React(func(*reactor.Reactor) *deferred.Deferred[struct{}] { panic(errMain) })
	require.ErrorIs(t, err, errMain)
	var f *failure.Failure
	require.ErrorAs(t, err, &f)
	assert.True(t, f.Panicked())
}

// A stop from outside (what a signal does) cancels main's Deferred, waits for
// its clean-up, and is a clean end.
func TestReactStopCancelsMainAndIsClean(t *testing.T) {
	var cleanedUp bool
	err := reactor.React(func(r *reactor.Reactor) *deferred.Deferred[struct{}] {
		d := deferred.New[struct{}]()
		d.AddErrback(func(f *failure.Failure) (struct{}, error) {
			// Clean-up that takes a while: the reactor waits for it.
			d.Pause()
			r.Schedule(time.Millisecond, func() {
				cleanedUp = true
				d.Unpause()
			})
			return struct{}{}, f
		})
		go r.Stop() // from another goroutine, as a signal handler would
		return d
	})
	require.NoError(t, err)
	assert.True(t, cleanedUp, "main's clean-up ran before React returned")
}

// A main that fails otherwise while being cancelled reports it.
func TestReactStopKeepsMainsOwnFailure(t *testing.T) {
	err := reactor.React(func(r *reactor.Reactor) *deferred.Deferred[struct{}] {
		d := deferred.NewWithCanceller(func(d *deferred.Deferred[struct{}]) { d.Errback(errMain) })
		r.CallWhenRunning(func() { r.Stop() })
		return d
	})
	require.ErrorIs(t, err, errMain)
}

func TestReactReturnsStopWithErrorsError(t *testing.T) {
	err := reactor.React(func(r *reactor.Reactor) *deferred.Deferred[struct{}] {
		r.StopWithError(errMain)
		return deferred.New[struct{}]()
	})
	require.ErrorIs(t, err, errMain)
}

// main's Deferred fired from another goroutine ends React too.
func TestReactMainFiredFromAnotherGoroutine(t *testing.T) {
	err := reactor.React(func(r *reactor.Reactor) *deferred.Deferred[struct{}] {
		d := deferred.New[struct{}]()
		go d.Errback(errMain)
		return d
	})
	require.ErrorIs(t, err, errMain)
}

// A program with a well-defined end: React runs the reactor until main's
// Deferred fires, then returns its error.
func ExampleReact() {
	err := reactor.React(func(r *reactor.Reactor) *deferred.Deferred[struct{}] {
		fmt.Println("main runs on the loop")
		return reactor.CallLater(r, time.Millisecond, func() (struct{}, error) {
			fmt.Println("one millisecond later")
			return struct{}{}, errors.New("the end")
		})
	})
	fmt.Println("React returned:", err)
	// Output:
	// main runs on the loop
	// one millisecond later
	// React returned: the end
}
