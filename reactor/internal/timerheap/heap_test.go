package timerheap

import (
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHeapOrdersByWhenThenSeq(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Heap[int]
	var all []*Timer[int]
	for i := range 2000 {
		tm := &Timer[int]{When: int64(rng.IntN(100)), Seq: uint64(i)}
		all = append(all, tm)
		h.Push(tm)
	}
	// Remove a third at random, and move another third.
	var kept []*Timer[int]
	for i, tm := range all {
		switch i % 3 {
		case 0:
			h.Remove(tm)
			assert.False(t, tm.Queued())
		case 1:
			tm.When = int64(rng.IntN(100))
			tm.Seq += 10000
			h.Fix(tm)
			kept = append(kept, tm)
		default:
			kept = append(kept, tm)
		}
	}
	sort.Slice(kept, func(i, j int) bool {
		a, b := kept[i], kept[j]
		return a.When < b.When || (a.When == b.When && a.Seq < b.Seq)
	})
	require.Equal(t, len(kept), h.Len())
	for _, want := range kept {
		got := h.PopDue(1<<62, 1<<62)
		require.Same(t, want, got)
		assert.False(t, got.Queued())
	}
	assert.Nil(t, h.PopDue(1<<62, 1<<62))
}

func TestHeapPopDueRespectsNowAndLimit(t *testing.T) {
	var h Heap[int]
	a := &Timer[int]{When: 5, Seq: 1}
	b := &Timer[int]{When: 5, Seq: 7}
	h.Push(b)
	h.Push(a)
	assert.Nil(t, h.PopDue(4, 100), "not due yet")
	assert.Same(t, a, h.PopDue(5, 7))
	assert.Nil(t, h.PopDue(5, 7), "seq 7 is past the limit")
	assert.Same(t, b, h.PopDue(5, 8))
	assert.Equal(t, 0, h.Len())
	h.Remove(a) // not queued: no-op
}

func TestHeapShrinks(t *testing.T) {
	var h Heap[int]
	ts := make([]*Timer[int], 100000)
	for i := range ts {
		ts[i] = &Timer[int]{When: int64(i), Seq: uint64(i)}
		h.Push(ts[i])
	}
	for _, tm := range ts {
		h.Remove(tm)
	}
	assert.Equal(t, 0, h.Len())
	assert.LessOrEqual(t, h.Cap(), minShrinkCap*2)
}
