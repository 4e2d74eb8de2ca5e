package reactor

import (
	"math"
	"sync"
	"time"
)

// Clock is a deterministic [Scheduler] for tests (Twisted's task.Clock): time
// stands still until [Clock.Advance] moves it, and the calls that come due then
// run on the goroutine that called Advance. Calls run in time order, equal times
// in scheduling order, and, as in Twisted, a call that a call schedules (or
// moves) to a time already reached runs in the same Advance — unlike on a
// reactor, where a call scheduled from a call waits for the next iteration. It
// costs, per call, at most one move per 6-bit digit of its due time (a radix
// heap), not Twisted's O(n).
//
// A Clock's methods are safe for concurrent use (its DelayedCalls are meant for
// the goroutine that advances it, as a reactor's are for its loop); the
// scheduled functions run without the Clock's lock held, so they may use the
// Clock. A panic in a scheduled function propagates out of Advance, as it would
// in Twisted.
type Clock struct {
	mu    sync.Mutex
	start time.Time
	now   int64 // nanoseconds since start
	q     timerQueue
}

// NewClock returns a Clock whose time is start.
func NewClock(start time.Time) *Clock {
	c := &Clock{start: start}
	c.q = timerQueue{base: start, nanotime: func() int64 { return c.now }, mu: &c.mu}
	return c
}

// Now returns the Clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.start.Add(time.Duration(c.now))
}

// Schedule arranges for f to run when the Clock has advanced by delay. It panics
// when delay is negative.
func (c *Clock) Schedule(delay time.Duration, f func()) *DelayedCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.q.schedule(delay, f)
}

// AfterFunc is [Clock.Schedule] returning a stop function that cancels the call
// and reports whether it did so before the call ran; it satisfies deferred.Clock.
func (c *Clock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	dc := c.Schedule(d, f)
	return func() bool { return dc.Cancel() == nil }
}

// Advance moves the Clock's time forward by d, then runs, in order, every call
// due by then, including those the calls schedule for a time already reached
// (Twisted's advance, which runs calls while the first is due). A call that
// keeps scheduling itself with delay 0 makes Advance loop forever, as in
// Twisted. It panics when d is negative: time does not go back.
func (c *Clock) Advance(d time.Duration) {
	if d < 0 {
		panic("reactor: Clock.Advance with a negative duration")
	}
	c.mu.Lock()
	c.now = addSat(c.now, d)
	now, limit := c.now, uint64(math.MaxUint64)
	for {
		f, ok := c.q.popDue(now, limit)
		if !ok {
			break
		}
		c.mu.Unlock() // f may use the Clock, or panic
		f()
		c.mu.Lock()
	}
	c.mu.Unlock()
}

// Pump advances the Clock by each duration in turn, as Twisted's pump does.
func (c *Clock) Pump(ds ...time.Duration) {
	for _, d := range ds {
		c.Advance(d)
	}
}

// Pending returns the calls still to run, sorted by time and then by scheduling
// order (Twisted's getDelayedCalls).
func (c *Clock) Pending() []*DelayedCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.q.pending()
}
