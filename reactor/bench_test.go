package reactor

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// randomDelays returns n distinct delays in random order, step apart.
func randomDelays(n int, step time.Duration) []time.Duration {
	rng := rand.New(rand.NewPCG(1, 2))
	ds := make([]time.Duration, n)
	for i, p := range rng.Perm(n) {
		ds[i] = time.Duration(p+1) * step
	}
	return ds
}

// BenchmarkTimers schedules 100 000 timers at distinct random delays (up to 1 ms)
// and waits until all have fired: on the reactor's loop, and with time.AfterFunc
// as the baseline.
func BenchmarkTimers(b *testing.B) {
	const n = 100_000
	delays := randomDelays(n, 10*time.Nanosecond)
	for _, be := range backends {
		b.Run(fmt.Sprintf("reactor-%s-%d", be, n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := New(WithBackend(be))
				fired := 0
				f := func() {
					if fired++; fired == n {
						r.Stop()
					}
				}
				r.CallWhenRunning(func() {
					for _, d := range delays {
						r.Schedule(d, f)
					}
				})
				r.Run()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/timer")
		})
	}
	b.Run(fmt.Sprintf("time.AfterFunc-%d", n), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var fired atomic.Int64
			done := make(chan struct{})
			f := func() {
				if fired.Add(1) == n {
					close(done)
				}
			}
			for _, d := range delays {
				time.AfterFunc(d, f)
			}
			<-done
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/timer")
	})
}

// floorCall is the least a scheduled call can be: its function and due
// time, padded to a DelayedCall's 32 bytes.
type floorCall struct {
	f    func()
	when int64
	_    [16]byte
}

// BenchmarkTimersFloor is what BenchmarkTimers cannot go below with Schedule
// reading the clock and returning a handle of its own, and the calls run in
// due order: per timer one clock read, one 32-byte allocation, and at firing
// one visit to that handle in an order unrelated to the allocations'; no
// queue at all (the due order is precomputed).
func BenchmarkTimersFloor(b *testing.B) {
	const n = 100_000
	delays := randomDelays(n, 10*time.Nanosecond)
	order := make([]int, n) // order[k]: the k-th call due
	for i, d := range delays {
		order[d/(10*time.Nanosecond)-1] = i
	}
	base := time.Now()
	calls := make([]*floorCall, n)
	fired := 0
	f := func() { fired++ }
	b.ReportAllocs()
	for b.Loop() {
		for i, d := range delays {
			calls[i] = &floorCall{f: f, when: int64(time.Since(base) + d)}
		}
		for _, i := range order {
			calls[i].f()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/timer")
}

// BenchmarkClock schedules 1 000 000 timers at random delays on the fake Clock,
// then advances it past all of them.
func BenchmarkClock(b *testing.B) {
	const n = 1_000_000
	delays := randomDelays(n, time.Microsecond)
	b.Run(fmt.Sprintf("timers-%d", n), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := NewClock(epoch)
			fired := 0
			f := func() { fired++ }
			for _, d := range delays {
				c.Schedule(d, f)
			}
			c.Advance(time.Duration(n+1) * time.Microsecond)
			if fired != n {
				b.Fatalf("fired %d of %d", fired, n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/timer")
	})
}

// BenchmarkCallFromGoroutine hands b.N calls to a running loop from 4
// goroutines; the baseline sends as many values over one buffered channel.
func BenchmarkCallFromGoroutine(b *testing.B) {
	const producers = 4
	for _, be := range backends {
		b.Run(fmt.Sprintf("reactor-%s-%dgoroutines", be, producers), func(b *testing.B) {
			b.ReportAllocs()
			r := New(WithBackend(be))
			total := b.N
			count := 0
			done := make(chan struct{})
			f := func() {
				if count++; count == total {
					close(done)
				}
			}
			var ready sync.WaitGroup
			ready.Add(1)
			r.CallWhenRunning(ready.Done)
			var ran sync.WaitGroup
			ran.Go(func() { r.Run() })
			ready.Wait()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for p := range producers {
				m := total / producers
				if p == 0 {
					m += total % producers
				}
				wg.Go(func() {
					for range m {
						r.CallFromGoroutine(f)
					}
				})
			}
			<-done
			elapsed := time.Since(start)
			b.StopTimer()
			wg.Wait()
			r.Stop()
			ran.Wait()
			b.ReportMetric(float64(total)/elapsed.Seconds(), "calls/s")
		})
	}
	b.Run(fmt.Sprintf("chan-%dgoroutines", producers), func(b *testing.B) {
		b.ReportAllocs()
		ch := make(chan func(), 1024)
		total := b.N
		count := 0
		done := make(chan struct{})
		f := func() { count++ }
		go func() {
			for g := range ch {
				g()
				if count == total {
					close(done)
					return
				}
			}
		}()
		start := time.Now()
		var wg sync.WaitGroup
		for p := range producers {
			m := total / producers
			if p == 0 {
				m += total % producers
			}
			wg.Go(func() {
				for range m {
					ch <- f
				}
			})
		}
		<-done
		elapsed := time.Since(start)
		wg.Wait()
		b.ReportMetric(float64(total)/elapsed.Seconds(), "calls/s")
	})
}

// BenchmarkScheduleCancel schedules and cancels timers: one pair at a time, and
// in bulk (1 000 000 scheduled, then all cancelled, in scheduling or random
// order), against time.AfterFunc and Stop, and against the floor of any queue.
func BenchmarkScheduleCancel(b *testing.B) {
	f := func() {}
	b.Run("pair", func(b *testing.B) {
		b.ReportAllocs()
		r := New(WithBackend(Portable))
		for i := 0; b.Loop(); i++ {
			r.Schedule(time.Duration(i&1023)*time.Millisecond, f).Cancel()
		}
	})
	b.Run("pair-time.AfterFunc", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			time.AfterFunc(time.Hour+time.Duration(i&1023)*time.Millisecond, f).Stop()
		}
	})
	const n = 1_000_000
	delays := randomDelays(n, time.Microsecond)
	random := rand.New(rand.NewPCG(3, 4)).Perm(n)
	fifo := make([]int, n)
	for i := range fifo {
		fifo[i] = i
	}
	// 1M calls scheduled at random delays, then all cancelled: in the order
	// they were scheduled (as timeouts of requests answered in turn are), and
	// in random order (each Cancel a cache miss).
	bulk := func(name string, order []int) {
		b.Run(fmt.Sprintf("bulk-%s-%d", name, n), func(b *testing.B) {
			b.ReportAllocs()
			r := New(WithBackend(Portable))
			dcs := make([]*DelayedCall, n)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for b.Loop() {
				for i, d := range delays {
					dcs[i] = r.Schedule(d, f)
				}
				for _, i := range order {
					dcs[i].Cancel()
				}
			}
			clear(dcs)
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/pair")
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)), "heap-bytes-retained")
			runtime.KeepAlive(r)
		})
	}
	bulk("fifo", fifo)
	bulk("random", random)
	// What a bulk pair cannot go below with Schedule reading the clock and
	// returning a handle of its own: one clock read and one 32-byte allocation
	// per call, then one write to each handle in the cancelling order; no queue
	// at all.
	floor := func(name string, order []int) {
		b.Run(fmt.Sprintf("floor-%s-%d", name, n), func(b *testing.B) {
			b.ReportAllocs()
			base := time.Now()
			calls := make([]*floorCall, n)
			for b.Loop() {
				for i, d := range delays {
					calls[i] = &floorCall{f: f, when: int64(time.Since(base) + d)}
				}
				for _, i := range order {
					calls[i].f = nil
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/pair")
		})
	}
	floor("fifo", fifo)
	floor("random", random)
}
