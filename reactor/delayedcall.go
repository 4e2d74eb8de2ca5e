package reactor

import (
	"math"
	"sync"
	"time"

	"github.com/twistgo/twist/reactor/internal/timerheap"
)

// DelayedCall is a function scheduled to run once at a given time, returned by
// [Reactor.Schedule] and [Clock.Schedule] (Twisted's IDelayedCall).
//
// A reactor's DelayedCall may be used only on its loop goroutine (or before Run,
// by the goroutine that will call Run); a [Clock]'s is safe from any goroutine.
type DelayedCall struct {
	t timerheap.Timer[*DelayedCall]
	f func()
	q *timerQueue
}

// Cancel removes the call so it never runs and its memory is released at once.
// It returns [ErrAlreadyCalled] when the call has already run (or is running),
// and [ErrAlreadyCancelled] when it was already cancelled.
func (dc *DelayedCall) Cancel() error {
	q := dc.q
	q.lock()
	defer q.unlock()
	if err := dc.inactiveErr(); err != nil {
		return err
	}
	dc.t.State = timerheap.Cancelled
	dc.f = nil
	q.heap.Remove(&dc.t)
	return nil
}

// Reset moves the call to run d after now (Twisted's reset). A moved call sorts
// after every call already scheduled for the same time, and, made from inside a
// call, it does not run in the current iteration even when d is zero. It returns
// [ErrNegativeDelay] for d < 0, and [ErrAlreadyCalled] or [ErrAlreadyCancelled]
// when the call is no longer active.
func (dc *DelayedCall) Reset(d time.Duration) error {
	if d < 0 {
		return ErrNegativeDelay
	}
	q := dc.q
	q.lock()
	defer q.unlock()
	if err := dc.inactiveErr(); err != nil {
		return err
	}
	q.move(dc, addSat(q.nanotime(), d))
	return nil
}

// Delay moves the call d later than its current time (earlier when d is
// negative), as Twisted's delay does. Like [DelayedCall.Reset], the moved call
// sorts after calls already scheduled for the same time. It returns
// [ErrAlreadyCalled] or [ErrAlreadyCancelled] when the call is no longer active.
func (dc *DelayedCall) Delay(d time.Duration) error {
	q := dc.q
	q.lock()
	defer q.unlock()
	if err := dc.inactiveErr(); err != nil {
		return err
	}
	q.move(dc, addSat(dc.t.When, d))
	return nil
}

// Active reports whether the call is still to run: neither called nor cancelled.
func (dc *DelayedCall) Active() bool {
	q := dc.q
	q.lock()
	defer q.unlock()
	return dc.t.State == timerheap.Pending
}

// Time returns when the call is due (Twisted's getTime).
func (dc *DelayedCall) Time() time.Time {
	q := dc.q
	q.lock()
	defer q.unlock()
	return q.base.Add(time.Duration(dc.t.When))
}

func (dc *DelayedCall) inactiveErr() error {
	switch dc.t.State {
	case timerheap.Called:
		return ErrAlreadyCalled
	case timerheap.Cancelled:
		return ErrAlreadyCancelled
	}
	return nil
}

// timerQueue holds the DelayedCalls of a Reactor or a Clock. Its times are
// nanoseconds since base. Only the Clock's has a mutex: a reactor's is used on
// its loop goroutine only.
type timerQueue struct {
	heap     timerheap.Heap[*DelayedCall]
	seq      uint64
	base     time.Time
	nanotime func() int64
	mu       *sync.Mutex
}

func (q *timerQueue) lock() {
	if q.mu != nil {
		q.mu.Lock()
	}
}

func (q *timerQueue) unlock() {
	if q.mu != nil {
		q.mu.Unlock()
	}
}

// schedule queues f to run delay from now. The caller holds the lock.
func (q *timerQueue) schedule(delay time.Duration, f func()) *DelayedCall {
	if delay < 0 {
		panic(negativeDelayPanic)
	}
	dc := &DelayedCall{f: f, q: q}
	dc.t.Value = dc
	q.seq++
	dc.t.Seq = q.seq
	dc.t.When = addSat(q.nanotime(), delay)
	q.heap.Push(&dc.t)
	return dc
}

func (q *timerQueue) move(dc *DelayedCall, when int64) {
	q.seq++
	dc.t.Seq = q.seq
	dc.t.When = when
	q.heap.Fix(&dc.t)
}

// limit is the sequence number bound for one round of firing: calls scheduled
// (or moved) during the round get a higher number and wait for the next round.
func (q *timerQueue) limit() uint64 { return q.seq + 1 }

// popDue takes the next call due at now and scheduled before limit, marks it
// called and returns its function; ok is false when there is none. The caller
// holds the lock.
func (q *timerQueue) popDue(now int64, limit uint64) (f func(), ok bool) {
	t := q.heap.PopDue(now, limit)
	if t == nil {
		return nil, false
	}
	dc := t.Value
	t.State = timerheap.Called
	f, dc.f = dc.f, nil
	return f, true
}

// next returns the due time of the first call; ok is false when none is queued.
func (q *timerQueue) next() (when int64, ok bool) {
	t := q.heap.Peek()
	if t == nil {
		return 0, false
	}
	return t.When, true
}

// addSat returns t+d, saturating instead of overflowing.
func addSat(t int64, d time.Duration) int64 {
	s := t + int64(d)
	if d > 0 && s < t {
		return math.MaxInt64
	}
	if d < 0 && s > t {
		return math.MinInt64
	}
	return s
}
