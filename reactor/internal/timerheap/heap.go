// Package timerheap is the reactor's priority queue of timers, ordered by due
// time and then by sequence number.
//
// It is a radix heap (Ahuja, Mehlhorn, Orlin and Tarjan, 1990) with 64-way
// digits, as in Cherkassky, Goldberg and Silverstein's multi-level buckets. The
// due time of the last entry gathered for taking out (see below) is the floor;
// every later entry sits in the bucket named by the highest 6-bit digit in
// which its due time differs from the floor's (its level) and by its own value
// of that digit, so every entry of a bucket comes before every entry of a later
// one. Pushing appends to a bucket in O(1). When the first bucket is due, it is
// spread over the buckets below it, with its lowest due time as the new floor,
// in two sequential passes, as a radix sort does: an entry moves at most once
// per level (two or three times for timers due within the next second). A bucket of
// at most 64 entries, all due, is sorted into the run that entries are taken
// from instead, and so is one of the lowest level, which holds a single due
// time. On 10⁵–10⁶ timers that is several times faster than a 4-ary heap,
// whose every level is a cache miss and three unpredictable comparisons.
//
// While gathering the run, the heap drops the entries its owner's keep function
// rejects (those of cancelled timers), checking the whole run in one pass: the
// owner's checks then miss the cache together rather than one by one.
//
// Entries due at the same time always share a bucket, and buckets keep the
// order of their entries, so entries pushed in increasing Seq order come out in
// it among equal due times without comparing Seqs.
//
// A radix heap needs pushed due times to be no lower than the floor. Timers keep
// to that (a call is scheduled at now or later, and only calls due by now are
// taken out), except for a call moved to before the last one taken out; such
// entries go to a small binary heap, merged with the run.
//
// Entries are never removed from the middle: stale entries are dropped when
// gathered or by the owner when they come first, and swept out with
// [Heap.Filter] when they pile up.
//
// A Heap is not safe for concurrent use; its owner serialises access.
package timerheap

import (
	"iter"
	"math"
	"math/bits"
)

// Entry is one queued timer, carrying its owner's Value. When and Seq are its
// key: lower When first, and among equal When the lower Seq (the earlier
// scheduled) first. Entries are pushed in increasing Seq order.
type Entry[T any] struct {
	When  int64 // due time, in nanoseconds on the owner's clock
	Seq   uint64
	Value T
}

func (e *Entry[T]) less(f *Entry[T]) bool {
	if e.When != f.When {
		return e.When < f.When
	}
	return e.Seq < f.Seq
}

const (
	digitBits = 6
	radix     = 1 << digitBits
	nLevels   = (64 + digitBits - 1) / digitBits
	nBuckets  = nLevels * radix
	// idleCap is the largest array the run or the early heap keeps for reuse
	// when empty: enough for a steady trickle of timers not to allocate, small
	// enough that a burst's arrays go back to the garbage collector.
	idleCap = 32
	// trimSlack is how many entries the recycled blocks may hold room for,
	// beyond sixteen times the heap's entries, before a spread gives them back.
	trimSlack = 1 << 16
)

// Heap is a priority queue of timer entries. The zero value is an empty heap.
type Heap[T any] struct {
	buckets [nBuckets]bucket[T] // level l's bucket for digit d is l*radix+d
	// levels has bit l set when level l has an entry; nonEmpty[l] has bit d set
	// when its bucket for digit d has one.
	levels   uint16
	nonEmpty [nLevels]uint64
	floor    int64      // the due time of the run's last entry
	run      []Entry[T] // due entries gathered in order, from runPos on
	runPos   int
	early    []Entry[T] // binary min-heap of entries pushed below the floor
	n        int
	free     *block[T] // recycled blocks, nFree of them
	nFree    int
	blocks   int // blocks allocated and not given back
	// arena[l] holds the segments of level l's buckets; cursor is spread's
	// scratch space.
	arena  [nLevels][]Entry[T]
	cursor [nBuckets]int32
}

// Len returns the number of entries.
func (h *Heap[T]) Len() int { return h.n }

// Cap returns the number of entries the heap's arrays can hold without growing
// (for tests of memory release).
func (h *Heap[T]) Cap() int {
	c := cap(h.early) + cap(h.run) + h.blocks*blockLen
	for _, a := range h.arena {
		c += cap(a)
	}
	return c
}

// Push queues e.
func (h *Heap[T]) Push(e Entry[T]) {
	h.n++
	if e.When < h.floor {
		h.pushEarly(e)
		return
	}
	h.add(e)
}

// ordered maps a due time to a key whose unsigned order is the due times'
// signed order, so that digits compare as due times do.
func ordered(when int64) uint64 { return uint64(when) ^ 1<<63 }

// add puts e, which is not below the floor, in its bucket: the end of the run
// if it is due at the floor, otherwise the bucket of the highest digit in which
// its due time differs from the floor's.
func (h *Heap[T]) add(e Entry[T]) {
	b := target(e.When, h.floor)
	if b < 0 {
		h.run = append(h.run, e)
		return
	}
	bk := &h.buckets[b]
	if bk.empty() {
		h.levels |= 1 << (b / radix)
		h.nonEmpty[b/radix] |= 1 << (b % radix)
		bk.minWhen = e.When
	} else {
		bk.minWhen = min(bk.minWhen, e.When)
	}
	h.push(bk, e)
}

// lowest returns the index of the first non-empty bucket, or -1.
func (h *Heap[T]) lowest() int {
	if h.levels == 0 {
		return -1
	}
	l := bits.TrailingZeros16(h.levels)
	return l*radix + bits.TrailingZeros64(h.nonEmpty[l])
}

// markEmpty records that bucket b has no entries.
func (h *Heap[T]) markEmpty(b int) {
	l := b / radix
	h.nonEmpty[l] &^= 1 << (b % radix)
	if h.nonEmpty[l] == 0 {
		h.levels &^= 1 << l
	}
}

// NextWhen returns the due time of the first entry; ok is false when the heap is
// empty.
func (h *Heap[T]) NextWhen() (when int64, ok bool) {
	switch {
	case h.earlyFirst():
		return h.early[0].When, true
	case h.runPos < len(h.run):
		return h.run[h.runPos].When, true
	}
	b := h.lowest()
	if b < 0 {
		return 0, false
	}
	return h.buckets[b].minWhen, true
}

// earlyFirst reports whether the first entry is in the early heap.
func (h *Heap[T]) earlyFirst() bool {
	return len(h.early) > 0 && (h.runPos == len(h.run) || h.early[0].less(&h.run[h.runPos]))
}

// FirstDue returns the first entry if it is due at now (its When is at most
// now); ok is false otherwise. Entries for which keep (if not nil) returns false
// may be dropped unseen first. Now must not be ahead of the owner's clock: due
// times up to now become the floor, and later pushes are expected not to go
// below it.
func (h *Heap[T]) FirstDue(now int64, keep func(*Entry[T]) bool) (e Entry[T], ok bool) {
	if h.runPos == len(h.run) {
		h.gather(now, keep)
	}
	switch {
	case h.earlyFirst():
		e = h.early[0]
	case h.runPos < len(h.run):
		e = h.run[h.runPos]
	default:
		return e, false
	}
	return e, e.When <= now
}

// DropFirst removes the entry the last FirstDue returned. No Push may come
// between the two.
func (h *Heap[T]) DropFirst() {
	h.n--
	if h.earlyFirst() {
		h.popEarly()
		return
	}
	h.run[h.runPos] = Entry[T]{}
	h.runPos++
	if h.runPos == len(h.run) {
		h.run, h.runPos = h.run[:0], 0
		if cap(h.run) > 4*runMax {
			h.run = nil // a burst of timers due at once has gone
		}
	}
}

// runMax is how many entries gather collects at most, beyond those of the
// bucket it spreads or takes last.
const runMax = 256

// gather refills the empty run with the entries due at now, in order, up to
// about runMax of them, dropping those keep rejects.
func (h *Heap[T]) gather(now int64, keep func(*Entry[T]) bool) {
	for len(h.run) == 0 {
		for len(h.run) < runMax {
			b := h.lowest()
			if b < 0 || h.buckets[b].minWhen > now {
				break
			}
			if b >= radix {
				h.settle(b, now) // the entries due at the new floor join the run
			} else {
				h.take(b)
			}
		}
		if len(h.run) == 0 || keep == nil {
			return
		}
		kept, _ := filter(h.run, keep) // in one pass, for the owner's cache misses to overlap
		h.n -= len(h.run) - len(kept)
		h.run = kept
	}
}

// take appends bucket b, of the lowest level, to the run: its entries share
// one due time, which becomes the floor.
func (h *Heap[T]) take(b int) {
	bk := &h.buckets[b]
	h.floor = bk.minWhen
	h.markEmpty(b)
	h.drain(bk, func(es []Entry[T]) { h.run = append(h.run, es...) })
}

// settle moves bucket b, the first non-empty one and not of the lowest level,
// on: a small bucket whose entries are all due at now is sorted into the run,
// its last due time becoming the floor; any other is spread over the buckets
// below it, with its lowest due time as the floor, and the entries due at that
// floor join the run, in the order they had in b.
func (h *Heap[T]) settle(b int, now int64) {
	bk := &h.buckets[b]
	h.markEmpty(b)
	if b < sortLevels*radix && bk.small() && h.sortIntoRun(bk, b/radix, now) {
		return
	}
	h.floor = bk.minWhen
	h.spread(bk, b/radix)
	if h.nFree*blockLen > 16*h.n+trimSlack {
		h.dropFree() // a burst has drained
	}
	h.dropArenas(16*h.n + trimSlack)
}

// dropArenas gives back the arenas no segment uses once they have room for
// more than limit entries.
func (h *Heap[T]) dropArenas(limit int) {
	idle := 0
	for l, a := range h.arena {
		if h.nonEmpty[l] == 0 {
			idle += cap(a)
		}
	}
	if idle <= limit {
		return
	}
	for l := range h.arena {
		if h.nonEmpty[l] == 0 {
			h.arena[l] = nil
		}
	}
}

// spread moves the entries of bk, a bucket of level l, to the buckets below
// it (which are all empty) and to the run, relative to the floor. It works in
// two passes, as a radix sort does: it counts the entries each bucket gets,
// then places them, each lower level's buckets getting consecutive segments of
// that level's arena; an entry costs two reads and one write, and no bucket
// bookkeeping.
func (h *Heap[T]) spread(bk *bucket[T], l int) {
	cursor := h.cursor[:l*radix]
	clear(cursor)
	floor := h.floor
	bk.parts(func(es []Entry[T]) {
		for i := range es {
			if t := target(es[i].When, floor); t >= 0 {
				cursor[t]++
			}
		}
	})
	// Each bucket's count becomes the start of its segment.
	for lv := range l {
		start := int32(0)
		for d := range radix {
			t := lv*radix + d
			if n := cursor[t]; n > 0 {
				cursor[t] = start
				start += n
				h.levels |= 1 << lv
				h.nonEmpty[lv] |= 1 << d
				h.buckets[t].minWhen = math.MaxInt64
			}
		}
		if start > 0 {
			h.arena[lv] = arenaOf(h.arena[lv], int(start))
		}
	}
	h.drain(bk, func(es []Entry[T]) {
		for i := range es {
			t := target(es[i].When, floor)
			if t < 0 {
				h.run = append(h.run, es[i])
				continue
			}
			h.arena[t/radix][cursor[t]] = es[i]
			cursor[t]++
			cb := &h.buckets[t]
			cb.minWhen = min(cb.minWhen, es[i].When)
		}
	})
	// Each bucket's cursor is now the end of its segment, and the start of
	// the next one's.
	for lv := range l {
		start := int32(0)
		for m := h.nonEmpty[lv]; m != 0; m &= m - 1 {
			t := lv*radix + bits.TrailingZeros64(m)
			end := cursor[t]
			h.buckets[t].seg = h.arena[lv][start:end:end]
			start = end
		}
	}
}

// target returns the bucket add puts an entry due at when in, the floor being
// floor, or -1 for the run.
func target(when, floor int64) int {
	d := ordered(when) ^ ordered(floor)
	if d == 0 {
		return -1
	}
	l := (bits.Len64(d) - 1) / digitBits
	return l*radix + int((ordered(when)>>(l*digitBits))%radix)
}

// arenaOf returns a, or a new array if a has too little room for n entries or
// far too much.
func arenaOf[T any](a []Entry[T], n int) []Entry[T] {
	if cap(a) < n || cap(a) > 4*n+trimSlack {
		return make([]Entry[T], n, n+n/4)
	}
	return a[:n]
}

// sortMax is the most entries sortIntoRun sorts: with more, sorting costs
// more than spreading, and an entry's index in its bucket must fit in a digit.
const sortMax = radix

// sortLevels is how many levels have buckets that sortIntoRun can sort: a
// bucket of level l spans less than 2⁶ˡ nanoseconds, which with an entry's
// index in the bucket (below 2⁶) must fit in a 64-bit key.
const sortLevels = 64 / digitBits

// sortIntoRun appends the entries of bk, a small bucket (see sortMax), to the
// run in order if they are all due at now, makes the last one's due time the
// floor, and empties bk; it reports whether it did. Sorting a bucket this
// small costs less than spreading it: each entry would move once or twice
// more, into buckets of one or two entries.
func (h *Heap[T]) sortIntoRun(bk *bucket[T], l int, now int64) bool {
	var es []Entry[T]
	switch {
	case bk.first == nil:
		es = bk.seg
	case len(bk.seg) == 0 && bk.first == bk.last:
		es = bk.entries(bk.first)
	default:
		var scratch [sortMax]Entry[T]
		es = scratch[:0]
		bk.parts(func(part []Entry[T]) { es = append(es, part...) })
	}
	var keys [sortMax]uint64
	for i := range es {
		if es[i].When > now {
			return false
		}
		// Due times, then the bucket's order, which is Seq order among
		// equal due times.
		keys[i] = uint64(es[i].When-bk.minWhen)<<digitBits | uint64(i)
	}
	ks := keys[:len(es)]
	sortKeys(ks, l)
	for _, k := range ks {
		h.run = append(h.run, es[k%radix])
	}
	h.floor = es[ks[len(ks)-1]%radix].When
	h.drain(bk, func([]Entry[T]) {})
	return true
}

// sortKeys sorts the keys of a bucket of level l: by radix sort, one pass per
// digit of their due times, when they are many and span few digits, and by
// insertion sort otherwise.
func sortKeys(ks []uint64, l int) {
	if len(ks) <= 16 || l > 2 {
		insertionSort(ks)
		return
	}
	var tmp [sortMax]uint64
	from, to := ks, tmp[:len(ks)]
	for shift := digitBits; shift <= l*digitBits; shift += digitBits {
		var count [radix + 1]int
		for _, k := range from {
			count[k>>shift%radix+1]++
		}
		for d := 1; d <= radix; d++ {
			count[d] += count[d-1]
		}
		for _, k := range from {
			d := k >> shift % radix
			to[count[d]] = k
			count[d]++
		}
		from, to = to, from
	}
	copy(ks, from)
}

// insertionSort sorts ks, which are few and often sorted already.
func insertionSort(ks []uint64) {
	for i := 1; i < len(ks); i++ {
		k, j := ks[i], i
		for ; j > 0 && ks[j-1] > k; j-- {
			ks[j] = ks[j-1]
		}
		ks[j] = k
	}
}

// Filter removes the entries for which keep returns false. Keep may change an
// entry's Value, not its key.
func (h *Heap[T]) Filter(keep func(*Entry[T]) bool) {
	for l := range h.nonEmpty {
		for m := h.nonEmpty[l]; m != 0; m &= m - 1 {
			b := l*radix + bits.TrailingZeros64(m)
			bk := &h.buckets[b]
			h.n -= h.filterBucket(bk, keep)
			if bk.empty() {
				h.markEmpty(b)
			}
		}
	}
	h.dropFree()
	h.dropArenas(0)
	if h.runPos < len(h.run) {
		live := h.run[h.runPos:]
		kept, _ := filter(live, keep)
		h.n -= len(live) - len(kept)
		k := copy(h.run, kept)
		clear(h.run[k:])
		h.run = shrink(h.run[:k])
		h.runPos = 0
	}
	if len(h.early) > 0 {
		kept, _ := filter(h.early, keep)
		h.n -= len(h.early) - len(kept)
		h.early = shrink(kept)
		for i := len(h.early)/2 - 1; i >= 0; i-- {
			h.downEarly(i)
		}
	}
}

// filter keeps es's entries that pass keep, in place and in order, and returns
// them with their lowest When.
func filter[T any](es []Entry[T], keep func(*Entry[T]) bool) (kept []Entry[T], lo int64) {
	kept, lo = es[:0], math.MaxInt64
	for i := range es {
		if keep(&es[i]) {
			kept = append(kept, es[i])
			lo = min(lo, es[i].When)
		}
	}
	clear(es[len(kept):])
	return kept, lo
}

// shrink gives memory back once es is a quarter full; an empty es keeps at
// most idleCap of room.
func shrink[T any](es []Entry[T]) []Entry[T] {
	c := cap(es)
	switch {
	case c <= idleCap:
		return es
	case len(es) == 0:
		return nil
	case len(es) < c/4:
		return append(make([]Entry[T], 0, 2*len(es)), es...)
	}
	return es
}

// All yields every entry, in no particular order.
func (h *Heap[T]) All() iter.Seq[Entry[T]] {
	return func(yield func(Entry[T]) bool) {
		for _, e := range h.early {
			if !yield(e) {
				return
			}
		}
		for _, e := range h.run[h.runPos:] {
			if !yield(e) {
				return
			}
		}
		for i := range h.buckets {
			bk := &h.buckets[i]
			for _, e := range bk.seg {
				if !yield(e) {
					return
				}
			}
			for blk := bk.first; blk != nil; blk = blk.next {
				for _, e := range bk.entries(blk) {
					if !yield(e) {
						return
					}
				}
			}
		}
	}
}

// The early heap: a plain binary min-heap, for the rare entries pushed below the
// floor.

func (h *Heap[T]) pushEarly(e Entry[T]) {
	h.early = append(h.early, e)
	s := h.early
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !e.less(&s[p]) {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = e
}

func (h *Heap[T]) popEarly() {
	s := h.early
	last := len(s) - 1
	s[0] = s[last]
	s[last] = Entry[T]{}
	h.early = shrink(s[:last])
	if len(h.early) > 0 {
		h.downEarly(0)
	}
}

func (h *Heap[T]) downEarly(i int) {
	s := h.early
	x := s[i]
	for {
		c := 2*i + 1
		if c >= len(s) {
			break
		}
		if c+1 < len(s) && s[c+1].less(&s[c]) {
			c++
		}
		if !s[c].less(&x) {
			break
		}
		s[i] = s[c]
		i = c
	}
	s[i] = x
}
