package reactor

import (
	"time"

	deferred "github.com/twistgo/twist/defer"
)

// Scheduler is what timed code needs: a clock and a way to schedule calls.
// [*Reactor] and the deterministic [*Clock] implement it, so code written
// against a Scheduler is tested on a Clock and run on a Reactor (Twisted's
// IReactorTime).
type Scheduler interface {
	// Now returns the scheduler's current time.
	Now() time.Time
	// Schedule runs f once delay has passed; it panics when delay is negative.
	Schedule(delay time.Duration, f func()) *DelayedCall
	// AfterFunc is Schedule with a stop function safe from any goroutine; it
	// satisfies deferred.Clock.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

var (
	_ Scheduler = (*Reactor)(nil)
	_ Scheduler = (*Clock)(nil)

	_ deferred.Clock = (*Reactor)(nil)
	_ deferred.Clock = (*Clock)(nil)
)

// CallLater returns a Deferred that fires with f's result once delay has passed
// on s (Twisted's deferLater). f may be nil: the Deferred then fires with T's zero
// value. An error from f, or a panic in it, fails the Deferred. Cancelling the
// Deferred before the call removes the call (it no longer shows in
// [Clock.Pending]) and fails the Deferred with deferred.ErrCancelled. A negative
// delay fails the Deferred with [ErrNegativeDelay].
//
// On a Reactor, CallLater is loop goroutine only (or before Run) and f runs on the
// loop; the Deferred may be cancelled from any goroutine. If the reactor stops
// before the call, the Deferred never fires, as in Twisted (where shutdown drops
// the delayed calls): to wait for it from another goroutine, use [BlockingCall],
// which returns [ErrNotRunning] when the reactor stops first.
func CallLater[T any](s Scheduler, delay time.Duration, f func() (T, error)) *deferred.Deferred[T] {
	if delay < 0 {
		return deferred.Fail[T](ErrNegativeDelay)
	}
	var stop func() bool
	d := deferred.NewWithCanceller(func(*deferred.Deferred[T]) { stop() })
	stop = s.AfterFunc(delay, func() {
		if f == nil {
			var zero T
			d.Callback(zero)
			return
		}
		v, err := callRecovering(f)
		if err != nil {
			d.Errback(err)
			return
		}
		d.Callback(v)
	})
	return d
}
