// Package deferredtest helps tests catch Failures that a Deferred chain
// left unhandled.
//
// Call [NoUnhandled] at the start of a test: when the test ends, it collects
// garbage, waits for the reports of every Deferred collected with an
// unhandled Failure, and fails the test for each one.
//
//	func TestFetch(t *testing.T) {
//		deferredtest.NoUnhandled(t)
//		...
//	}
//
// The unhandled-failure handler is process-wide, so tests that use this
// package must not run in parallel with each other.
package deferredtest

import (
	"runtime"
	"sync"
	"testing"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
)

// Recorder collects the Failures reported as unhandled while it is
// installed.
type Recorder struct {
	mu   sync.Mutex
	seen []*failure.Failure
}

// Record installs a Recorder as the unhandled-failure handler until the
// test ends.
func Record(t testing.TB) *Recorder {
	t.Helper()
	r := &Recorder{}
	prev := deferred.SetUnhandledHandler(func(f *failure.Failure) {
		r.mu.Lock()
		r.seen = append(r.seen, f)
		r.mu.Unlock()
	})
	t.Cleanup(func() { deferred.SetUnhandledHandler(prev) })
	return r
}

// Collect runs the garbage collector, waits for the reports it causes, and
// returns every Failure reported so far, oldest first, emptying the
// Recorder.
func (r *Recorder) Collect() []*failure.Failure {
	Collect()
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := r.seen
	r.seen = nil
	return seen
}

// NoUnhandled fails t, when it ends, for every Failure reported as
// unhandled during it.
func NoUnhandled(t testing.TB) {
	t.Helper()
	r := Record(t)
	t.Cleanup(func() {
		for _, f := range r.Collect() {
			t.Errorf("unhandled Failure in a Deferred: %+v", f)
		}
	})
}

// Collect runs the garbage collector until the reports of the Deferreds it
// collects have been delivered. Cleanups run asynchronously, so it waits for
// a sentinel of its own through a few collection cycles.
func Collect() {
	for range 3 {
		done := make(chan struct{})
		sentinel := new([64]byte)
		runtime.AddCleanup(sentinel, func(ch chan struct{}) { close(ch) }, done)
		sentinel = nil
		runtime.GC()
		select {
		case <-done:
		case <-time.After(time.Second):
		}
	}
	runtime.Gosched()
}
