package reactor

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/twistgo/twist/reactor/internal/timerheap"
)

// DelayedCall is a function scheduled to run once at a given time, returned by
// [Reactor.Schedule] and [Clock.Schedule] (Twisted's IDelayedCall).
//
// Whichever [Scheduler] made it, a DelayedCall is used where that scheduler runs
// its calls, as Schedule is: on a reactor's loop goroutine (or before Run, by the
// goroutine that will call Run; checked under [WithDebug]), on the goroutine that
// advances a [Clock]. From another goroutine, cancel through the stop function of
// [Reactor.AfterFunc], or hand the call over with [Reactor.CallFromGoroutine].
type DelayedCall struct {
	f    func()
	q    *timerQueue
	when int64 // due time, nanoseconds since q.base
	// seq is the sequence number of the call's live queue entry, with the
	// called or cancelled flag set once the call is over: an entry is live while
	// its Seq equals its call's seq.
	seq uint64
}

const (
	calledFlag    uint64 = 1 << 63
	cancelledFlag uint64 = 1 << 62
)

// Cancel removes the call so it never runs; its function is released at once.
// It returns [ErrAlreadyCalled] when the call has already run (or is running),
// and [ErrAlreadyCancelled] when it was already cancelled.
func (dc *DelayedCall) Cancel() error {
	q := dc.q
	q.check("DelayedCall.Cancel")
	q.lock()
	defer q.unlock()
	if err := dc.inactiveErr(); err != nil {
		return err
	}
	dc.seq |= cancelledFlag
	dc.f = nil
	q.discard()
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
	q.check("DelayedCall.Reset")
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
	q.check("DelayedCall.Delay")
	q.lock()
	defer q.unlock()
	if err := dc.inactiveErr(); err != nil {
		return err
	}
	q.move(dc, addSat(dc.when, d))
	return nil
}

// Active reports whether the call is still to run: neither called nor cancelled.
func (dc *DelayedCall) Active() bool {
	q := dc.q
	q.check("DelayedCall.Active")
	q.lock()
	defer q.unlock()
	return dc.inactiveErr() == nil
}

// Time returns when the call is due (Twisted's getTime).
func (dc *DelayedCall) Time() time.Time {
	q := dc.q
	q.check("DelayedCall.Time")
	q.lock()
	defer q.unlock()
	return q.base.Add(time.Duration(dc.when))
}

func (dc *DelayedCall) inactiveErr() error {
	switch {
	case dc.seq&calledFlag != 0:
		return ErrAlreadyCalled
	case dc.seq&cancelledFlag != 0:
		return ErrAlreadyCancelled
	}
	return nil
}

// timerQueue holds the DelayedCalls of a Reactor or a Clock. Its times are
// nanoseconds since base. Only the Clock's has a mutex: a reactor's is used on
// its loop goroutine only.
//
// Cancelling or moving a call leaves its entry in the heap, stale; stale
// entries are dropped when they come due, and swept out all at once when they
// outnumber the live ones, so that cancelling costs O(1) and the memory of
// cancelled calls stays within twice that of the live ones.
type timerQueue struct {
	heap     timerheap.Heap[*DelayedCall]
	seq      uint64
	live     int // entries in heap whose call is active; the others are stale
	base     time.Time
	nanotime func() int64
	mu       *sync.Mutex
	owner    *Reactor // the reactor whose loop the queue belongs to; nil for a Clock
}

// check is the owner's goroutine check, for a reactor's DelayedCalls.
func (q *timerQueue) check(call string) {
	if q.owner != nil {
		q.owner.CheckLoop(call)
	}
}

type timerEntry = timerheap.Entry[*DelayedCall]

func isLive(e *timerEntry) bool { return e.Value.seq == e.Seq }

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
	q.seq++
	dc := &DelayedCall{f: f, q: q, when: addSat(q.nanotime(), delay), seq: q.seq}
	q.heap.Push(timerEntry{When: dc.when, Seq: dc.seq, Value: dc})
	q.live++
	return dc
}

// move queues dc again at when, behind the calls already queued; its old entry
// goes stale. The caller holds the lock.
func (q *timerQueue) move(dc *DelayedCall, when int64) {
	q.seq++
	dc.seq = q.seq
	dc.when = when
	q.heap.Push(timerEntry{When: when, Seq: dc.seq, Value: dc})
	q.live++
	q.discard()
}

// discard counts one more stale entry, and sweeps the stale entries out once
// they are the majority.
func (q *timerQueue) discard() {
	q.live--
	if q.heap.Len()-q.live > q.live {
		q.heap.Filter(isLive)
	}
}

// limit is the sequence number bound for one round of firing: calls scheduled
// (or moved) during the round get a higher number and wait for the next round.
func (q *timerQueue) limit() uint64 { return q.seq + 1 }

// popDue takes the next call due at now and scheduled before limit, marks it
// called and returns its function; ok is false when there is none. The caller
// holds the lock.
func (q *timerQueue) popDue(now int64, limit uint64) (f func(), ok bool) {
	for {
		e, due := q.heap.FirstDue(now, isLive)
		if !due {
			return nil, false
		}
		if !isLive(&e) { // cancelled or moved since the heap checked, if it did
			q.heap.DropFirst()
			continue
		}
		if e.Seq >= limit {
			return nil, false
		}
		q.heap.DropFirst()
		q.live--
		dc := e.Value
		dc.seq |= calledFlag
		f, dc.f = dc.f, nil
		return f, true
	}
}

// next returns the due time of the first entry (maybe a stale one: the loop then
// wakes early and drops it); ok is false when none is queued.
func (q *timerQueue) next() (when int64, ok bool) {
	return q.heap.NextWhen()
}

// pending returns the live calls sorted by time, then by scheduling order. The
// caller holds the lock.
func (q *timerQueue) pending() []*DelayedCall {
	var live []timerEntry
	for e := range q.heap.All() {
		if isLive(&e) {
			live = append(live, e)
		}
	}
	slices.SortFunc(live, func(a, b timerEntry) int {
		if c := cmp.Compare(a.When, b.When); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	out := make([]*DelayedCall, len(live))
	for i, e := range live {
		out[i] = e.Value
	}
	return out
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
