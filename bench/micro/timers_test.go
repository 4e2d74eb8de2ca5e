package micro

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/twistgo/twist/reactor"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// timerCount timers per round, at distinct delays: a random permutation of
// 10 ns steps up to 1 ms, as in bench/twisted/timers_bench.py.
const timerCount = 100_000

func timerDelays() []time.Duration {
	perm := rand.New(rand.NewPCG(1, 2)).Perm(timerCount)
	step := time.Millisecond / timerCount
	ds := make([]time.Duration, timerCount)
	for i, p := range perm {
		ds[i] = time.Duration(p+1) * step
	}
	return ds
}

func perTimer(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*timerCount), "ns/timer")
}

// runReactorRound schedules every delay from inside a running reactor and
// returns once the last call has fired and the reactor has stopped.
func runReactorRound(tb testing.TB, ds []time.Duration) {
	r := reactor.New()
	left := len(ds)
	fired := func() {
		left--
		if left == 0 {
			r.Stop()
		}
	}
	r.CallWhenRunning(func() {
		for _, d := range ds {
			r.Schedule(d, fired)
		}
	})
	if err := r.Run(); err != nil {
		tb.Fatal(err)
	}
	if left != 0 {
		tb.Fatalf("%d timers did not fire", left)
	}
}

// runAfterFuncRound does the same with time.AfterFunc, each call in its own
// goroutine as AfterFunc runs it.
func runAfterFuncRound(ds []time.Duration) {
	var wg sync.WaitGroup
	wg.Add(len(ds))
	fired := wg.Done
	for _, d := range ds {
		time.AfterFunc(d, fired)
	}
	wg.Wait()
}

// BenchmarkTimers: schedule 100 000 timers at distinct random delays and
// wait until all have fired; ns/timer is the time per timer, scheduling and
// firing together.
func BenchmarkTimers(b *testing.B) {
	ds := timerDelays()
	b.Run("reactor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			runReactorRound(b, ds)
		}
		perTimer(b)
	})
	b.Run("afterfunc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			runAfterFuncRound(ds)
		}
		perTimer(b)
	})
}

func TestTimerRoundsFireEveryTimer(t *testing.T) {
	ds := timerDelays()[:1000]
	seen := map[time.Duration]bool{}
	for _, d := range ds {
		if seen[d] || d <= 0 || d > time.Millisecond {
			t.Fatalf("delay %v repeated or out of (0, 1ms]", d)
		}
		seen[d] = true
	}
	runReactorRound(t, ds)
	runAfterFuncRound(ds)
}
