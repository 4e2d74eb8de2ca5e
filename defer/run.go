package deferred

import (
	"runtime"
	"sync/atomic"

	"github.com/twistgo/twist/failure"
)

// This file is the Deferred's runner, Twisted's Deferred._runCallbacks: its
// states, the moves between them, and the loop that runs a chain and every
// chain it hands a result to, iteratively.
//
// A Deferred is in one of four states, kept in its state word st:
//
//	unfired  no result yet (stFired clear): added steps queue up.
//	running  stRunning: one goroutine, the runner, runs the queued steps.
//	         It alone touches result, fail and next.
//	resting  stFired and no other state bit: nothing to run. A step added
//	         now runs at once on the adding goroutine, without the lock
//	         (claim and release, the fast path), so no step waits.
//	paused   stFired|stPaused: held by Pause, or by a step that waits on
//	         an inner Deferred (Twisted's _chainedTo). Steps queue up.
//
// The other bits are flags: stLocked is a short spin lock over the step
// list and the fields marked "under the lock" (nobody runs user code while
// holding it); stMore says steps were queued while the chain was running;
// stArmed that an unhandled Failure is watched (see unhandled.go);
// stCancelled that Cancel has begun.
//
// The moves:
//
//	fire      unfired → running (steps queued) | resting | paused
//	claim     resting → running for one step → resting (add, Wait, steal)
//	queue     a step added to an unfired, running or paused Deferred waits
//	run       running → resting | paused; or a hand-off (below)
//	hand off  an internal step fires another Deferred with its result
//	          (Chain, Then, a combinator's or an Inline's output): that
//	          chain runs first, then the rest of this one (Twisted's
//	          _CONTINUE). drive keeps the suspended chains on a stack.
//	wait      running → paused on an inner Deferred that has not fired;
//	          the inner's chain gives its result back (resume) → running
//	steal     an inner Deferred that rests fired gives up its result at
//	          once (takeResult): the one place a fired inner's result is
//	          taken, for AddCallbackDeferred, ThenDeferred and Inline
//	rest      running → resting or paused: consumed steps dropped, an
//	          unhandled Failure watched
//
// A step that panics leaves a Failure as the result and the chain goes on.
// A step that calls runtime.Goexit cannot be stopped from ending its
// goroutine, but the chain is not left running: the step's result becomes
// a Failure of ErrGoexit and the runner finishes the chain (and every chain
// suspended under it) while the goroutine unwinds, as Twisted turns
// SystemExit in a callback into a Failure.

// The bits of a Deferred's state word.
const (
	stFired     uint32 = 1 << iota // Callback or Errback happened
	stRunning                      // a runner owns result, fail and next
	stPaused                       // the pause depth is above zero
	stLocked                       // a goroutine holds the lock
	stMore                         // steps were queued while running
	stArmed                        // an unhandled-failure report is registered
	stCancelled                    // Cancel has begun
)

// state is a Deferred's state word, read and changed atomically once the
// Deferred is shared; a Deferred made fired (Succeed) is given its first
// state with a plain write.
type state uint32

func (s *state) Load() uint32   { return atomic.LoadUint32((*uint32)(s)) }
func (s *state) Store(v uint32) { atomic.StoreUint32((*uint32)(s), v) }
func (s *state) CompareAndSwap(old, new uint32) bool {
	return atomic.CompareAndSwapUint32((*uint32)(s), old, new)
}

// The pause depth (Pause calls, plus one while a step waits on an inner
// Deferred) is kept in the state word above the bits, under the lock.
const (
	pauseShift = 8
	pauseOne   = 1 << pauseShift
)

// pauseLocked returns st, a locked state word, one pause deeper.
func pauseLocked(st uint32) uint32 {
	if st>>pauseShift == 1<<(32-pauseShift)-1 {
		panic("deferred: Pause nested too deeply")
	}
	return (st + pauseOne) | stPaused
}

// unpauseLocked returns st, a locked state word, one pause less deep, if
// it is paused.
func unpauseLocked(st uint32) uint32 {
	if st>>pauseShift == 0 {
		return st
	}
	if st -= pauseOne; st>>pauseShift == 0 {
		st &^= stPaused
	}
	return st
}

// spinsBeforeYield is how often lock retries before yielding the processor
// to the goroutine that holds the lock.
const spinsBeforeYield = 4

// lock takes d's lock and returns the state word as it was, without
// stLocked.
func (d *Deferred[T]) lock() uint32 {
	if st, ok := tryLock(&d.st); ok {
		return st
	}
	return lockSlow(&d.st)
}

// tryLock takes the lock bit of the state word w if it is free at once.
func tryLock(w *state) (uint32, bool) {
	st := w.Load()
	return st, st&stLocked == 0 && w.CompareAndSwap(st, st|stLocked)
}

// lockSlow takes the lock bit of w when another goroutine holds it, or
// changes w at the same time.
func lockSlow(w *state) uint32 {
	for spins := 0; ; spins++ {
		if st, ok := tryLock(w); ok {
			return st
		}
		if spins >= spinsBeforeYield {
			runtime.Gosched()
		}
	}
}

// unlock releases d's lock, leaving st as its state.
func (d *Deferred[T]) unlock(st uint32) {
	d.st.Store(st &^ stLocked)
}

// fire: unfired → running | resting | paused.

// settle gives d its result (a hand-off, Cancel, Fail) and reports
// whether the caller must now run the chain: d is then running.
func (d *Deferred[T]) settle(v T, f *failure.Failure) (run bool, err error) {
	st := d.lock()
	if st&stFired != 0 {
		return false, d.lateLocked(st)
	}
	return d.settleLocked(st, v, f), nil
}

// lateLocked answers a fire of locked d, which has fired already, and
// unlocks it: the first late fire after a Cancel without a canceller is
// ignored (Twisted's _suppressAlreadyCalled), any other is an error.
func (d *Deferred[T]) lateLocked(st uint32) error {
	var err error
	if d.suppress {
		d.suppress = false
	} else {
		err = d.alreadyCalled()
	}
	d.unlock(st)
	return err
}

// settleLocked fires d, locked and unfired, and unlocks it; it reports
// whether the caller must now run the chain.
func (d *Deferred[T]) settleLocked(st uint32, v T, f *failure.Failure) (run bool) {
	d.firedLocked(v, f)
	st |= stFired
	if st&stPaused == 0 && d.next < d.count() {
		d.runLocked(st)
		return true
	}
	d.unlock(d.watchLocked(st))
	return false
}

// firedLocked records d's result as it fires; d is locked and unfired.
func (d *Deferred[T]) firedLocked(v T, f *failure.Failure) {
	d.result, d.fail = v, f
	d.onCancel = nil // the canceller, or what an unfired d followed
	if d.rare != nil {
		d.rare.fired()
	}
}

// runLocked makes locked d running and unlocks it. Steps that are all
// inline it leaves ready for the runner, which then starts without the
// lock: the runner reads only inline entries below the count, which no
// one else writes.
func (d *Deferred[T]) runLocked(st uint32) {
	if n := d.count(); n <= int32(len(d.inline)) {
		d.ready = uint8(n)
	}
	d.unlock(st | stRunning)
}

// fire is Callback and Errback. It runs the first batch of queued steps
// with the count it read under the lock, which spares the runner a lock.
func (d *Deferred[T]) fire(v T, f *failure.Failure) error {
	st := d.lock()
	switch {
	case st&stFired != 0:
		return d.lateLocked(st)
	case st&stPaused != 0 || d.next == d.count():
		d.settleLocked(st, v, f)
		return nil
	}
	d.firedLocked(v, f)
	end, more := d.count(), d.firstBlock()
	d.unlock(st | stFired | stRunning)
	d.runFirst(end, more)
	return nil
}

// runFirst runs a first batch of d's steps, read under the lock by the
// caller that made d running, then the rest of the chain.
func (d *Deferred[T]) runFirst(end int32, more *stepBlock[T]) {
	done := false
	defer func() {
		if !done {
			drive(d) // a step called runtime.Goexit: finish the chain
		}
	}()
	h := d.runSteps(end, more)
	done = true
	if more == nil && d.restInline(end) {
		if h != nil {
			drive(h)
		}
		return
	}
	d.finish(h)
}

// claim: resting → running for one step → resting.

// claim moves a resting d to running without the lock and reports whether
// it did. The caller then owns the result and must hand d back with
// release (or finish).
func (d *Deferred[T]) claim() bool {
	st := d.st.Load()
	return st&^stCancelled == stFired && d.st.CompareAndSwap(st, st|stRunning)
}

// release hands back d, claimed for one step whose hand-off, if any, is h:
// back to rest with a compare-and-swap, or on through finish when there is
// more to do (a hand-off, steps queued meanwhile, a Failure to watch).
func (d *Deferred[T]) release(h link) {
	if h == nil && d.fail == nil && d.st.CompareAndSwap(stFired|stRunning, stFired) {
		return
	}
	d.finish(h)
}

// finish goes on with a running d after a step run outside the runner: it
// runs h (the step's hand-off) first, then what was queued on d meanwhile,
// or brings d to rest.
func (d *Deferred[T]) finish(h link) {
	if h == nil {
		if !d.restIfDone() {
			drive(d)
		}
		return
	}
	if d.restIfDone() {
		drive(h)
		return
	}
	driveFrom(h, d)
}

// runClaimed runs step s on d, claimed: add's fast path.
func (d *Deferred[T]) runClaimed(s linker[T]) {
	done := false
	defer func() {
		if !done {
			d.finish(d.aborted(s, recover()))
		}
	}()
	var h link
	if cb, ok := s.(callbackStep[T]); ok {
		if d.fail == nil { // as in runSteps
			v, err := cb(d.result)
			if err != nil {
				d.failWith(err, cb)
			} else {
				d.result = v
			}
		}
	} else {
		h = d.runStep(s)
	}
	done = true
	// The state before the result: while the step's wait holds d,
	// resumeWith may be setting the result on another goroutine.
	if h == nil && d.st.Load() == stFired|stRunning && d.fail == nil && d.st.CompareAndSwap(stFired|stRunning, stFired) {
		return
	}
	d.finish(h)
}

// queue: a step waits in the list.

// queue appends s to d's steps and returns d if the caller must now run
// the chain (d rested but could not be claimed, being watched for an
// unhandled Failure).
func (d *Deferred[T]) queue(s linker[T]) link {
	return d.queueLocked(d.lock(), s)
}

// queueLocked is queue on locked d; it unlocks d.
func (d *Deferred[T]) queueLocked(st uint32, s linker[T]) link {
	d.appendLocked(s)
	switch {
	case st&(stFired|stRunning|stPaused) == stFired:
		d.runLocked(d.unwatchLocked(st))
		return d
	case st&stRunning != 0:
		st |= stMore
	}
	d.unlock(st)
	return nil
}

// add adds step s: at once on a resting d (claim), else queued. One load
// of the state word serves the claim and the lock; an unfired d, the
// common case, takes the lock, appends and unlocks, with nothing to run.
func (d *Deferred[T]) add(s linker[T]) {
	st := d.st.Load()
	switch {
	case st&(stFired|stLocked) == 0:
		if d.st.CompareAndSwap(st, st|stLocked) {
			d.appendLocked(s)
			d.st.Store(st)
			return
		}
	case st&^stCancelled == stFired:
		if d.st.CompareAndSwap(st, st|stRunning) {
			d.runClaimed(s)
			return
		}
	}
	if l := d.queueLocked(lockSlow(&d.st), s); l != nil {
		drive(l)
	}
}

// startLocked ends a locked section that may have made d's queued steps
// runnable (Unpause, resume): it reports whether the caller must run them.
func (d *Deferred[T]) startLocked(st uint32) bool {
	if st&(stFired|stRunning|stPaused) == stFired && d.next < d.count() {
		d.runLocked(d.unwatchLocked(st))
		return true
	}
	d.unlock(st)
	return false
}

// run: the runner's loop.

// link is a Deferred of any type, as drive sees it.
type link interface {
	// runQueued runs the chain's queued steps until it rests or a step
	// hands a result to another Deferred, which it returns, with whether
	// this chain is suspended (still running, with steps left) under it.
	runQueued() (handoff link, suspended bool)
}

// drive runs l's chain and every chain a step hands a result to,
// iteratively: a chain suspended by a hand-off waits on an explicit stack
// (Twisted's _runCallbacks keeps the same list), so a hundred thousand
// Deferreds handing results down do not grow the goroutine's stack.
func drive(l link) { driveFrom(l, nil) }

// driveFrom runs l, then under, a chain that l's hand-off suspended, if
// any.
func driveFrom(l, under link) {
	var buf [4]link
	stack := buf[:0]
	if under != nil {
		stack = append(stack, under)
	}
	runStack(l, stack)
}

// runStack runs l, then the suspended chains on stack, the last first.
func runStack(l link, stack []link) {
	done := false
	defer func() {
		if !done {
			// A step called runtime.Goexit, and its Failure is l's result
			// now: finish l and the chains under it as the goroutine
			// unwinds.
			runStack(l, stack)
		}
	}()
	for l != nil {
		h, suspended := l.runQueued()
		switch {
		case h != nil:
			if suspended {
				stack = append(stack, l)
			}
			l = h
		case len(stack) > 0:
			l = stack[len(stack)-1]
			stack[len(stack)-1] = nil
			stack = stack[:len(stack)-1]
		default:
			l = nil
		}
	}
	done = true
}

func (d *Deferred[T]) runQueued() (link, bool) {
	if end := int32(d.ready); end > 0 {
		d.ready = 0
		h := d.runSteps(end, nil)
		if d.restInline(end) {
			return h, false
		}
		if h != nil {
			return h, !d.restIfDone()
		}
	}
	for {
		st := d.lock()
		if st&stPaused != 0 || d.next == d.count() {
			d.restLocked(st)
			return nil, false
		}
		d.dropRunBlocks()
		end, more := d.count(), d.firstBlock()
		d.unlock(st &^ stMore)
		// Steps queued meanwhile go beyond end, to more's array or a new
		// one: the entries up to end stay as they are.
		if h := d.runSteps(end, more); h != nil {
			return h, !d.restIfDone()
		}
	}
}

// runSteps runs steps from d.next up to end, the first blocks of which
// is more, stopping early when one hands off a Deferred, which it returns,
// or pauses the chain. A panic becomes the result's Failure and the loop in
// runQueued goes on after it; one deferred recover serves the whole batch.
func (d *Deferred[T]) runSteps(end int32, more *stepBlock[T]) (h link) {
	done := false
	var s linker[T]
	defer func() {
		if !done {
			r := recover()
			if h = d.aborted(s, r); r == nil && h != nil {
				// runtime.Goexit: this frame will not return h to the
				// loop, so run it here as the goroutine unwinds.
				drive(h)
			}
		}
	}()
	var c stepCursor[T]
	for d.next < end {
		if d.next < int32(len(d.inline)) {
			s = d.inline[d.next].ln
		} else {
			s = c.at(d.next, more)
		}
		d.next++
		if cb, ok := s.(callbackStep[T]); ok {
			// Most steps: called here, not through the interface.
			if d.fail == nil {
				v, err := cb(d.result)
				if err != nil {
					d.failWith(err, cb)
				} else {
					d.result = v
				}
			}
		} else {
			h = d.runStep(s)
		}
		if h != nil || d.st.Load()&stPaused != 0 {
			break
		}
	}
	done = true
	return h
}

// runStep runs step s on d's current result. Plain errbacks are called
// directly rather than through the interface (plain callbacks, most steps,
// are called directly by runSteps and runClaimed).
func (d *Deferred[T]) runStep(s linker[T]) link {
	if eb, ok := s.(errbackStep[T]); ok {
		eb.call(d)
		return nil
	}
	return s.run(d)
}

// panicTarget is a step that hands its result to another Deferred (Then,
// ThenDeferred): a panic (or runtime.Goexit) in the callback it runs fails
// that Deferred, as the callback's error would, not the chain the step is
// on.
type panicTarget interface {
	panicked(f *failure.Failure) link
}

// aborted deals with step s not returning: its Failure, of the panic
// whose value is r or of ErrGoexit when r is nil (runtime.Goexit; a
// panic(nil) recovers as a *runtime.PanicNilError), fails the Deferred s
// hands its result to, or else becomes d's result. It returns what is to
// run next, as the step would have.
func (d *Deferred[T]) aborted(s linker[T], r any) link {
	var f *failure.Failure
	if r == nil {
		f = failure.New(ErrGoexit)
	} else {
		f = failure.FromPanic(r)
	}
	if p, ok := s.(panicTarget); ok {
		return p.panicked(f)
	}
	var zero T
	d.result, d.fail = zero, f
	return nil
}

// rest: running → resting | paused.

// restLocked brings a locked, running d to rest: consumed steps dropped,
// an unhandled Failure watched, the runner gone.
func (d *Deferred[T]) restLocked(st uint32) {
	if n := d.count(); d.next == n && n > 0 {
		d.inline = [inlineSteps]step[T]{}
		d.n, d.more, d.next = 0, nil, 0
	}
	d.unlock(d.watchLocked(st &^ (stRunning | stMore)))
}

// restInline brings running d to rest without the lock after a batch of
// inline steps, up to end, ran to its end, if nothing came meanwhile (no
// step queued, no pause, no Failure to watch) and reports whether it did.
// The consumed slots are cleared, but the count stays: only the runner reads
// inline entries below it, while others append above it.
func (d *Deferred[T]) restInline(end int32) bool {
	// The state first: while a step's wait holds the chain, resumeWith
	// may be setting the result on another goroutine.
	if d.st.Load() != stFired|stRunning || d.next != end || d.fail != nil {
		return false
	}
	for i := range end {
		d.inline[i] = step[T]{}
	}
	return d.st.CompareAndSwap(stFired|stRunning, stFired)
}

// restIfDone brings a running d to rest if it has nothing left to run now
// (no step queued, or paused) and reports whether it did.
func (d *Deferred[T]) restIfDone() bool {
	st := d.lock()
	if st&stPaused != 0 || d.next == d.count() {
		d.restLocked(st)
		return true
	}
	d.unlock(st)
	return false
}

// steal: a fired inner Deferred gives up its result.

// takeResult takes inner's result if it has fired and rests, leaving it
// the zero value (its later steps see that, and its Failure is not
// reported twice), and reports whether it did. It is Twisted's "steal the
// result" in _runCallbacks, written once for AddCallbackDeferred,
// ThenDeferred and Inline.
func (inner *Deferred[T]) takeResult() (v T, f *failure.Failure, ok bool) {
	if inner.claim() {
		v, f = inner.take()
		inner.release(nil)
		return v, f, true
	}
	st := inner.lock()
	if st&(stFired|stRunning|stPaused) != stFired {
		inner.unlock(st)
		return v, f, false
	}
	// Resting, but watched for an unhandled Failure, which moves on now.
	st = inner.unwatchLocked(st)
	v, f = inner.take()
	inner.unlock(st)
	return v, f, true
}

// take removes the current result from d, leaving the zero value, so that
// a Failure that moved on is not reported twice. Called by d's runner.
func (d *Deferred[T]) take() (T, *failure.Failure) {
	var zero T
	v, f := d.result, d.fail
	d.result, d.fail = zero, nil
	return v, f
}

// keep sets the current result of a running chain to the Failure f.
func (d *Deferred[T]) keep(f *failure.Failure) {
	var zero T
	d.result, d.fail = zero, f
}

// wait: running → paused on an inner Deferred, and back.

// waitOn makes running d go on with inner's result: at once if inner rests
// fired; otherwise d pauses, Cancel forwarding to inner, until inner's
// chain reaches the step that resumes d. It returns inner if its chain
// must run now.
func (d *Deferred[T]) waitOn(inner *Deferred[T]) link {
	if v, f, ok := inner.takeResult(); ok {
		d.result, d.fail = v, f
		return nil
	}
	d.take()
	d.holdFor(inner)
	return inner.queue((*resume[T])(d))
}

// holdFor pauses running d until something gives it a result with
// resumeWith; Cancel on d reaches up meanwhile.
func (d *Deferred[T]) holdFor(up canceller) {
	st := d.lock()
	d.onCancel = up
	d.unlock(pauseLocked(st))
}

// resume is a Deferred waiting on an inner one, seen as the step on the
// inner's chain that gives it the inner's result.
type resume[T any] Deferred[T]

func (r *resume[T]) run(inner *Deferred[T]) link {
	v, f := inner.take()
	return (*Deferred[T])(r).resumeWith(v, f)
}

// resumeWith gives d, held by holdFor, its result and undoes the hold. It
// returns d if the caller must run its chain.
func (d *Deferred[T]) resumeWith(v T, f *failure.Failure) link {
	st := d.lock()
	// stPaused keeps the fast path out, and a runner still in its loop
	// reads the result only after it has seen the pause gone: the result
	// is ours to set.
	st = d.unwatchLocked(st)
	d.result, d.fail = v, f
	d.onCancel = nil
	st = unpauseLocked(st)
	if st&stRunning != 0 {
		d.unlock(st)
		return nil
	}
	if d.startLocked(d.watchLocked(st)) {
		return d
	}
	return nil
}

// hand off: an internal step fires another Deferred.

// keeper is a chain that keeps a result a hand-off could not deliver.
type keeper interface{ keep(*failure.Failure) }

// receive fires d with a result moved from src's chain (src may be nil
// when no chain runs) and returns d if its chain is to run next. A result
// d cannot take (it has fired already) stays in src as an ErrAlreadyCalled
// Failure, so nothing is lost silently.
func (d *Deferred[T]) receive(src keeper, v T, f *failure.Failure) link {
	run, err := d.settle(v, f)
	if err != nil {
		if src != nil {
			src.keep(failure.New(err))
		}
		return nil
	}
	if run {
		return d
	}
	return nil
}

// follow makes unfired d fire with inner's result, at once if inner rests
// fired, and returns the Deferred to run next, if any. Cancel on d reaches
// inner meanwhile.
func (d *Deferred[T]) follow(inner *Deferred[T]) link {
	if v, f, ok := inner.takeResult(); ok {
		return d.receive(inner, v, f)
	}
	st := d.lock()
	if st&stFired == 0 {
		d.onCancel = inner
	}
	d.unlock(st)
	return inner.queue((*forward[T])(d))
}

// forward is a Deferred seen as the step that fires it with the result of
// the chain it is on (Chain, and ThenDeferred's wait on its inner).
type forward[T any] Deferred[T]

func (to *forward[T]) run(from *Deferred[T]) link {
	v, f := from.take()
	return (*Deferred[T])(to).receive(from, v, f)
}
