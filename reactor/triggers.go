package reactor

import (
	"fmt"
	"slices"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
)

// Phase is when, relative to an [Event], a system event trigger runs.
type Phase uint8

const (
	// Before triggers run first; the event waits for the Deferreds they return
	// before it runs the During triggers.
	Before Phase = iota
	// During triggers run once every Before Deferred has fired. The reactor is
	// "running" from the start of During startup to the start of During shutdown.
	During
	// After triggers run once every During Deferred has fired.
	After
)

// String returns "before", "during" or "after".
func (p Phase) String() string {
	switch p {
	case Before:
		return "before"
	case During:
		return "during"
	case After:
		return "after"
	}
	return fmt.Sprintf("Phase(%d)", uint8(p))
}

// Event is a system event that triggers can be attached to.
type Event uint8

const (
	// Startup fires when [Reactor.Run] starts, before any timer runs.
	Startup Event = iota
	// Shutdown fires on the loop after [Reactor.Stop].
	Shutdown
)

// String returns "startup" or "shutdown".
func (e Event) String() string {
	switch e {
	case Startup:
		return "startup"
	case Shutdown:
		return "shutdown"
	}
	return fmt.Sprintf("Event(%d)", uint8(e))
}

// TriggerID identifies a trigger added by [Reactor.AddSystemEventTrigger], for
// [Reactor.RemoveSystemEventTrigger]. The zero value identifies no trigger.
type TriggerID struct {
	event Event
	phase Phase
	n     uint64
}

// AddSystemEventTrigger arranges for f to run on the loop in the given phase of
// event (Twisted's addSystemEventTrigger). Triggers of one phase run in the order
// they were added. f may return nil, or a Deferred for the event to wait on
// before its next phase; twist waits on the Deferreds of every phase (Twisted
// waits only on "before" ones), so a "during shutdown" trigger can finish
// asynchronous cleanup before Run returns. A trigger that panics, or whose
// Deferred fails, is logged, and the other triggers still run. Shutdown waits at
// most [WithShutdownTimeout] in all; startup waits as long as it takes.
//
// Each event fires once per reactor: a trigger added to a phase that has already
// run never runs. Loop goroutine only (or before Run). It panics on an unknown
// phase or event, or a nil f.
func (r *Reactor) AddSystemEventTrigger(phase Phase, event Event, f func() *deferred.Deferred[struct{}]) TriggerID {
	if f == nil {
		panic("reactor: nil system event trigger")
	}
	r.CheckLoop("Reactor.AddSystemEventTrigger")
	return r.addTrigger(phase, event, func() waiter { return waitFor(f()) })
}

// waitFor is the waiter of a trigger's Deferred d; nil when d is nil.
func waitFor(d *deferred.Deferred[struct{}]) waiter {
	if d == nil {
		return nil
	}
	return func(done func(*failure.Failure)) {
		d.AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
			done(f)
			return struct{}{}, nil // the trigger's failure is logged: handled
		})
	}
}

// RemoveSystemEventTrigger removes a trigger that has not run yet; it does nothing
// for one that has run or was removed. Loop goroutine only (or before Run).
func (r *Reactor) RemoveSystemEventTrigger(id TriggerID) {
	r.CheckLoop("Reactor.RemoveSystemEventTrigger")
	if id.n == 0 || int(id.event) >= len(r.events) || id.phase > After {
		return
	}
	list := &r.events[id.event].phases[id.phase]
	*list = slices.DeleteFunc(*list, func(t *trigger) bool { return t.n == id.n })
}

// waiter is what a trigger leaves the firing to wait on: it calls done exactly
// once, from any goroutine, with the Failure or nil.
type waiter func(done func(*failure.Failure))

type trigger struct {
	n uint64
	f func() waiter
}

type eventTriggers struct {
	phases [After + 1][]*trigger
}

func (r *Reactor) addTrigger(phase Phase, event Event, f func() waiter) TriggerID {
	if phase > After || int(event) >= len(r.events) {
		panic(fmt.Sprintf("reactor: unknown system event %v/%v", phase, event))
	}
	r.triggerID++
	list := &r.events[event].phases[phase]
	*list = append(*list, &trigger{n: r.triggerID, f: f})
	return TriggerID{event: event, phase: phase, n: r.triggerID}
}

// firing is one firing of an event: its three phases, run in turn on the loop,
// each waiting for the waiters of the one before (Twisted's _ThreePhaseEvent).
type firing struct {
	r       *Reactor
	ev      Event
	phase   Phase
	pending int    // waiters of the current phase not yet done
	gen     uint64 // bumped when the firing stops waiting, to ignore late waiters
	noWait  bool   // the deadline passed: run what is left without waiting
	stopped bool   // abandoned: run nothing more
	done    func()
}

func (r *Reactor) fire(ev Event, done func()) {
	fi := &firing{r: r, ev: ev, done: done}
	r.firing[ev] = fi
	fi.run(Before)
}

func (fi *firing) run(from Phase) {
	r := fi.r
	for p := from; p <= After; p++ {
		fi.phase = p
		if p == During {
			fi.enterDuring()
		}
		list := &r.events[fi.ev].phases[p]
		for len(*list) > 0 && !fi.stopped {
			t := (*list)[0]
			(*list)[0] = nil
			*list = (*list)[1:]
			fi.call(t)
		}
		if fi.stopped || fi.pending > 0 {
			return // waiterDone resumes
		}
	}
	r.firing[fi.ev] = nil
	if fi.done != nil {
		fi.done()
	}
}

// enterDuring starts the "during" phase: the reactor is running from the
// start of startup's, and no longer from the start of shutdown's, where the
// reactor's extensions shut down first (Twisted disconnects there).
func (fi *firing) enterDuring() {
	r := fi.r
	r.started = fi.ev == Startup
	r.running.Store(fi.ev == Startup)
	if fi.ev == Shutdown {
		for _, w := range r.shutDownExtensions() {
			fi.wait(w)
		}
	}
}

func (fi *firing) call(t *trigger) {
	fi.wait(fi.r.callTrigger(t))
}

// wait makes the current phase wait for w, unless w is nil or the deadline
// has passed.
func (fi *firing) wait(w waiter) {
	r := fi.r
	if w == nil {
		return
	}
	ev, phase, gen, counted := fi.ev, fi.phase, fi.gen, !fi.noWait
	if counted {
		fi.pending++
	}
	w(func(f *failure.Failure) {
		if f != nil {
			r.log.Error("reactor: system event trigger failed",
				"event", ev.String(), "phase", phase.String(), "failure", fmt.Sprintf("%+v", f))
		}
		if counted {
			r.CallFromGoroutine(func() { fi.waiterDone(gen) })
		}
	})
}

func (r *Reactor) callTrigger(t *trigger) (w waiter) {
	defer func() {
		if v := recover(); v != nil {
			logPanic(r.log, "system event trigger", v)
			w = nil
		}
	}()
	return t.f()
}

func (fi *firing) waiterDone(gen uint64) {
	if gen != fi.gen || fi.stopped {
		return
	}
	fi.pending--
	if fi.pending == 0 {
		fi.run(fi.phase + 1)
	}
}

// stopWaiting gives up on the waiters still pending and runs the remaining phases
// without waiting.
func (fi *firing) stopWaiting() {
	fi.noWait = true
	fi.gen++
	if fi.pending > 0 && !fi.stopped {
		fi.pending = 0
		fi.run(fi.phase + 1)
	}
}
