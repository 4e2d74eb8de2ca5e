package timerheap

import "math"

// A bucket keeps the entries pushed to it, in order, in a list of fixed-size
// blocks, and the heap recycles the blocks that spreads empty: a burst of
// timers costs one allocation per blockLen entries and no copying, where
// growing arrays would allocate twice its size and copy it once. The entries
// a spread moves to a bucket go before those, in a segment of its level's
// arena, an array the heap reuses from spread to spread.

// blockLen is the number of entries in a block.
const blockLen = 32

type block[T any] struct {
	next *block[T]
	es   [blockLen]Entry[T]
}

// A bucket's entries are those of its segment, placed there together by a
// spread (see Heap.spread), then those of its blocks, pushed later. The
// blocks are full but the last, which holds lastLen entries.
type bucket[T any] struct {
	seg         []Entry[T]
	first, last *block[T]
	lastLen     int
	minWhen     int64 // the lowest When of the entries, when there are some
}

func (bk *bucket[T]) empty() bool { return bk.first == nil && len(bk.seg) == 0 }

// parts calls f with bk's segment, if any, then its blocks' entries: all its
// entries, in order.
func (bk *bucket[T]) parts(f func(es []Entry[T])) {
	if len(bk.seg) > 0 {
		f(bk.seg)
	}
	for b := bk.first; b != nil; b = b.next {
		f(bk.entries(b))
	}
}

// small reports whether bk holds at most sortMax entries.
func (bk *bucket[T]) small() bool {
	switch {
	case bk.first == nil:
		return len(bk.seg) <= sortMax
	case bk.first == bk.last:
		return len(bk.seg)+bk.lastLen <= sortMax
	case bk.first.next == bk.last:
		return len(bk.seg)+blockLen+bk.lastLen <= sortMax
	}
	return false
}

// entries returns b's entries, b being one of bk's blocks.
func (bk *bucket[T]) entries(b *block[T]) []Entry[T] {
	if b == bk.last {
		return b.es[:bk.lastLen]
	}
	return b.es[:]
}

// push appends e to bk, taking a block from h if bk's last one is full.
func (h *Heap[T]) push(bk *bucket[T], e Entry[T]) {
	if bk.last == nil || bk.lastLen == blockLen {
		b := h.newBlock()
		if bk.last == nil {
			bk.first = b
		} else {
			bk.last.next = b
		}
		bk.last, bk.lastLen = b, 0
	}
	bk.last.es[bk.lastLen] = e
	bk.lastLen++
}

// drain calls f with each of bk's entries in order, clearing its segment and
// recycling each block once f has seen its entries, and leaves bk empty.
func (h *Heap[T]) drain(bk *bucket[T], f func(es []Entry[T])) {
	if seg := bk.seg; len(seg) > 0 {
		bk.seg = nil
		f(seg)
		clear(seg)
	}
	h.drainBlocks(bk, f)
}

// drainBlocks is drain for bk's blocks only.
func (h *Heap[T]) drainBlocks(bk *bucket[T], f func(es []Entry[T])) {
	b := bk.first
	last, lastLen := bk.last, bk.lastLen
	bk.first, bk.last, bk.lastLen = nil, nil, 0
	for b != nil {
		n := blockLen
		if b == last {
			n = lastLen
		}
		f(b.es[:n])
		next := b.next
		h.freeBlock(b, n)
		b = next
	}
}

func (h *Heap[T]) newBlock() *block[T] {
	b := h.free
	if b == nil {
		h.blocks++
		return new(block[T])
	}
	h.free, b.next = b.next, nil
	h.nFree--
	return b
}

// freeBlock clears the first n entries of b and keeps it for reuse.
func (h *Heap[T]) freeBlock(b *block[T], n int) {
	clear(b.es[:n])
	b.next = h.free
	h.free = b
	h.nFree++
}

// idleBlocks is how many recycled blocks the heap keeps however few entries
// it holds: enough for a steady trickle of timers not to allocate.
const idleBlocks = 8

// dropFree gives the recycled blocks beyond idleBlocks back to the garbage
// collector.
func (h *Heap[T]) dropFree() {
	for h.nFree > idleBlocks {
		h.free, h.free.next = h.free.next, nil
		h.nFree--
		h.blocks--
	}
}

// filterBucket keeps bk's entries that pass keep, in order, and returns how many
// it removed; the blocks it no longer needs are recycled.
func (h *Heap[T]) filterBucket(bk *bucket[T], keep func(*Entry[T]) bool) (removed int) {
	lo := int64(math.MaxInt64)
	if len(bk.seg) > 0 {
		kept, segLo := filter(bk.seg, keep)
		removed += len(bk.seg) - len(kept)
		bk.seg, lo = kept, segLo
		if len(kept) == 0 {
			bk.seg = nil
		}
	}
	if bk.first != nil {
		n, blocksLo := h.filterBlocks(bk, keep)
		removed += n
		lo = min(lo, blocksLo)
	}
	bk.minWhen = lo
	return removed
}

// filterBlocks is filterBucket for bk's blocks; it also returns the lowest
// When it keeps, or math.MaxInt64.
func (h *Heap[T]) filterBlocks(bk *bucket[T], keep func(*Entry[T]) bool) (removed int, lo int64) {
	w, wi := bk.first, 0 // where the next kept entry goes
	kept := 0
	lo = math.MaxInt64
	for r := bk.first; r != nil; r = r.next {
		es := bk.entries(r)
		for i := range es {
			if !keep(&es[i]) {
				removed++
				continue
			}
			if wi == blockLen {
				w, wi = w.next, 0
			}
			w.es[wi] = es[i]
			lo = min(lo, es[i].When)
			wi++
			kept++
		}
	}
	if kept == 0 {
		h.drainBlocks(bk, func([]Entry[T]) {})
		return removed, lo
	}
	for b := w.next; b != nil; {
		next := b.next
		h.freeBlock(b, len(bk.entries(b)))
		b = next
	}
	clear(w.es[wi:len(bk.entries(w))])
	w.next = nil
	bk.last, bk.lastLen = w, wi
	return removed, lo
}
