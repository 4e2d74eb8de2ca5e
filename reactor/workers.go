package reactor

import (
	"golang.org/x/sync/semaphore"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
)

// workerPool bounds DeferToGoroutine. It belongs to the loop goroutine: jobs
// beyond the bound wait in a FIFO here rather than as blocked goroutines.
type workerPool struct {
	sem     *semaphore.Weighted
	queue   []*job            // jobs waiting for a worker
	active  map[*job]struct{} // jobs started whose result has not reached the loop yet
	closed  bool              // shutdown is over: jobs fail at once
	closeBy error             // what they fail with
}

// job is one DeferToGoroutine call.
type job struct {
	run  func()      // on a worker goroutine; hands the result to the loop
	fail func(error) // fails the Deferred, on the loop
	over bool        // the Deferred has fired (result delivered, or failed)
}

func (p *workerPool) init(n int) {
	p.sem = semaphore.NewWeighted(int64(n))
	p.active = map[*job]struct{}{}
}

// busy counts jobs running or waiting.
func (p *workerPool) busy() int { return len(p.active) + len(p.queue) }

// running counts jobs running on a worker.
func (p *workerPool) running() int { return len(p.active) }

func (r *Reactor) submit(j *job) {
	p := &r.pool
	switch {
	case p.closed:
		j.over = true
		j.fail(p.closeBy)
	case len(p.queue) == 0 && p.sem.TryAcquire(1):
		p.start(j)
	default:
		p.queue = append(p.queue, j)
	}
}

func (p *workerPool) start(j *job) {
	p.active[j] = struct{}{}
	go j.run()
}

// finished runs on the loop when j's result arrives; it reports whether the
// result is still wanted (the deadline may have failed j's Deferred already).
func (r *Reactor) finished(j *job) bool {
	p := &r.pool
	if j.over {
		return false
	}
	j.over = true
	delete(p.active, j)
	p.sem.Release(1)
	for len(p.queue) > 0 && !p.closed && p.sem.TryAcquire(1) {
		next := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.start(next)
	}
	if r.state.Load() == stateStopping {
		r.checkShutdownDone()
	}
	return true
}

// abandon fails the Deferred of every job not finished, queued or running,
// with err, and makes later jobs fail at once. A running job's goroutine
// goes on; its result is dropped.
func (p *workerPool) abandon(err error) {
	if !p.closed {
		p.closed, p.closeBy = true, err
	}
	queue, active := p.queue, p.active
	p.queue, p.active = nil, map[*job]struct{}{}
	for _, j := range queue {
		j.over = true
		j.fail(err)
	}
	for j := range active {
		j.over = true
		j.fail(err)
	}
}

// DeferToGoroutine runs f on a goroutine of r's bounded pool (Twisted's
// deferToThread) and returns a Deferred that fires on r's loop with f's result.
// A panic in f becomes a Failure (see failure.FromPanic) rather than a crash. At
// most [WithWorkers] functions run at once; further calls wait, in order, for a
// free worker. After [Reactor.Stop], Run waits for the functions already
// submitted, within [WithShutdownTimeout]; past it their Deferreds fail with
// [ErrShutdown] (a function still running goes on, on its goroutine, and its
// result is dropped), as do those of functions submitted once the shutdown is
// over. On a reactor that has stopped, the Deferred fails with [ErrNotRunning].
// The Deferred always fires.
//
// DeferToGoroutine is loop goroutine only (or before Run); f runs on another
// goroutine and must not touch the reactor except through
// [Reactor.CallFromGoroutine].
func DeferToGoroutine[T any](r *Reactor, f func() (T, error)) *deferred.Deferred[T] {
	if r.state.Load() == stateStopped {
		return deferred.Fail[T](ErrNotRunning)
	}
	r.CheckLoop("DeferToGoroutine")
	d := deferred.New[T]()
	j := &job{fail: func(err error) { d.Errback(err) }}
	j.run = func() {
		v, err := callRecovering(f)
		r.CallFromGoroutine(func() {
			if !r.finished(j) {
				return
			}
			if err != nil {
				d.Errback(err)
			} else {
				d.Callback(v)
			}
		})
	}
	r.submit(j)
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
