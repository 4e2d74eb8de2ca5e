package reactor

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestScheduleAndCancelGiveMemoryBack(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 200_000
	}
	r := New(WithBackend(Portable))
	heapAlloc := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heapAlloc()
	dcs := make([]*DelayedCall, n)
	f := func() {}
	for i := range dcs {
		dcs[i] = r.Schedule(time.Duration(n-i)*time.Microsecond, f)
	}
	for i := range dcs {
		assert.NoError(t, dcs[i].Cancel())
		dcs[i] = nil
	}
	dcs = nil
	assert.Equal(t, 0, r.timers.heap.Len())
	assert.LessOrEqual(t, r.timers.heap.Cap(), 1024, "the heap's array shrank")
	after := heapAlloc()
	assert.Less(t, int64(after)-int64(before), int64(1<<20), "heap back to within 1 MiB of its baseline")
	runtime.KeepAlive(r)
}
