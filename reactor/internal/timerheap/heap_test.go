package timerheap

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// model is the obvious priority queue the Heap is checked against.
type model []Entry[int]

func (m *model) push(e Entry[int]) { *m = append(*m, e) }

func (m model) sorted() model {
	s := slices.Clone(m)
	slices.SortFunc(s, func(a, b Entry[int]) int {
		if a.less(&b) {
			return -1
		}
		return 1
	})
	return s
}

func popAll(t *testing.T, h *Heap[int], now int64) []Entry[int] {
	t.Helper()
	var out []Entry[int]
	for {
		e, ok := h.FirstDue(now, nil)
		if !ok {
			return out
		}
		h.DropFirst()
		out = append(out, e)
	}
}

// TestHeapMatchesASortedModel runs random pushes, pops of due entries and
// filters, with keys at, above and below the floor (as a call moved into the
// past makes), against a sorted slice.
func TestHeapMatchesASortedModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Heap[int]
	var m model
	var seq uint64
	now := int64(0)
	for round := range 3000 {
		for range rng.IntN(40) {
			seq++
			when := now + rng.Int64N(1000)
			switch rng.IntN(10) {
			case 0:
				when = now // equal times: Seq decides
			case 1:
				when = now - rng.Int64N(2000) // below the floor
			case 2:
				when = math.MinInt64 + rng.Int64N(10)
			case 3:
				when = now + rng.Int64N(1<<50) // far levels
			case 4:
				when = math.MaxInt64 - rng.Int64N(10)
			}
			e := Entry[int]{When: when, Seq: seq, Value: int(seq)}
			h.Push(e)
			m.push(e)
		}
		if round%50 == 49 {
			drop := rng.Uint64()
			keep := func(e *Entry[int]) bool { return (e.Seq^drop)%3 != 0 }
			h.Filter(keep)
			m = slices.DeleteFunc(m, func(e Entry[int]) bool { return !keep(&e) })
		}
		require.Equal(t, len(m), h.Len())
		s := m.sorted()
		if len(s) > 0 {
			when, ok := h.NextWhen()
			require.True(t, ok)
			require.Equal(t, s[0].When, when)
		}
		now += rng.Int64N(600)
		got := popAll(t, &h, now)
		n := 0
		for n < len(s) && s[n].When <= now {
			n++
		}
		require.Equal(t, append([]Entry[int](nil), s[:n]...), got, "round %d", round)
		m = s[n:]
	}
	now = math.MaxInt64
	require.Equal(t, append([]Entry[int](nil), m.sorted()...), popAll(t, &h, now))
	assert.Zero(t, h.Len())
	_, ok := h.NextWhen()
	assert.False(t, ok)
}

func TestHeapFirstDueWaitsForNow(t *testing.T) {
	var h Heap[int]
	a := Entry[int]{When: 5, Seq: 1}
	b := Entry[int]{When: 5, Seq: 7}
	h.Push(Entry[int]{When: 9, Seq: 0}) // pushed first, due last
	h.Push(a)
	h.Push(b)
	_, ok := h.FirstDue(4, nil)
	assert.False(t, ok, "not due yet")
	got, ok := h.FirstDue(5, nil)
	require.True(t, ok)
	assert.Equal(t, a, got)
	got, ok = h.FirstDue(5, nil)
	require.True(t, ok)
	assert.Equal(t, a, got, "FirstDue does not remove")
	h.DropFirst()
	got, _ = h.FirstDue(5, nil)
	assert.Equal(t, b, got)
	h.DropFirst()
	_, ok = h.FirstDue(5, nil)
	assert.False(t, ok)
	assert.Equal(t, 1, h.Len())
}

func TestHeapAllYieldsEveryEntry(t *testing.T) {
	var h Heap[int]
	for i := range 100 {
		h.Push(Entry[int]{When: int64(i % 7), Seq: uint64(i + 1), Value: i})
	}
	h.FirstDue(3, nil) // spread some entries over the buckets
	h.DropFirst()
	h.Push(Entry[int]{When: -1, Seq: 1000, Value: 1000}) // below the floor
	var got []int
	for e := range h.All() {
		got = append(got, e.Value)
	}
	slices.Sort(got)
	want := append(seq(1, 100), 1000)
	assert.Equal(t, want, got)
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestHeapGivesMemoryBack(t *testing.T) {
	var h Heap[int]
	for i := range 100000 {
		h.Push(Entry[int]{When: int64(i), Seq: uint64(i + 1)})
	}
	h.Filter(func(e *Entry[int]) bool { return e.Seq%1000 == 0 })
	assert.Equal(t, 100, h.Len())
	assert.LessOrEqual(t, h.Cap(), (100+idleBlocks)*blockLen, "Filter gives back the blocks it empties")
	popAll(t, &h, math.MaxInt64)
	assert.LessOrEqual(t, h.Cap(), idleBlocks*blockLen+4*runMax, "emptied buckets keep no blocks")

	for i := range 100000 {
		h.Push(Entry[int]{When: int64(i), Seq: uint64(i + 1)})
	}
	assert.Len(t, popAll(t, &h, math.MaxInt64), 100000)
	assert.LessOrEqual(t, h.Cap(), trimSlack+4*runMax, "a drained burst gives its memory back")

	for i := range 100000 {
		h.Push(Entry[int]{When: int64(i), Seq: uint64(i + 1)})
	}
	h.Filter(func(*Entry[int]) bool { return false })
	assert.Zero(t, h.Len())
	assert.LessOrEqual(t, h.Cap(), idleBlocks*blockLen+4*runMax)
}

// TestHeapSpreadsKeepOrderAndMemory pushes a burst over many buckets, takes
// part of it (spreading buckets into segments), pushes more into the same
// buckets, and checks order, All, Filter and that the drained heap gives its
// memory back.
func TestHeapSpreadsKeepOrderAndMemory(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var h Heap[int]
	var m model
	seq := 0
	push := func(when int64) {
		seq++
		e := Entry[int]{When: when, Seq: uint64(seq), Value: seq}
		h.Push(e)
		m.push(e)
	}
	for range 50_000 {
		push(1_000 + rng.Int64N(1_000_000))
	}
	got := popAll(t, &h, 300_000) // spreads the first buckets
	s := m.sorted()
	require.Equal(t, []Entry[int](s[:len(got)]), got)
	m = s[len(got):]
	for range 20_000 {
		push(300_000 + rng.Int64N(20_000)) // into buckets holding segments
		push(300_000 + 17)                 // equal times: push order decides
	}
	var all, want []int
	for e := range h.All() {
		all = append(all, e.Value)
	}
	for _, e := range m {
		want = append(want, e.Value)
	}
	slices.Sort(all)
	slices.Sort(want)
	require.Equal(t, want, all, "All yields every entry")
	h.Filter(func(e *Entry[int]) bool { return e.Value%3 != 0 })
	m = slices.DeleteFunc(m, func(e Entry[int]) bool { return e.Value%3 == 0 })
	require.Equal(t, []Entry[int](m.sorted()), popAll(t, &h, math.MaxInt64))
	assert.Zero(t, h.Len())

	for i := range 300_000 {
		h.Push(Entry[int]{When: 2_000_000 + rng.Int64N(1_000_000), Seq: uint64(seq + i + 1)})
	}
	require.Len(t, popAll(t, &h, math.MaxInt64), 300_000)
	assert.LessOrEqual(t, h.Cap(), trimSlack+4*runMax, "a drained burst gives its memory back")
}

func TestHeapFirstDueDropsWhatKeepRejects(t *testing.T) {
	var h Heap[int]
	for i := range 1000 {
		h.Push(Entry[int]{When: int64(1 + i%100), Seq: uint64(i + 1), Value: i})
	}
	odd := func(e *Entry[int]) bool { return e.Value%2 == 1 }
	var got []int
	seenEven := 0
	for {
		e, ok := h.FirstDue(math.MaxInt64, odd)
		if !ok {
			break
		}
		h.DropFirst()
		if !odd(&e) {
			seenEven++ // allowed: keep is a hint
			continue
		}
		got = append(got, e.Value)
	}
	assert.Zero(t, h.Len())
	assert.Zero(t, seenEven, "every rejected entry was gathered, and dropped, unseen")
	var want []int
	for w := 1; w <= 100; w++ {
		for i := range 1000 {
			if 1+i%100 == w && i%2 == 1 {
				want = append(want, i)
			}
		}
	}
	assert.Equal(t, want, got)
}
