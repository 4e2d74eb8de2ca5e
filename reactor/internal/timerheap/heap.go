// Package timerheap is the reactor's priority queue of timers: a 4-ary min-heap
// ordered by due time, then by sequence number, with each timer's position kept in
// the timer so that removing or moving one costs O(log n).
//
// It is not safe for concurrent use; its owner serialises access.
package timerheap

// State is where a [Timer] is in its life.
type State uint8

const (
	// Pending timers are queued (or not yet pushed) and may still fire.
	Pending State = iota
	// Called timers have been popped to run.
	Called
	// Cancelled timers were removed before they ran.
	Cancelled
)

// Timer is one entry, carrying its owner's Value. When and Seq are its key: lower
// When first, and among equal When the lower Seq (the earlier scheduled) first.
type Timer[T any] struct {
	When  int64 // due time, in nanoseconds on the owner's clock
	Seq   uint64
	Value T
	State State
	pos   int32 // position in the heap plus one; 0 when not queued, so the zero Timer is unqueued
}

// Queued reports whether t is in a heap.
func (t *Timer[T]) Queued() bool { return t.pos > 0 }

// slot keeps the key next to the pointer so that comparisons do not chase pointers.
type slot[T any] struct {
	when int64
	seq  uint64
	t    *Timer[T]
}

func (a *slot[T]) less(b *slot[T]) bool {
	return a.when < b.when || (a.when == b.when && a.seq < b.seq)
}

// minShrinkCap is the capacity below which the heap never gives memory back.
const minShrinkCap = 256

// Heap is a 4-ary min-heap of timers. The zero value is an empty heap.
type Heap[T any] struct {
	s []slot[T]
}

// Len returns the number of queued timers.
func (h *Heap[T]) Len() int { return len(h.s) }

// Cap returns the capacity of the backing array (for tests of memory release).
func (h *Heap[T]) Cap() int { return cap(h.s) }

// Push queues t, keyed by its current When and Seq.
func (h *Heap[T]) Push(t *Timer[T]) {
	i := len(h.s)
	if i == cap(h.s) {
		// Double, rather than append's 1.25x for large slices: fewer copies of a
		// big heap while a burst of timers is scheduled.
		s := make([]slot[T], i, max(2*i, 64))
		copy(s, h.s)
		h.s = s
	}
	h.s = append(h.s, slot[T]{when: t.When, seq: t.Seq, t: t})
	t.pos = int32(i + 1)
	h.up(i)
}

// Peek returns the first timer, or nil when the heap is empty.
func (h *Heap[T]) Peek() *Timer[T] {
	if len(h.s) == 0 {
		return nil
	}
	return h.s[0].t
}

// PopDue removes and returns the first timer if it is due at now and was
// scheduled before the sequence number limit; otherwise it returns nil.
func (h *Heap[T]) PopDue(now int64, limit uint64) *Timer[T] {
	if len(h.s) == 0 {
		return nil
	}
	top := &h.s[0]
	if top.when > now || top.seq >= limit {
		return nil
	}
	t := top.t
	h.removeAt(0)
	return t
}

// Remove takes t out of the heap; it does nothing when t is not queued.
func (h *Heap[T]) Remove(t *Timer[T]) {
	if t.pos <= 0 {
		return
	}
	h.removeAt(int(t.pos - 1))
}

// Fix restores the order after t's When or Seq changed.
func (h *Heap[T]) Fix(t *Timer[T]) {
	i := int(t.pos - 1)
	if i < 0 {
		return
	}
	h.s[i].when, h.s[i].seq = t.When, t.Seq
	if !h.up(i) {
		h.down(i)
	}
}

// Timers returns the queued timers in heap order (not sorted).
func (h *Heap[T]) Timers() []*Timer[T] {
	out := make([]*Timer[T], len(h.s))
	for i := range h.s {
		out[i] = h.s[i].t
	}
	return out
}

func (h *Heap[T]) removeAt(i int) {
	s := h.s
	last := len(s) - 1
	s[i].t.pos = 0
	if i != last {
		s[i] = s[last]
		s[i].t.pos = int32(i + 1)
	}
	s[last] = slot[T]{}
	h.s = s[:last]
	if i != last {
		if !h.up(i) {
			h.down(i)
		}
	}
	h.shrink()
}

// shrink gives memory back once the heap is a quarter full, so that a burst of
// timers does not pin its peak size forever.
func (h *Heap[T]) shrink() {
	if c := cap(h.s); c > minShrinkCap && len(h.s) < c/4 {
		s := make([]slot[T], len(h.s), c/2)
		copy(s, h.s)
		h.s = s
	}
}

// up moves the element at i towards the root; it reports whether it moved.
func (h *Heap[T]) up(i int) bool {
	s := h.s
	x := s[i]
	start := i
	for i > 0 {
		p := (i - 1) / 4
		if !x.less(&s[p]) {
			break
		}
		s[i] = s[p]
		s[i].t.pos = int32(i + 1)
		i = p
	}
	s[i] = x
	x.t.pos = int32(i + 1)
	return i != start
}

func (h *Heap[T]) down(i int) {
	s := h.s
	n := len(s)
	x := s[i]
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		end := min(c+4, n)
		for j := c + 1; j < end; j++ {
			if s[j].less(&s[m]) {
				m = j
			}
		}
		if !s[m].less(&x) {
			break
		}
		s[i] = s[m]
		s[i].t.pos = int32(i + 1)
		i = m
	}
	s[i] = x
	x.t.pos = int32(i + 1)
}
