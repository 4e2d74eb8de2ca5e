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
	handing int // Puts handing items over right now
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
//
// A Put made from a waiting Get's callbacks hands its item on in the same
// way, up to 8 levels deep; deeper, it queues the item and returns, and
// the innermost Put in progress hands it over when the callbacks it runs
// return (see [Semaphore.Release]). The stack stays bounded however many
// Gets pass items on.
func (q *Queue[T]) Put(v T) error {
	q.mu.Lock()
	// Items queued while Gets wait are promised to them: they do not count
	// against size.
	if q.size > 0 && q.lenLocked()-q.getters.n >= q.size {
		q.mu.Unlock()
		return ErrQueueOverflow
	}
	q.pushLocked(v)
	q.handOff()
	return nil
}

// handOff hands queued items to waiting Gets, oldest to oldest, unless
// hand-offs are nested too deep already; called with q.mu held, it returns
// with it released. An item whose Get was cancelled as it left the queue
// goes back first in line.
func (q *Queue[T]) handOff() {
	if q.getters.n == 0 || q.handing >= maxNestedHandOffs {
		q.mu.Unlock()
		return
	}
	q.handing++
	for q.lenLocked() > 0 {
		e := q.getters.popFront()
		if e == nil {
			break
		}
		v := q.popLocked()
		q.mu.Unlock()
		err := e.d.Callback(v)
		q.mu.Lock()
		if err != nil {
			q.unpopLocked(v)
		}
	}
	q.handing--
	q.mu.Unlock()
}

// Get returns a Deferred that fires with the oldest queued item: it has
// fired already if the queue holds one; otherwise it waits, in FIFO order
// with other Gets, for a [Queue.Put], and its callbacks run on the
// goroutine that calls Put. When backlog Gets are waiting already, the
// Deferred has failed with [ErrQueueUnderflow]. Cancelling a waiting Get
// withdraws it and fails it with [ErrCancelled].
func (q *Queue[T]) Get() *Deferred[T] {
	q.mu.Lock()
	if q.lenLocked() > 0 && q.getters.n == 0 {
		v := q.popLocked()
		q.mu.Unlock()
		return Succeed(v)
	}
	// Items queued while Gets wait go to those first: they cover as many.
	if q.backlog > 0 && q.getters.n-q.lenLocked() >= q.backlog {
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

// pushLocked queues v last.
func (q *Queue[T]) pushLocked(v T) {
	if q.head > 0 && len(q.items) == cap(q.items) {
		// Slide the queued items down instead of growing the array.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, v)
}

// popLocked takes the first queued item.
func (q *Queue[T]) popLocked() T {
	v := q.items[q.head]
	var zero T
	q.items[q.head] = zero
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return v
}

// unpopLocked puts v back first in line.
func (q *Queue[T]) unpopLocked(v T) {
	if q.head > 0 {
		q.head--
		q.items[q.head] = v
		return
	}
	q.items = append(q.items, v)
	copy(q.items[1:], q.items)
	q.items[0] = v
}
