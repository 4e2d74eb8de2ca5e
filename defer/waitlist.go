package deferred

// maxNestedHandOffs bounds how deep a Lock, Semaphore or Queue hands over
// in its waiters' callbacks. A Release (or Put) made from the callbacks of
// a waiter that an outer Release served runs the next waiter's callbacks at
// once, before it returns, as in Twisted, up to this depth; deeper, it
// leaves the hand-off to the innermost Release in progress, which makes it
// when the callbacks it runs return. However many waiters pass a token on,
// the stack stays bounded (Twisted recurses, and overflows). Netty bounds
// its listeners' nesting the same way, at the same depth.
const maxNestedHandOffs = 8

// waitList is a FIFO of pending Deferreds that can also drop any of its
// entries in O(1), when a waiter is cancelled. It is guarded by its owner's
// mutex.
type waitList[T any] struct {
	head, tail *waitEntry[T]
	n          int
}

type waitEntry[T any] struct {
	d          *Deferred[T]
	prev, next *waitEntry[T]
	queued     bool
}

func (l *waitList[T]) pushBack(e *waitEntry[T]) {
	e.prev, e.next, e.queued = l.tail, nil, true
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
	l.n++
}

// popFront removes and returns the oldest entry, or nil.
func (l *waitList[T]) popFront() *waitEntry[T] {
	e := l.head
	if e != nil {
		l.remove(e)
	}
	return e
}

// remove takes e out of the list; it reports false if e was not in it.
func (l *waitList[T]) remove(e *waitEntry[T]) bool {
	if !e.queued {
		return false
	}
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next, e.queued = nil, nil, false
	l.n--
	return true
}
