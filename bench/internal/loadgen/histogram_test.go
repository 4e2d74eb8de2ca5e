package loadgen

import (
	"testing"
	"time"
)

func TestHistogramBucketsRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 63, 64, 65, 100, 1000, 12345, 1 << 20, 1<<40 + 7} {
		lo, hi := histBounds(histIndex(v))
		if v < lo || v >= hi {
			t.Errorf("value %d in bucket [%d, %d)", v, lo, hi)
		}
		if v >= 64 && float64(hi-lo)/float64(lo) > 1.0/32+1e-9 {
			t.Errorf("bucket [%d, %d) wider than 1/32", lo, hi)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}} {
		got := h.Quantile(tc.q)
		if diff := float64(got-tc.want) / float64(tc.want); diff > 0.04 || diff < -0.04 {
			t.Errorf("Quantile(%v) = %v; want %v within 4%%", tc.q, got, tc.want)
		}
	}
	var empty Histogram
	if got := empty.Quantile(0.5); got != 0 {
		t.Errorf("empty Quantile = %v; want 0", got)
	}
}
