package reactor

import (
	"errors"
	"iter"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
)

// DefaultTimeSlice is how long a [Cooperator] runs its tasks per turn of the
// loop before it lets the loop go on: Twisted's 1/100 s.
const DefaultTimeSlice = 10 * time.Millisecond

var (
	// ErrTaskFinished is matched by the errors of a [CooperativeTask] that
	// has finished: [ErrTaskDone], [ErrTaskStopped] and [ErrTaskFailed]
	// (Twisted's TaskFinished).
	ErrTaskFinished = errors.New("reactor: cooperative task finished")
	// ErrTaskDone is returned by [CooperativeTask.Pause] and
	// [CooperativeTask.Stop] once its steps have run out (Twisted's
	// TaskDone).
	ErrTaskDone error = &taskFinishedError{"reactor: cooperative task done"}
	// ErrTaskStopped fails the [CooperativeTask.WhenDone] Deferreds of a task
	// that [CooperativeTask.Stop] stopped, and is returned by Pause and Stop
	// afterwards (Twisted's TaskStopped).
	ErrTaskStopped error = &taskFinishedError{"reactor: cooperative task stopped"}
	// ErrTaskFailed is returned by Pause and Stop once a task has failed:
	// its iterator panicked or a Deferred it yielded failed (Twisted's
	// TaskFailed). WhenDone fails with that failure, not with ErrTaskFailed.
	ErrTaskFailed error = &taskFinishedError{"reactor: cooperative task failed"}
	// ErrSchedulerStopped fails the tasks of a [Cooperator] that was
	// stopped, and every task given to it until it starts again (Twisted's
	// SchedulerStopped).
	ErrSchedulerStopped = errors.New("reactor: cooperator stopped")
	// ErrNotPaused is returned by [CooperativeTask.Resume] for a task that
	// is not paused (Twisted's NotPaused).
	ErrNotPaused = errors.New("reactor: cooperative task not paused")
)

type taskFinishedError struct{ msg string }

func (e *taskFinishedError) Error() string        { return e.msg }
func (e *taskFinishedError) Is(target error) bool { return target == ErrTaskFinished }

// Cooperator runs long jobs on the loop a slice at a time, so that they
// neither block the loop nor starve each other (Twisted's task.Cooperator).
// A job is an iterator of steps, each a unit of work: the Cooperator takes a
// step from each of its tasks in turn, round after round, until its time
// slice ([DefaultTimeSlice] unless [WithTimeSlice] says otherwise) is spent,
// then schedules the next slice on its [Scheduler] (with a zero delay: in a
// later turn of the loop, after timers and I/O have had theirs).
//
// A Cooperator and its tasks belong to its Scheduler's goroutine: a
// Reactor's loop (or, before Run, the goroutine that will call Run) or, for
// a [Clock], the goroutine that advances it. The steps run there too. On a
// Reactor, the Deferreds that steps yield may be fired from any goroutine.
type Cooperator struct {
	s          Scheduler
	slice      time.Duration
	stepsLimit int // WithStepsPerSlice: steps per slice, instead of a time

	run     []*CooperativeTask // the tasks neither paused nor finished, in turn order
	cursor  int                // the index in run of the next task to step
	live    taskList           // every unfinished task, paused or not, oldest first
	call    *DelayedCall       // the next slice, if scheduled
	stopped bool
}

// A CooperatorOption configures a [Cooperator] at [NewCooperator].
type CooperatorOption interface{ applyCooperator(*Cooperator) }

type cooperatorOptionFunc func(*Cooperator)

func (f cooperatorOptionFunc) applyCooperator(c *Cooperator) { f(c) }

// WithTimeSlice sets how long a [Cooperator] steps its tasks before it lets
// the loop go on, measured on the monotonic wall clock (a fake [Clock]
// stands still while steps run). The default is [DefaultTimeSlice], 10 ms.
// Each slice runs at least one step, so d <= 0 means one step per slice.
func WithTimeSlice(d time.Duration) CooperatorOption {
	return cooperatorOptionFunc(func(c *Cooperator) { c.slice, c.stepsLimit = d, 0 })
}

// WithStepsPerSlice makes each slice of a [Cooperator] run n steps (fewer
// if its tasks run out) instead of spending a time, as Twisted's
// terminationPredicateFactory can: the Cooperator is then deterministic, for
// tests on a [Clock]. n < 1 means 1.
func WithStepsPerSlice(n int) CooperatorOption {
	return cooperatorOptionFunc(func(c *Cooperator) { c.stepsLimit = max(n, 1) })
}

// NewCooperator returns a running Cooperator whose slices are scheduled on s.
func NewCooperator(s Scheduler, opts ...CooperatorOption) *Cooperator {
	c := &Cooperator{s: s, slice: DefaultTimeSlice}
	for _, o := range opts {
		o.applyCooperator(c)
	}
	return c
}

// Cooperate starts running steps as a task of c and returns the task
// (Twisted's Cooperator.cooperate). Each value the iterator yields ends a
// step: nil to go on at the task's next turn, or a Deferred to wait on
// first. While the Deferred is pending the task is paused and the other
// tasks go on; when it fires the task resumes, or, if it failed, the task
// fails with its Failure. To fail a task, yield a failed Deferred
// (deferred.Fail); a panic in the iterator fails it too.
//
//	task := coop.Cooperate(func(yield func(*deferred.Deferred[struct{}]) bool) {
//		for _, row := range rows {
//			process(row)
//			if !yield(nil) {
//				return // the task was stopped
//			}
//		}
//	})
//
// A Deferred that has fired already costs the task no turn. The iterator
// runs as a coroutine on a goroutine of its own (see iter.Pull): one step
// at a time, in the Cooperator's goroutine's turn, never concurrently with
// it. That goroutine lives until the task ends, so stop the tasks you
// abandon (a task waiting forever on a Deferred holds it too). When the
// task is stopped, yield returns false and the iterator must return.
//
// On a stopped Cooperator, the task fails at once with [ErrSchedulerStopped].
func (c *Cooperator) Cooperate(steps iter.Seq[*deferred.Deferred[struct{}]]) *CooperativeTask {
	t := &CooperativeTask{c: c}
	t.next, t.stop = iter.Pull(steps)
	c.live.push(t)
	t.update()
	return t
}

// Coiterate is [Cooperator.Cooperate] returning only the task's
// [CooperativeTask.WhenDone] Deferred (Twisted's Cooperator.coiterate).
func (c *Cooperator) Coiterate(steps iter.Seq[*deferred.Deferred[struct{}]]) *deferred.Deferred[struct{}] {
	return c.Cooperate(steps).WhenDone()
}

// Stop stops c: every unfinished task, paused ones included (unlike
// Twisted, so that no WhenDone Deferred is left waiting), fails with
// [ErrSchedulerStopped], and so does every task given to c until
// [Cooperator.Start].
func (c *Cooperator) Stop() {
	c.stopped = true
	c.cancelSlice()
	var ts []*CooperativeTask
	for t := c.live.first; t != nil; t = t.nextLive {
		ts = append(ts, t)
	}
	for _, t := range ts {
		if t.ended == nil {
			t.finish(ErrSchedulerStopped, failure.New(ErrSchedulerStopped))
		}
	}
}

// Start lets a stopped Cooperator take tasks again (Twisted's
// Cooperator.start). A new Cooperator is running already.
func (c *Cooperator) Start() { c.stopped = false }

// Running reports whether c takes tasks: it has not been stopped, or it was
// started again since.
func (c *Cooperator) Running() bool { return !c.stopped }

// sliceDelay is how long after a slice the next one is scheduled: Twisted's
// _EPSILON (10 µs) rather than 0, so that a fake Clock, whose Advance runs
// every call that falls due while it advances, is stepped one slice per
// Advance(sliceDelay) instead of spinning through every slice at once.
const sliceDelay = 10 * time.Microsecond

// add puts t at the end of the round, or fails it if c is stopped.
func (c *Cooperator) add(t *CooperativeTask) {
	if c.stopped {
		t.finish(ErrSchedulerStopped, failure.New(ErrSchedulerStopped))
		return
	}
	t.queued = true
	c.run = append(c.run, t)
	if c.call == nil {
		c.call = c.s.Schedule(sliceDelay, c.tick)
	}
}

// remove takes t out of the round.
func (c *Cooperator) remove(t *CooperativeTask) {
	t.queued = false
	if i := slices.Index(c.run, t); i >= 0 {
		c.run = slices.Delete(c.run, i, i+1)
		if i < c.cursor {
			c.cursor--
		}
	}
	if len(c.run) == 0 {
		c.cursor = 0
		c.cancelSlice()
	}
}

func (c *Cooperator) cancelSlice() {
	if c.call != nil {
		c.call.Cancel()
		c.call = nil
	}
}

// tick is one slice: a step of each task of the round in turn, until the
// slice is spent or no task is left to step.
func (c *Cooperator) tick() {
	c.call = nil
	start := time.Now()
	for steps := 1; len(c.run) > 0; steps++ {
		if c.cursor >= len(c.run) {
			c.cursor = 0
		}
		t := c.run[c.cursor]
		c.cursor++
		t.step()
		if c.sliceSpent(start, steps) {
			break
		}
	}
	if len(c.run) > 0 && c.call == nil {
		c.call = c.s.Schedule(sliceDelay, c.tick)
	}
}

func (c *Cooperator) sliceSpent(start time.Time, steps int) bool {
	if c.stepsLimit > 0 {
		return steps >= c.stepsLimit
	}
	return time.Since(start) >= c.slice
}

// handOff runs f on a Reactor's loop and reports true; on a Scheduler with
// no loop to hand over to (a Clock), it reports false and the caller runs f
// itself.
func (c *Cooperator) handOff(f func()) bool {
	h, ok := c.s.(goroutineHandOff)
	if ok {
		h.CallFromGoroutine(f)
	}
	return ok
}

// goroutineHandOff is a Scheduler that runs functions handed over by other
// goroutines on its own goroutine: a Reactor.
type goroutineHandOff interface{ CallFromGoroutine(f func()) }

func (c *Cooperator) logger() *slog.Logger {
	if l, ok := c.s.(loggerOwner); ok {
		return l.Logger()
	}
	return slog.Default()
}

// loggerOwner is a Scheduler with a logger: a Reactor.
type loggerOwner interface{ Logger() *slog.Logger }

// CooperativeTask is a job running on a [Cooperator] (Twisted's
// CooperativeTask): it can be paused, resumed and stopped, and
// [CooperativeTask.WhenDone] tells how it ended. Its methods belong to the
// Cooperator's goroutine.
type CooperativeTask struct {
	c    *Cooperator
	next func() (*deferred.Deferred[struct{}], bool)
	stop func()

	pauses   int   // Pause calls not yet resumed
	waiting  bool  // on a Deferred the iterator yielded
	queued   bool  // in the Cooperator's round
	stepping bool  // next is running: stop the iterator once it returns
	ended    error // nil until the task finishes: why it did
	fail     *failure.Failure
	waiters  []*deferred.Deferred[struct{}]

	prev, nextLive *CooperativeTask // in the Cooperator's live list while unfinished
}

// WhenDone returns a Deferred that fires when the task ends: with no error
// once its iterator is exhausted, with [ErrTaskStopped] when it was
// stopped, with [ErrSchedulerStopped] when its Cooperator was, and with the
// Failure of a panic in the iterator or of a Deferred it yielded otherwise.
// Each call returns a new Deferred; one asked for after the end fires at
// once.
func (t *CooperativeTask) WhenDone() *deferred.Deferred[struct{}] {
	if t.ended == nil {
		d := deferred.New[struct{}]()
		t.waiters = append(t.waiters, d)
		return d
	}
	if t.fail != nil {
		return deferred.Fail[struct{}](t.fail)
	}
	return deferred.Succeed(struct{}{})
}

// Pause stops the task from being stepped until [CooperativeTask.Resume]
// has been called as many times as Pause. Once the task has finished, Pause
// returns why: an error matching [ErrTaskFinished], or
// [ErrSchedulerStopped].
func (t *CooperativeTask) Pause() error {
	if t.ended != nil {
		return t.ended
	}
	t.pauses++
	t.update()
	return nil
}

// Resume undoes one [CooperativeTask.Pause]; the last one puts the task
// back at the end of its Cooperator's round (or, if the Cooperator was
// stopped meanwhile, fails it with [ErrSchedulerStopped]). It returns
// [ErrNotPaused] when the task is not paused. A task waiting on a Deferred
// it yielded goes on waiting.
func (t *CooperativeTask) Resume() error {
	if t.pauses == 0 {
		return ErrNotPaused
	}
	t.pauses--
	t.update()
	return nil
}

// Stop ends the task: the yield its iterator is suspended in returns false,
// and its WhenDone Deferreds fail with [ErrTaskStopped]. Once the task has
// finished, Stop returns why: an error matching [ErrTaskFinished], or
// [ErrSchedulerStopped]. A step may stop its own task.
func (t *CooperativeTask) Stop() error {
	if t.ended != nil {
		return t.ended
	}
	t.finish(ErrTaskStopped, failure.New(ErrTaskStopped))
	return nil
}

// update puts the task in its Cooperator's round or takes it out, as its
// state says.
func (t *CooperativeTask) update() {
	want := t.ended == nil && t.pauses == 0 && !t.waiting
	switch {
	case want && !t.queued:
		t.c.add(t)
	case !want && t.queued:
		t.c.remove(t)
	}
}

// step takes one step of the iterator.
func (t *CooperativeTask) step() {
	d, more, f := t.pull()
	switch {
	case t.ended != nil:
		// The step stopped its task (or the Cooperator): its iterator ends
		// now, and what it yielded is left alone; a failure there is
		// reported as unhandled.
		t.stopIterator()
	case f != nil:
		t.finish(ErrTaskFailed, f)
	case !more:
		t.finish(ErrTaskDone, nil)
	case d != nil:
		t.await(d)
	}
}

// pull runs the iterator to its next yield.
func (t *CooperativeTask) pull() (d *deferred.Deferred[struct{}], more bool, f *failure.Failure) {
	t.stepping = true
	defer func() {
		t.stepping = false
		if v := recover(); v != nil {
			d, more, f = nil, false, failure.FromPanic(v)
		}
	}()
	d, more = t.next()
	return d, more, nil
}

// await takes the task out of the round until d fires, unless d has fired
// already: then the task keeps its place, or fails. When d fires later, the
// task goes on on the Cooperator's goroutine (a Reactor's loop), whichever
// goroutine fires d.
func (t *CooperativeTask) await(d *deferred.Deferred[struct{}]) {
	const (
		adding   = iota // AddBoth has not returned yet
		firedNow        // d fired while AddBoth ran
		later           // AddBoth returned first: go on when d fires
	)
	var (
		state  atomic.Int32
		result *failure.Failure
	)
	d.AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
		if state.CompareAndSwap(adding, firedNow) {
			result = f
		} else if !t.c.handOff(func() { t.awaited(f) }) {
			t.awaited(f)
		}
		return struct{}{}, nil // a failure goes to the task
	})
	if state.CompareAndSwap(adding, later) {
		t.waiting = true
		t.update()
		return
	}
	if result != nil {
		t.finish(ErrTaskFailed, result)
	}
}

// awaited goes on once the Deferred the task waited on has fired with f.
func (t *CooperativeTask) awaited(f *failure.Failure) {
	t.waiting = false
	switch {
	case f != nil && t.ended == nil:
		t.finish(ErrTaskFailed, f)
	case f != nil:
		// The task was stopped meanwhile: nobody is left to handle f.
		unhandled(f)
	default:
		t.update()
	}
}

// unhandled drops a Deferred failed with f, so that f is reported as an
// unhandled failure (see deferred.SetUnhandledHandler) rather than lost.
func unhandled(f *failure.Failure) { _ = deferred.Fail[struct{}](f) }

// finish ends the task with why (ErrTaskDone, ErrTaskStopped,
// ErrTaskFailed or ErrSchedulerStopped) and fires its WhenDone Deferreds
// with fail (nil when done), once the task has left its Cooperator, so that
// their callbacks may use the Cooperator.
func (t *CooperativeTask) finish(why error, fail *failure.Failure) {
	t.ended, t.fail = why, fail
	t.update()
	t.c.live.remove(t)
	if !t.stepping {
		t.stopIterator()
	}
	ws := t.waiters
	t.waiters = nil
	for _, d := range ws {
		if fail != nil {
			d.Errback(fail)
		} else {
			d.Callback(struct{}{})
		}
	}
}

// stopIterator ends the iterator's coroutine: the yield it is suspended in
// returns false, and it runs to its end. A panic there comes after the
// task's outcome was settled; it is logged.
func (t *CooperativeTask) stopIterator() {
	defer func() {
		if v := recover(); v != nil {
			t.c.logger().Error("reactor: cooperative task panicked while stopping",
				slog.Any("failure", failure.FromPanic(v)))
		}
	}()
	t.stop()
}

// taskList is a doubly linked list of tasks, oldest first.
type taskList struct{ first, last *CooperativeTask }

func (l *taskList) push(t *CooperativeTask) {
	t.prev = l.last
	if l.last != nil {
		l.last.nextLive = t
	} else {
		l.first = t
	}
	l.last = t
}

func (l *taskList) remove(t *CooperativeTask) {
	if t.prev != nil {
		t.prev.nextLive = t.nextLive
	} else if l.first == t {
		l.first = t.nextLive
	}
	if t.nextLive != nil {
		t.nextLive.prev = t.prev
	} else if l.last == t {
		l.last = t.prev
	}
	t.prev, t.nextLive = nil, nil
}

// Cooperator returns r's own Cooperator, made on first use: the one
// [Cooperate] and [Coiterate] share, so that every long job on r takes its
// turn with the others (Twisted's global cooperator, one per reactor here).
// It is stopped after r's shutdown, failing the tasks still unfinished with
// [ErrSchedulerStopped]. Loop goroutine only (or before Run).
func (r *Reactor) Cooperator() *Cooperator {
	if r.coop == nil {
		r.coop = NewCooperator(r)
		r.AddSystemEventTrigger(After, Shutdown, func() *deferred.Deferred[struct{}] {
			r.coop.Stop()
			return nil
		})
	}
	return r.coop
}

// Cooperate runs steps as a task of r's [Reactor.Cooperator] (Twisted's
// task.cooperate); see [Cooperator.Cooperate]. Loop goroutine only (or
// before Run).
func Cooperate(r *Reactor, steps iter.Seq[*deferred.Deferred[struct{}]]) *CooperativeTask {
	return r.Cooperator().Cooperate(steps)
}

// Coiterate runs steps as a task of r's [Reactor.Cooperator] and returns a
// Deferred that fires when it ends (Twisted's task.coiterate); see
// [Cooperator.Coiterate]. Loop goroutine only (or before Run).
func Coiterate(r *Reactor, steps iter.Seq[*deferred.Deferred[struct{}]]) *deferred.Deferred[struct{}] {
	return r.Cooperator().Coiterate(steps)
}
