package deferred_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
)

// The workloads of Twisted's benchmarks/test_deferred.py, each next to a
// baseline in the same run: a bare slice of functions called in turn.

const chainLen = 10

func inc(n int) (int, error) { return n + 1, nil }

func reraise(f *failure.Failure) (int, error) { return 0, f }

func recoverAll(*failure.Failure) (int, error) { return 1, nil }

func failStep(int) (int, error) { return 0, errBoom }

// perStep reports the time per step of the chain.
func perStep(b *testing.B, steps int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*steps), "ns/step")
}

var sink int

func BenchmarkBaselineFuncChain(b *testing.B) {
	b.ReportAllocs()
	fs := make([]func(int) (int, error), chainLen)
	for i := range fs {
		fs[i] = inc
	}
	for b.Loop() {
		n := 0
		for _, f := range fs {
			var err error
			if n, err = f(n); err != nil {
				b.Fatal(err)
			}
		}
		sink = n
	}
	perStep(b, chainLen)
}

// naiveDeferred is the simplest goroutine-safe Deferred: a mutex and a
// slice of callbacks. The issue's bars are stated against it ("a naive
// mutex-and-slice Deferred takes ~22 ns and 5 allocations"), so it runs
// beside the real one as the yardstick for this machine.
type naiveDeferred struct {
	mu     sync.Mutex
	fired  bool
	result int
	cbs    []func(int) (int, error)
}

func (d *naiveDeferred) addCallback(cb func(int) (int, error)) {
	d.mu.Lock()
	if !d.fired {
		d.cbs = append(d.cbs, cb)
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	d.result, _ = cb(d.result)
}

func (d *naiveDeferred) callback(v int) {
	d.mu.Lock()
	d.fired, d.result = true, v
	cbs := d.cbs
	d.cbs = nil
	d.mu.Unlock()
	for _, cb := range cbs {
		d.result, _ = cb(d.result)
	}
}

var naiveSink *naiveDeferred

// BenchmarkBaselineMutexSlice: New + 10 callbacks + fire on naiveDeferred.
func BenchmarkBaselineMutexSlice(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		d := &naiveDeferred{}
		for range chainLen {
			d.addCallback(inc)
		}
		d.callback(0)
		naiveSink = d
	}
	perStep(b, chainLen)
}

// floorDeferred and floorSteps have the sizes of a Deferred[int] and of
// its first block of steps (eight steps and a link).
type (
	floorDeferred struct {
		_ [unsafe.Sizeof(deferred.Deferred[int]{}) - unsafe.Sizeof((*int)(nil))]byte
		p *int
	}
	floorSteps struct {
		steps [8]struct{ p, q *int }
		next  *int
	}
)

var (
	floorMu    sync.Mutex
	floorSlot  atomic.Uint64
	floorSinkD *floorDeferred
	floorSinkS *floorSteps
)

// BenchmarkBaselineFloor: what "New + 10 callbacks + fire" cannot go below
// when the chain makes a Deferred's two allocations and each AddCallback
// takes a lock ("lock": an uncontended mutex round trip) or, in a lock-free
// design, one atomic compare-and-swap ("cas"): the allocations, ten of
// those and ten calls, and nothing else.
func BenchmarkBaselineFloor(b *testing.B) {
	b.Run("lock", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			floorSinkD, floorSinkS = &floorDeferred{}, &floorSteps{}
			n := 0
			for range chainLen {
				floorMu.Lock()
				floorMu.Unlock()
				n, _ = inc(n)
			}
			sink = n
		}
		perStep(b, chainLen)
	})
	b.Run("cas", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			floorSinkD, floorSinkS = &floorDeferred{}, &floorSteps{}
			n := 0
			for i := range uint64(chainLen) {
				floorSlot.CompareAndSwap(i, i+1)
				n, _ = inc(n)
			}
			floorSlot.Store(0)
			sink = n
		}
		perStep(b, chainLen)
	})
}

// BenchmarkCallbacksFiredAtEnd: New, 10 callbacks, then Callback.
func BenchmarkCallbacksFiredAtEnd(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		d := deferred.New[int]()
		for range chainLen {
			d.AddCallback(inc)
		}
		d.Callback(0)
	}
	perStep(b, chainLen)
}

// BenchmarkCallbacksFiredAtStart: 10 callbacks added to a fired Deferred.
func BenchmarkCallbacksFiredAtStart(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		d := deferred.Succeed(0)
		for range chainLen {
			d.AddCallback(inc)
		}
	}
	perStep(b, chainLen)
}

// BenchmarkErrbackChain: a failing first step, errbacks passing the
// Failure on, and a last one that recovers.
func BenchmarkErrbackChain(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		d := deferred.New[int]()
		d.AddCallback(failStep)
		for range chainLen - 2 {
			d.AddErrback(reraise)
		}
		d.AddErrback(recoverAll)
		d.Callback(0)
	}
	perStep(b, chainLen)
}

func BenchmarkBaselineErrChain(b *testing.B) {
	b.ReportAllocs()
	ebs := make([]func(error) (int, error), chainLen-1)
	for i := range ebs {
		ebs[i] = func(err error) (int, error) { return 0, err }
	}
	ebs[len(ebs)-1] = func(error) (int, error) { return 1, nil }
	for b.Loop() {
		_, err := failStep(0)
		n := 0
		for _, eb := range ebs {
			if err != nil {
				n, err = eb(err)
			}
		}
		sink = n
	}
	perStep(b, chainLen)
}

// BenchmarkStepsReturningFiredDeferred: 10 ThenDeferred steps, each
// returning an already-fired Deferred.
func BenchmarkStepsReturningFiredDeferred(b *testing.B) {
	b.ReportAllocs()
	next := func(n int) *deferred.Deferred[int] { return deferred.Succeed(n + 1) }
	for b.Loop() {
		d := deferred.New[int]()
		out := d
		for range chainLen {
			out = deferred.ThenDeferred(out, next)
		}
		d.Callback(0)
	}
	perStep(b, chainLen)
}

// BenchmarkStepsReturningFiredDeferredSameChain: the same, with
// AddCallbackDeferred steps on one Deferred instead of a ThenDeferred each.
func BenchmarkStepsReturningFiredDeferredSameChain(b *testing.B) {
	b.ReportAllocs()
	next := func(n int) *deferred.Deferred[int] { return deferred.Succeed(n + 1) }
	for b.Loop() {
		d := deferred.New[int]()
		for range chainLen {
			d.AddCallbackDeferred(next)
		}
		d.Callback(0)
	}
	perStep(b, chainLen)
}

func BenchmarkAll(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		ds := make([]*deferred.Deferred[int], n)
		b.Run(fmt.Sprintf("fired-%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for i := range ds {
					ds[i] = deferred.Succeed(i)
				}
				deferred.All(ds...)
			}
			perStep(b, n)
		})
		b.Run(fmt.Sprintf("reused-inputs-%d", n), func(b *testing.B) {
			// The same fired inputs each time: All's own cost per element.
			for i := range ds {
				ds[i] = deferred.Succeed(i)
			}
			b.ReportAllocs()
			for b.Loop() {
				deferred.All(ds...)
			}
			perStep(b, n)
		})
		b.Run(fmt.Sprintf("inputs-only-%d", n), func(b *testing.B) {
			// The cost of making the fired inputs, to subtract.
			b.ReportAllocs()
			for b.Loop() {
				for i := range ds {
					ds[i] = deferred.Succeed(i)
				}
			}
			perStep(b, n)
		})
		b.Run(fmt.Sprintf("baseline-%d", n), func(b *testing.B) {
			b.ReportAllocs()
			vs := make([]int, n)
			fs := make([]func() (int, error), n)
			for i := range fs {
				fs[i] = func() (int, error) { return i, nil }
			}
			for b.Loop() {
				out := make([]int, n)
				for i, f := range fs {
					out[i], _ = f()
				}
				copy(vs, out)
			}
			perStep(b, n)
		})
	}
}

func BenchmarkList(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		ds := make([]*deferred.Deferred[int], n)
		b.Run(fmt.Sprintf("fired-%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for i := range ds {
					ds[i] = deferred.Succeed(i)
				}
				deferred.List(ds, deferred.ListOptions{ConsumeErrors: true})
			}
			perStep(b, n)
		})
	}
}

func BenchmarkAwait(b *testing.B) {
	b.Run("fired", func(b *testing.B) {
		b.ReportAllocs()
		fired := deferred.Succeed(1)
		d := deferred.Inline(func(co *deferred.Co) (int, error) {
			sum := 0
			for b.Loop() {
				v, _ := deferred.Await(co, fired)
				sum += v + 1
			}
			return sum, nil
		})
		if !d.Called() {
			b.Fatal("Inline did not finish")
		}
	})
	b.Run("unfired", func(b *testing.B) {
		// The body suspends on each Await; the benchmark loop fires it,
		// switching to the body and back.
		b.ReportAllocs()
		var cur *deferred.Deferred[int]
		d := deferred.Inline(func(co *deferred.Co) (int, error) {
			sum := 0
			for {
				cur = deferred.New[int]()
				v, _ := deferred.Await(co, cur)
				if v < 0 {
					return sum, nil
				}
				sum += v
			}
		})
		for b.Loop() {
			cur.Callback(1)
		}
		cur.Callback(-1)
		if !d.Called() {
			b.Fatal("Inline did not finish")
		}
	})
	b.Run("baseline-chan", func(b *testing.B) {
		// A goroutine fed over a channel, the usual Go substitute.
		b.ReportAllocs()
		in, out := make(chan int), make(chan int)
		go func() {
			for v := range in {
				out <- v
			}
			close(out)
		}()
		for b.Loop() {
			in <- 1
			<-out
		}
		close(in)
		<-out
	})
}

// The shapes users write, each ending as users end it: with Wait, as a
// goroutine that collects a result does, and with fresh Succeeds. The
// issue-13 bars compare them with BaselineFuncChain in the same run.

var (
	ctx     = context.Background()
	sinkErr error
)

// BenchmarkWaitChainFiredAtEnd: New, 10 callbacks, Callback, then Wait.
func BenchmarkWaitChainFiredAtEnd(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		d := deferred.New[int]()
		for range chainLen {
			d.AddCallback(inc)
		}
		d.Callback(0)
		sink, sinkErr = d.Wait(ctx)
	}
	perStep(b, chainLen)
}

// BenchmarkWaitChainFiredAtStart: Succeed, 10 callbacks (each runs as it
// is added), then Wait.
func BenchmarkWaitChainFiredAtStart(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		d := deferred.Succeed(0)
		for range chainLen {
			d.AddCallback(inc)
		}
		sink, sinkErr = d.Wait(ctx)
	}
	perStep(b, chainLen)
}

// BenchmarkWaitErrorPath: New, a failing callback, 8 errbacks passing the
// Failure on, a last one that recovers, Callback, then Wait: the error
// path of BenchmarkWaitChainFiredAtEnd.
func BenchmarkWaitErrorPath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		d := deferred.New[int]()
		d.AddCallback(failStep)
		for range chainLen - 2 {
			d.AddErrback(reraise)
		}
		d.AddErrback(recoverAll)
		d.Callback(0)
		sink, sinkErr = d.Wait(ctx)
	}
	perStep(b, chainLen)
}

// BenchmarkWaitNestedFired: 10 ThenDeferred steps, each returning a fresh
// Succeed, fired, then Wait on the last.
func BenchmarkWaitNestedFired(b *testing.B) {
	b.ReportAllocs()
	next := func(n int) *deferred.Deferred[int] { return deferred.Succeed(n + 1) }
	for b.Loop() {
		d := deferred.New[int]()
		out := d
		for range chainLen {
			out = deferred.ThenDeferred(out, next)
		}
		d.Callback(0)
		sink, sinkErr = out.Wait(ctx)
	}
	perStep(b, chainLen)
}

// BenchmarkWaitAllFresh: All of n fresh Succeeds, then Wait.
func BenchmarkWaitAllFresh(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			ds := make([]*deferred.Deferred[int], n)
			for b.Loop() {
				for i := range ds {
					ds[i] = deferred.Succeed(i)
				}
				vs, err := deferred.All(ds...).Wait(ctx)
				sink, sinkErr = len(vs), err
			}
			perStep(b, n)
		})
	}
}

// BenchmarkWaitUnfired: Wait on a Deferred that another goroutine fires,
// next to the same hand-off over channels.
func BenchmarkWaitUnfired(b *testing.B) {
	b.Run("deferred", func(b *testing.B) {
		b.ReportAllocs()
		ds := make(chan *deferred.Deferred[int])
		go func() {
			for d := range ds {
				d.Callback(1)
			}
		}()
		for b.Loop() {
			d := deferred.New[int]()
			ds <- d
			sink, sinkErr = d.Wait(ctx)
		}
		close(ds)
	})
	b.Run("baseline-chan", func(b *testing.B) {
		b.ReportAllocs()
		in, out := make(chan int), make(chan int)
		go func() {
			for v := range in {
				out <- v
			}
		}()
		for b.Loop() {
			in <- 1
			sink = <-out
		}
		close(in)
	})
}
