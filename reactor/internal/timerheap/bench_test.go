package timerheap

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

type payload struct{ _ [4]int64 }

// BenchmarkHeap pushes 100 000 entries due at random times within a
// millisecond, pushed 100 ns apart as a loop scheduling them would, then
// takes them all out in order; against it, a least-significant-digit radix
// sort of the same entries (three 8-bit passes), which is as little as
// putting them in order can cost, with no queue around it.
func BenchmarkHeap(b *testing.B) {
	const n = 100_000
	rng := rand.New(rand.NewPCG(1, 2))
	es := make([]Entry[*payload], n)
	for i := range es {
		es[i] = Entry[*payload]{When: int64(i)*100 + rng.Int64N(1_000_000), Seq: uint64(i + 1), Value: new(payload)}
	}
	perEntry := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
	}
	b.Run("push-and-take", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var h Heap[*payload]
			for _, e := range es {
				h.Push(e)
			}
			for {
				if _, ok := h.FirstDue(1<<40, nil); !ok {
					break
				}
				h.DropFirst()
			}
		}
		perEntry(b)
	})
	b.Run("radix-sort-baseline", func(b *testing.B) {
		b.ReportAllocs()
		a, t := make([]Entry[*payload], n), make([]Entry[*payload], n)
		var sorted []Entry[*payload]
		for b.Loop() {
			copy(a, es)
			x, y := a, t
			for shift := 0; shift < 24; shift += 8 { // due times span < 2²⁴ ns
				var count [257]int
				for i := range x {
					count[x[i].When>>shift&255+1]++
				}
				for i := 1; i < len(count); i++ {
					count[i] += count[i-1]
				}
				for i := range x {
					d := x[i].When >> shift & 255
					y[count[d]] = x[i]
					count[d]++
				}
				x, y = y, x
			}
			sorted = x
		}
		if !slices.IsSortedFunc(sorted, func(e, f Entry[*payload]) int { return cmp.Compare(e.When, f.When) }) {
			b.Fatal("not sorted")
		}
		perEntry(b)
	})
}
