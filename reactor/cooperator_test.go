package reactor

import (
	"errors"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/failure"
)

// Steps is the iterator type of a cooperative task.
type Steps = iter.Seq[*deferred.Deferred[struct{}]]

// stepLog records the steps of cooperative tasks, in the order they ran.
type stepLog struct{ entries []string }

func (l *stepLog) add(format string, args ...any) {
	l.entries = append(l.entries, fmt.Sprintf(format, args...))
}

// take returns the entries recorded since the last take.
func (l *stepLog) take() []string {
	e := l.entries
	l.entries = nil
	return e
}

// counting is a task of n steps (n < 0: endless) that logs each as name and
// its number, and logs "name stopped" when its yield returns false.
func counting(log *stepLog, name string, n int) Steps {
	return func(yield func(*deferred.Deferred[struct{}]) bool) {
		for i := 0; n < 0 || i < n; i++ {
			log.add("%s%d", name, i)
			if !yield(nil) {
				log.add("%s stopped", name)
				return
			}
		}
	}
}

// ending records how a WhenDone Deferred fired.
type ending struct {
	fired bool
	err   error
}

func whenDone(t *CooperativeTask) *ending {
	e := &ending{}
	t.WhenDone().AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
		e.fired = true
		if f != nil {
			e.err = f
		}
		return struct{}{}, nil
	})
	return e
}

// TestCooperatorInterleavesFairly runs three tasks two steps per slice: they
// take turns, one step each, and the round goes on across slices where it
// stopped. A task's last step is the one that finds its iterator exhausted.
// Once all are done, the Cooperator schedules nothing more.
func TestCooperatorInterleavesFairly(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := NewClock(epoch)
	coop := NewCooperator(clock, WithStepsPerSlice(2))
	var log stepLog
	a := whenDone(coop.Cooperate(counting(&log, "a", 3)))
	b := whenDone(coop.Cooperate(counting(&log, "b", 3)))
	c := whenDone(coop.Cooperate(counting(&log, "c", 3)))
	require.Empty(t, log.take(), "nothing runs before the first slice")
	require.Len(t, clock.Pending(), 1, "one slice scheduled for the three tasks")

	wantSlices := [][]string{
		{"a0", "b0"},
		{"c0", "a1"},
		{"b1", "c1"},
		{"a2", "b2"},
		{"c2"}, // then a finds its end
		nil,    // b and c find theirs
	}
	for i, want := range wantSlices {
		clock.Advance(sliceDelay)
		require.Equal(t, want, log.take(), "slice %d", i)
	}
	for _, e := range []*ending{a, b, c} {
		require.True(t, e.fired)
		require.NoError(t, e.err)
	}
	require.Empty(t, clock.Pending(), "an idle Cooperator keeps no timer")
}

// TestCooperatorStopsOnRequest stops one of three endless tasks, then the
// Cooperator: each iterator's yield returns false, WhenDone reports why, and
// the remaining tasks go on interleaving in between.
func TestCooperatorStopsOnRequest(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := NewClock(epoch)
	coop := NewCooperator(clock, WithStepsPerSlice(3))
	var log stepLog
	ta := coop.Cooperate(counting(&log, "a", -1))
	tb := coop.Cooperate(counting(&log, "b", -1))
	tc := coop.Cooperate(counting(&log, "c", -1))
	a, b, c := whenDone(ta), whenDone(tb), whenDone(tc)

	clock.Advance(sliceDelay)
	require.Equal(t, []string{"a0", "b0", "c0"}, log.take())

	require.NoError(t, tb.Stop())
	require.Equal(t, []string{"b stopped"}, log.take(), "Stop ends the iterator at once")
	require.True(t, b.fired)
	require.ErrorIs(t, b.err, ErrTaskStopped)
	require.ErrorIs(t, b.err, ErrTaskFinished)
	require.ErrorIs(t, tb.Stop(), ErrTaskStopped, "a second Stop says why the task ended")
	require.ErrorIs(t, tb.Pause(), ErrTaskStopped)

	clock.Advance(sliceDelay)
	require.Equal(t, []string{"a1", "c1", "a2"}, log.take())
	clock.Advance(sliceDelay)
	require.Equal(t, []string{"c2", "a3", "c3"}, log.take())

	coop.Stop()
	require.Equal(t, []string{"a stopped", "c stopped"}, log.take())
	for _, e := range []*ending{a, c} {
		require.True(t, e.fired)
		require.ErrorIs(t, e.err, ErrSchedulerStopped)
	}
	require.Empty(t, clock.Pending())
	require.False(t, coop.Running())

	late := whenDone(coop.Cooperate(counting(&log, "late", 1)))
	require.True(t, late.fired, "a stopped Cooperator fails new tasks at once")
	require.ErrorIs(t, late.err, ErrSchedulerStopped)
	require.Empty(t, log.take(), "their iterators never run")

	coop.Start()
	again := whenDone(coop.Cooperate(counting(&log, "again", 1)))
	clock.Pump(sliceDelay, sliceDelay)
	require.Equal(t, []string{"again0"}, log.take())
	require.True(t, again.fired)
	require.NoError(t, again.err)
}

// TestCooperatorTimeSlice runs endless tasks with the default time slice on
// a Clock: a slice ends once 10 ms of real time are spent, and the next
// slice goes on with the round.
func TestCooperatorTimeSlice(t *testing.T) {
	clock := NewClock(epoch)
	coop := NewCooperator(clock)
	var log stepLog
	coop.Cooperate(counting(&log, "a", -1))
	coop.Cooperate(counting(&log, "b", -1))

	start := time.Now()
	clock.Advance(sliceDelay)
	spent := time.Since(start)
	first := log.take()
	require.GreaterOrEqual(t, spent, DefaultTimeSlice)
	require.Greater(t, len(first), 2, "many steps fit in a slice")
	require.Len(t, clock.Pending(), 1, "the next slice is scheduled")

	clock.Advance(sliceDelay)
	second := log.take()
	require.NotEmpty(t, second)
	// The round goes on where it stopped: the task that did not take the
	// last step of the first slice takes the first of the second.
	last, next := first[len(first)-1], second[0]
	require.NotEqual(t, last[:1], next[:1], "slices %v then %v", first[len(first)-2:], second[:2])
	coop.Stop()
	log.take()
}

// TestCooperativeTaskWaitsOnDeferreds has a task yield Deferreds: it sits
// out of the round while one is pending (the others go on), resumes when it
// fires, and fails with its Failure when it fails.
func TestCooperativeTaskWaitsOnDeferreds(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := NewClock(epoch)
	coop := NewCooperator(clock, WithStepsPerSlice(4))
	var log stepLog
	gate := deferred.New[struct{}]()
	broken := deferred.New[struct{}]()
	errBroken := errors.New("broken step")
	waiter := coop.Cooperate(func(yield func(*deferred.Deferred[struct{}]) bool) {
		log.add("w0")
		if !yield(gate) {
			return
		}
		log.add("w1")
		if !yield(deferred.Succeed(struct{}{})) { // fired already: no wait
			return
		}
		log.add("w2")
		if !yield(broken) {
			log.add("w ended")
			return
		}
		log.add("w resumed") // never: the task failed
	})
	w := whenDone(waiter)
	o := whenDone(coop.Cooperate(counting(&log, "o", -1)))

	clock.Advance(sliceDelay)
	require.Equal(t, []string{"w0", "o0", "o1", "o2"}, log.take(), "the waiting task sits out")

	gate.Callback(struct{}{})
	clock.Advance(sliceDelay)
	// w rejoins at the end of the round, which is where the round stands;
	// a Deferred fired already costs it no turn.
	require.Equal(t, []string{"w1", "o3", "w2", "o4"}, log.take())

	clock.Advance(sliceDelay)
	require.Equal(t, []string{"o5", "o6", "o7", "o8"}, log.take())
	require.False(t, w.fired)

	broken.Errback(errBroken)
	require.True(t, w.fired)
	require.ErrorIs(t, w.err, errBroken)
	require.ErrorIs(t, waiter.Pause(), ErrTaskFailed)
	require.ErrorIs(t, waiter.Stop(), ErrTaskFinished)
	require.Equal(t, []string{"w ended"}, log.take(), "its iterator was ended, not resumed")

	clock.Advance(sliceDelay)
	require.Equal(t, []string{"o9", "o10", "o11", "o12"}, log.take())
	coop.Stop()
	log.take()
	require.ErrorIs(t, o.err, ErrSchedulerStopped)
}

// TestCooperativeTaskPauseResume checks Pause and Resume: pauses count,
// Resume without Pause is ErrNotPaused, a paused task keeps its place in
// nobody's way, and a pause outlasts the Deferred the task waited on.
func TestCooperativeTaskPauseResume(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := NewClock(epoch)
	coop := NewCooperator(clock, WithStepsPerSlice(2))
	var log stepLog
	gate := deferred.New[struct{}]()
	ta := coop.Cooperate(func(yield func(*deferred.Deferred[struct{}]) bool) {
		for i := 0; ; i++ {
			log.add("a%d", i)
			var wait *deferred.Deferred[struct{}]
			if i == 1 {
				wait = gate
			}
			if !yield(wait) {
				return
			}
		}
	})
	coop.Cooperate(counting(&log, "b", -1))

	require.ErrorIs(t, ta.Resume(), ErrNotPaused)
	require.NoError(t, ta.Pause())
	require.NoError(t, ta.Pause())
	clock.Advance(sliceDelay)
	require.Equal(t, []string{"b0", "b1"}, log.take())
	require.NoError(t, ta.Resume())
	clock.Advance(sliceDelay)
	require.Equal(t, []string{"b2", "b3"}, log.take(), "one Resume is not enough after two Pauses")
	require.NoError(t, ta.Resume())
	clock.Advance(sliceDelay)
	require.Equal(t, []string{"a0", "b4"}, log.take(), "a rejoins at the end of the round, where it stands")
	clock.Advance(sliceDelay)
	require.Equal(t, []string{"a1", "b5"}, log.take(), "a now waits on gate")

	require.NoError(t, ta.Pause())
	gate.Callback(struct{}{})
	clock.Advance(sliceDelay)
	require.Equal(t, []string{"b6", "b7"}, log.take(), "still paused after gate fired")
	require.NoError(t, ta.Resume())
	clock.Advance(sliceDelay)
	require.Equal(t, []string{"a2", "b8"}, log.take())
	coop.Stop()
	log.take()
}

// TestCooperativeTaskPanics fails a task whose iterator panics, with the
// panic's Failure; the other tasks go on.
func TestCooperativeTaskPanics(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := NewClock(epoch)
	coop := NewCooperator(clock, WithStepsPerSlice(3))
	var log stepLog
	p := whenDone(coop.Cooperate(func(yield func(*deferred.Deferred[struct{}]) bool) {
		log.add("p0")
		yield(nil)
		panic("step exploded")
	}))
	coop.Cooperate(counting(&log, "o", -1))
	clock.Pump(sliceDelay, sliceDelay)
	// The third step of the first slice is p's panic.
	require.Equal(t, []string{"p0", "o0", "o1", "o2", "o3"}, log.take())
	require.True(t, p.fired)
	var f *failure.Failure
	require.ErrorAs(t, p.err, &f)
	require.True(t, f.Panicked())
	require.Contains(t, f.Error(), "step exploded")
	coop.Stop()
	log.take()
}

// TestCooperativeTaskStopsItself has a step stop its own task, and another
// stop the whole Cooperator: the iterators end once the step returns.
func TestCooperativeTaskStopsItself(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := NewClock(epoch)
	coop := NewCooperator(clock, WithStepsPerSlice(10))
	var log stepLog
	var self *CooperativeTask
	self = coop.Cooperate(func(yield func(*deferred.Deferred[struct{}]) bool) {
		log.add("self0")
		assert.NoError(t, self.Stop())
		if !yield(nil) {
			log.add("self stopped")
		}
	})
	s := whenDone(self)
	var x *ending
	coop.Cooperate(func(yield func(*deferred.Deferred[struct{}]) bool) {
		log.add("all0")
		yield(nil)
		log.add("all1")
		coop.Stop()
		assert.True(t, x.fired, "Stop fires WhenDone at once")
		if !yield(nil) {
			log.add("all stopped")
		}
	})
	x = whenDone(coop.Cooperate(counting(&log, "x", -1)))

	clock.Advance(sliceDelay)
	require.Equal(t, []string{"self0", "self stopped", "all0", "x0", "all1", "x stopped", "all stopped"}, log.take())
	require.ErrorIs(t, s.err, ErrTaskStopped)
	require.ErrorIs(t, x.err, ErrSchedulerStopped)
	require.Empty(t, clock.Pending())
}

// TestCooperativeTaskLateFailureIsReported stops a task while it waits on a
// Deferred that then fails: nobody is left to handle that failure, so it is
// reported as unhandled rather than dropped.
func TestCooperativeTaskLateFailureIsReported(t *testing.T) {
	rec := deferredtest.Record(t)
	clock := NewClock(epoch)
	coop := NewCooperator(clock)
	gate := deferred.New[struct{}]()
	task := coop.Cooperate(func(yield func(*deferred.Deferred[struct{}]) bool) { yield(gate) })
	clock.Advance(sliceDelay)
	require.NoError(t, task.Stop())
	errLate := errors.New("late failure")
	gate.Errback(errLate)
	reported := rec.Collect()
	require.Len(t, reported, 1)
	require.ErrorIs(t, reported[0], errLate)
}

// TestCoiterateOnReactor runs tasks on a reactor's own Cooperator: one waits
// on a Deferred fired by another goroutine, and an endless one is stopped
// with ErrSchedulerStopped when the reactor shuts down.
func TestCoiterateOnReactor(t *testing.T) {
	deferredtest.NoUnhandled(t)
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		require.Same(t, r.Cooperator(), r.Cooperator())
		fromAfar := deferred.New[struct{}]()
		steps := 0
		done := Coiterate(r, func(yield func(*deferred.Deferred[struct{}]) bool) {
			steps++
			go fromAfar.Callback(struct{}{})
			if !yield(fromAfar) {
				return
			}
			steps++
		})
		endless := whenDone(Cooperate(r, counting(&stepLog{}, "e", -1)))
		var doneErr error
		done.AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
			if f != nil {
				doneErr = f
			}
			r.Stop()
			return struct{}{}, nil
		})
		run(t, r)
		require.NoError(t, doneErr)
		require.Equal(t, 2, steps)
		require.True(t, endless.fired)
		require.ErrorIs(t, endless.err, ErrSchedulerStopped)
		require.False(t, r.Cooperator().Running())
	})
}

// BenchmarkCooperatorStep measures a step of a cooperative task: the
// coroutine switch into the iterator and back, and the Cooperator's turn
// taking, against the bare switch of iter.Pull.
func BenchmarkCooperatorStep(b *testing.B) {
	b.Run("iter.Pull", func(b *testing.B) {
		b.ReportAllocs()
		next, stop := iter.Pull(Steps(func(yield func(*deferred.Deferred[struct{}]) bool) {
			for yield(nil) {
			}
		}))
		defer stop()
		for b.Loop() {
			next()
		}
	})
	for _, tasks := range []int{1, 100} {
		b.Run(fmt.Sprintf("tasks-%d", tasks), func(b *testing.B) {
			b.ReportAllocs()
			clock := NewClock(epoch)
			coop := NewCooperator(clock, WithStepsPerSlice(1000))
			left := b.N
			for range tasks {
				coop.Cooperate(func(yield func(*deferred.Deferred[struct{}]) bool) {
					for left > 0 {
						left--
						if !yield(nil) {
							return
						}
					}
				})
			}
			b.ResetTimer()
			for left > 0 {
				clock.Advance(sliceDelay)
			}
			b.StopTimer()
			coop.Stop()
		})
	}
}
