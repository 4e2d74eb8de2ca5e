package deferred

import "sync"

// Queue is a FIFO queue for event-driven code (Twisted's DeferredQueue):
// [Queue.Get] returns a Deferred that fires with the next item, at once if
// one is queued, and [Queue.Put] hands an item straight to the oldest
// waiting Get. It is safe for concurrent use. The zero value is not usable:
// create one with [NewQueue].
type Queue[T any] struct {
	mu      sync.Mutex
	items   []T
	head    int // items[head:] are queued
	getters waitList[T]
	size    int
	backlog int
}

// NewQueue returns an empty Queue that holds at most size items and at
// most backlog waiting Gets; 0 means no limit. Negative values panic.
func NewQueue[T any](size, backlog int) *Queue[T] {
	if size < 0 || backlog < 0 {
		panic("deferred: NewQueue with a negative size or backlog")
	}
	return &Queue[T]{size: size, backlog: backlog}
}

// Put adds v to the queue, or hands it to the oldest waiting Get, whose
// callbacks then run on the calling goroutine before Put returns. It
// returns [ErrQueueOverflow], and drops v, when the queue holds size items
// already and no Get is waiting.
func (q *Queue[T]) Put(v T) error {
	q.mu.Lock()
	for {
		e := q.getters.popFront()
		if e == nil {
			break
		}
		q.mu.Unlock()
		if e.d.Callback(v) == nil {
			return nil
		}
		// The Get was cancelled as it left the queue: try the next one.
		q.mu.Lock()
	}
	defer q.mu.Unlock()
	if q.size > 0 && q.lenLocked() >= q.size {
		return ErrQueueOverflow
	}
	if q.head > 0 && len(q.items) == cap(q.items) {
		// Slide the queued items down instead of growing the array.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, v)
	return nil
}

// Get returns a Deferred that fires with the oldest queued item: it has
// fired already if the queue holds one; otherwise it waits, in FIFO order
// with other Gets, for a [Queue.Put], and its callbacks run on the
// goroutine that calls Put. When backlog Gets are waiting already, the
// Deferred has failed with [ErrQueueUnderflow]. Cancelling a waiting Get
// withdraws it and fails it with [ErrCancelled].
func (q *Queue[T]) Get() *Deferred[T] {
	q.mu.Lock()
	if q.lenLocked() > 0 {
		v := q.items[q.head]
		var zero T
		q.items[q.head] = zero
		q.head++
		if q.head == len(q.items) {
			q.items, q.head = q.items[:0], 0
		}
		q.mu.Unlock()
		return Succeed(v)
	}
	if q.backlog > 0 && q.getters.n >= q.backlog {
		q.mu.Unlock()
		return Fail[T](ErrQueueUnderflow)
	}
	e := &waitEntry[T]{}
	e.d = NewWithCanceller(func(*Deferred[T]) {
		q.mu.Lock()
		q.getters.remove(e)
		q.mu.Unlock()
	})
	q.getters.pushBack(e)
	q.mu.Unlock()
	return e.d
}

// Len returns the number of queued items. It is safe for concurrent use,
// but the answer may be stale by the time it is used.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lenLocked()
}

// Waiting returns the number of Gets waiting for an item.
func (q *Queue[T]) Waiting() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.getters.n
}

func (q *Queue[T]) lenLocked() int { return len(q.items) - q.head }
