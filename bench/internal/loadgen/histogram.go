package loadgen

import (
	"math/bits"
	"time"
)

// histMantissaBits sets the histogram's precision: each power of two is split
// into 2^histMantissaBits buckets, so a quantile is within ~3% of the truth.
const histMantissaBits = 5

const histSub = 1 << histMantissaBits

// Histogram counts durations in log-linear buckets: exact below 64 ns, then
// 32 buckets per power of two. Record costs a few instructions and no
// allocation, so it can run for every message.
type Histogram struct {
	counts [(64 - histMantissaBits + 1) * histSub]uint64
	n      uint64
}

func histIndex(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histMantissaBits - 1
	return shift*histSub + int(v>>shift)
}

// histBounds is the inverse of histIndex: the values [lo, hi) that land in i.
func histBounds(i int) (lo, hi uint64) {
	if i < 2*histSub {
		return uint64(i), uint64(i) + 1
	}
	shift := i/histSub - 1
	m := uint64(i - shift*histSub)
	return m << shift, (m + 1) << shift
}

// Record adds one observation; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histIndex(uint64(d))]++
	h.n++
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 { return h.n }

// Merge adds o's observations to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// Quantile is the q-quantile (0 < q ≤ 1) of the recorded durations, as the
// middle of its bucket; 0 when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := histBounds(i)
			return time.Duration(lo + (hi-lo-1)/2)
		}
	}
	return 0
}
