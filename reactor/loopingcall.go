package reactor

import (
	"sync/atomic"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
)

// LoopingCall calls a function repeatedly at a fixed interval (Twisted's
// task.LoopingCall). Calls stay on the grid of the start time: if a call (or the
// Deferred it returns) takes longer than the interval, the missed ticks are
// skipped and the next call comes at the next grid point. A LoopingCall made
// with [NewLoopingCallWithCount] tells its function how many intervals have
// elapsed since the previous call, so it can account for the skipped ones.
//
// A LoopingCall belongs to its Scheduler's goroutine: a Reactor's loop (or,
// before Run, the goroutine that will call Run), or, for a [Clock], the goroutine
// that advances it. On a Reactor, the Deferred returned by the function may be
// fired from any goroutine: the LoopingCall continues on the loop.
type LoopingCall struct {
	s Scheduler
	f func() *deferred.Deferred[struct{}]

	running    bool
	interval   time.Duration
	start      time.Time
	runAtStart bool
	call       *DelayedCall
	d          *deferred.Deferred[*LoopingCall]
	tickFn     func()

	// For NewLoopingCallWithCount: when the function was last called.
	countF   func(count int) *deferred.Deferred[struct{}]
	lastTime time.Time
	hasLast  bool
}

// NewLoopingCall returns a LoopingCall of f on s, not yet started. f may return
// nil (the call is done at once) or a Deferred: the next call waits until it
// fires, and its failure stops the LoopingCall.
func NewLoopingCall(s Scheduler, f func() *deferred.Deferred[struct{}]) *LoopingCall {
	lc := &LoopingCall{s: s, f: f}
	lc.tickFn = lc.tick
	return lc
}

// NewLoopingCallWithCount returns a LoopingCall that passes f the number of
// intervals elapsed since its previous call (since the start for the first call,
// counting the start itself when Start's now is true), which is 1 unless ticks
// were skipped (Twisted's LoopingCall.withCount). f is never called with 0; with
// a zero interval the count is always 1.
func NewLoopingCallWithCount(s Scheduler, f func(count int) *deferred.Deferred[struct{}]) *LoopingCall {
	lc := &LoopingCall{s: s, countF: f}
	lc.f = lc.countedCall
	lc.tickFn = lc.tick
	return lc
}

// Start begins calling the function every interval, at once when now is true,
// otherwise first after one interval. A zero interval calls it again as soon as
// possible (in a later iteration). The returned Deferred fires with lc when
// [LoopingCall.Stop] stops it, and fails with the Failure of the function (its
// error, its panic or its Deferred's failure), which also stops it. It fails with
// [ErrNegativeInterval] for a negative interval and [ErrLoopingCallRunning] when
// lc is already running.
func (lc *LoopingCall) Start(interval time.Duration, now bool) *deferred.Deferred[*LoopingCall] {
	if interval < 0 {
		return deferred.Fail[*LoopingCall](ErrNegativeInterval)
	}
	if lc.running {
		return deferred.Fail[*LoopingCall](ErrLoopingCallRunning)
	}
	lc.running = true
	d := deferred.New[*LoopingCall]()
	lc.d = d
	lc.start = lc.s.Now()
	lc.interval = interval
	lc.runAtStart = now
	lc.hasLast = false
	if now {
		lc.tick()
	} else {
		lc.scheduleFrom(lc.start)
	}
	return d
}

// Stop stops the LoopingCall. If no call is in progress, the Deferred of Start
// fires with lc at once; otherwise it fires when the Deferred of the call in
// progress does. Stop returns [ErrLoopingCallNotRunning] when lc is not running.
func (lc *LoopingCall) Stop() error {
	if !lc.running {
		return ErrLoopingCallNotRunning
	}
	lc.running = false
	if lc.call != nil {
		lc.call.Cancel()
		lc.call = nil
		lc.finish()
	}
	return nil
}

// Reset skips the next call and restarts the interval grid from now (Twisted's
// reset). It returns [ErrLoopingCallNotRunning] when lc is not running; while a
// call's Deferred is pending it does nothing.
func (lc *LoopingCall) Reset() error {
	if !lc.running {
		return ErrLoopingCallNotRunning
	}
	if lc.call != nil {
		lc.call.Cancel()
		lc.start = lc.s.Now()
		lc.scheduleFrom(lc.start)
	}
	return nil
}

// Running reports whether lc has been started and not stopped.
func (lc *LoopingCall) Running() bool { return lc.running }

// Interval returns the interval of the last Start.
func (lc *LoopingCall) Interval() time.Duration { return lc.interval }

// tick is one call of the function.
func (lc *LoopingCall) tick() {
	lc.call = nil
	d, f := lc.callF()
	switch {
	case f != nil:
		lc.failed(f)
	case d == nil:
		lc.called()
	default:
		lc.await(d)
	}
}

func (lc *LoopingCall) callF() (d *deferred.Deferred[struct{}], f *failure.Failure) {
	defer func() {
		if v := recover(); v != nil {
			d, f = nil, failure.FromPanic(v)
		}
	}()
	return lc.f(), nil
}

// await continues once d fires: at once if it already has, otherwise on the
// Scheduler's goroutine (a Reactor's loop), whichever goroutine fires d.
func (lc *LoopingCall) await(d *deferred.Deferred[struct{}]) {
	const (
		adding   = iota // AddBoth has not returned yet
		firedNow        // d fired while AddBoth ran: continue here
		later           // AddBoth returned first: continue when d fires
	)
	var (
		state  atomic.Int32
		result *failure.Failure
	)
	d.AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
		result = f
		if !state.CompareAndSwap(adding, firedNow) {
			lc.continueOnScheduler(func() { lc.resume(f) })
		}
		return struct{}{}, nil // the failure goes to Start's Deferred
	})
	if !state.CompareAndSwap(adding, later) {
		lc.resume(result)
	}
}

func (lc *LoopingCall) continueOnScheduler(f func()) {
	if h, ok := lc.s.(interface{ CallFromGoroutine(func()) }); ok {
		h.CallFromGoroutine(f)
		return
	}
	f()
}

func (lc *LoopingCall) resume(f *failure.Failure) {
	if f != nil {
		lc.failed(f)
		return
	}
	lc.called()
}

// called runs after a successful call: schedule the next one, or finish if
// Stop came while the call was in progress.
func (lc *LoopingCall) called() {
	if lc.running {
		lc.scheduleFrom(lc.s.Now())
		return
	}
	lc.finish()
}

func (lc *LoopingCall) failed(f *failure.Failure) {
	lc.running = false
	d := lc.d
	lc.d = nil
	d.Errback(f)
}

func (lc *LoopingCall) finish() {
	d := lc.d
	lc.d = nil
	d.Callback(lc)
}

// scheduleFrom schedules the next call at the first grid point after when.
func (lc *LoopingCall) scheduleFrom(when time.Time) {
	var delay time.Duration
	if lc.interval > 0 {
		delay = lc.interval - when.Sub(lc.start)%lc.interval
	}
	lc.call = lc.s.Schedule(delay, lc.tickFn)
}

// countedCall is the function of a NewLoopingCallWithCount LoopingCall.
func (lc *LoopingCall) countedCall() *deferred.Deferred[struct{}] {
	now := lc.s.Now()
	if lc.interval == 0 {
		lc.lastTime, lc.hasLast = now, true
		return lc.countF(1)
	}
	last := lc.lastTime
	if !lc.hasLast {
		last = lc.start
		if lc.runAtStart {
			last = last.Add(-lc.interval)
		}
	}
	count := lc.intervalOf(now) - lc.intervalOf(last)
	if count <= 0 {
		return nil
	}
	lc.lastTime, lc.hasLast = now, true
	return lc.countF(int(count))
}

func (lc *LoopingCall) intervalOf(t time.Time) int64 {
	return int64(t.Sub(lc.start) / lc.interval)
}
