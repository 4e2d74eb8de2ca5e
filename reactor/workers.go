package reactor

import (
	"golang.org/x/sync/semaphore"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
)

// workerPool bounds DeferToGoroutine. It belongs to the loop goroutine: jobs
// beyond the bound wait in a FIFO here rather than as blocked goroutines.
type workerPool struct {
	sem    *semaphore.Weighted
	queue  []func() // jobs waiting for a worker
	active int      // jobs started whose result has not reached the loop yet
	closed bool     // the shutdown deadline passed: start nothing more
}

func (p *workerPool) init(n int) { p.sem = semaphore.NewWeighted(int64(n)) }

// busy counts jobs running or waiting.
func (p *workerPool) busy() int { return p.active + len(p.queue) }

func (r *Reactor) submit(job func()) {
	p := &r.pool
	if len(p.queue) == 0 && !p.closed && p.sem.TryAcquire(1) {
		p.active++
		go job()
		return
	}
	p.queue = append(p.queue, job)
}

// workerDone runs on the loop when a job's result arrives.
func (r *Reactor) workerDone() {
	p := &r.pool
	p.sem.Release(1)
	p.active--
	for len(p.queue) > 0 && !p.closed && p.sem.TryAcquire(1) {
		job := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.active++
		go job()
	}
	if r.state.Load() == stateStopping {
		r.checkShutdownDone()
	}
}

// DeferToGoroutine runs f on a goroutine of r's bounded pool (Twisted's
// deferToThread) and returns a Deferred that fires on r's loop with f's result.
// A panic in f becomes a Failure (see failure.FromPanic) rather than a crash. At
// most [WithWorkers] functions run at once; further calls wait, in order, for a
// free worker. After [Reactor.Stop], Run waits for the functions already submitted
// (within [WithShutdownTimeout]); on a reactor that has stopped, the Deferred
// fails with [ErrNotRunning].
//
// DeferToGoroutine is loop goroutine only (or before Run); f runs on another
// goroutine and must not touch the reactor except through
// [Reactor.CallFromGoroutine].
func DeferToGoroutine[T any](r *Reactor, f func() (T, error)) *deferred.Deferred[T] {
	if r.state.Load() == stateStopped {
		return deferred.Fail[T](ErrNotRunning)
	}
	d := deferred.New[T]()
	r.submit(func() {
		v, err := callRecovering(f)
		r.CallFromGoroutine(func() {
			r.workerDone()
			if err != nil {
				d.Errback(err)
			} else {
				d.Callback(v)
			}
		})
	})
	return d
}

func callRecovering[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = failure.FromPanic(p)
		}
	}()
	return f()
}
