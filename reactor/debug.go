package reactor

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	deferred "github.com/twistgo/twist/defer"
)

// DebugEnv is the environment variable that turns [WithDebug] on for every
// reactor the program makes, unless WithDebug says otherwise: set it to 1 (or
// any value but 0) to run a test suite with the goroutine checks on, as
// twist's CI does.
const DebugEnv = "TWIST_DEBUG"

var debugFromEnv = sync.OnceValue(func() bool {
	v := os.Getenv(DebugEnv)
	return v != "" && v != "0"
})

// WithDebug turns the reactor's goroutine checks on or off. With them on,
// every loop-only call (Schedule, CallLater, DeferToGoroutine, the triggers,
// the FD methods, a DelayedCall's methods, and those of the packages built on
// the reactor, such as deferredtcp's Listen, Connect and every Conn and
// Listener method) made from another goroutine while the reactor runs panics,
// naming the call and the rule, and [deferred.Deferred.Wait] on the loop's
// goroutine for a Deferred that has not fired fails at once with
// [ErrBlockingOnLoop] instead of hanging. Each check costs a nanosecond or
// two on amd64 and arm64 (elsewhere a microsecond: the goroutine's id is
// read from its stack), so a whole test suite can run with it. The default
// is off, or on when the environment variable [DebugEnv] (TWIST_DEBUG) is set
// to 1.
//
// Without it, a loop-only call made from another goroutine while the loop is
// blocked waiting for events (where the call would hang or corrupt the loop's
// state unnoticed) panics too, at the cost of one atomic load.
func WithDebug(on bool) Option {
	return optionFunc(func(c *config) { c.debug = on })
}

// ErrBlockingOnLoop is the error of [BlockingCall] made on the loop's own
// goroutine, and, under [WithDebug], of [deferred.Deferred.Wait] called there
// for a Deferred that has not fired: the loop would wait for itself forever.
var ErrBlockingOnLoop = errors.New("reactor: blocking call on the reactor's own goroutine would never return")

// loopRule is the rule a loop-only call from another goroutine breaks.
const loopRule = "loop-only calls are made on the reactor's goroutine (from a callback), " +
	"or before Run by the goroutine that will call Run; other goroutines hand work over " +
	"with Reactor.CallFromGoroutine or reactor.BlockingCall"

// CheckLoop panics when the calling goroutine may not make the loop-only call
// named call, such as "Conn.Write": with [WithDebug], whenever it is not the
// loop's goroutine while the reactor runs; without, when the loop is blocked
// waiting for events, so the caller is plainly another goroutine. Before Run
// and after it returned, it never panics. Packages built on the reactor call
// it at the top of their loop-only functions. Safe from any goroutine.
func (r *Reactor) CheckLoop(call string) {
	if r.debug || r.parked.Load() {
		r.checkLoop(call) // kept out of line: CheckLoop inlines to a load and a test
	}
}

func (r *Reactor) checkLoop(call string) {
	if !r.debug {
		panic(fmt.Sprintf("reactor: %s called from another goroutine while the loop waits for events: %s (set %s=1 or WithDebug(true) to check every call)",
			call, loopRule, DebugEnv))
	}
	switch r.state.Load() {
	case stateIdle, stateStopped:
		return
	}
	loop := r.loopG.Load()
	if loop == 0 || getg() == loop || r.lent.Load() > 0 {
		// Run is starting or ending; or the caller is the loop, or an
		// Inline body the loop resumed (a coroutine: another goroutine,
		// running while the loop's waits for it).
		return
	}
	panic(fmt.Sprintf("reactor: %s called from goroutine %d, not the loop's goroutine %d: %s",
		call, goid(), r.loopGID.Load(), loopRule))
}

// onLoop reports whether the calling goroutine runs r's loop.
func (r *Reactor) onLoop() bool {
	loop := r.loopG.Load()
	return loop != 0 && getg() == loop
}

// enterLoop and leaveLoop bracket Run on its goroutine.
func (r *Reactor) enterLoop() {
	g := getg()
	r.loopG.Store(g)
	if r.debug {
		r.loopGID.Store(goid())
		debugLoops.Store(g, r)
		debugLoopCount.Add(1)
		installHooks.Do(func() {
			deferred.SetBlockingCheck(waitOnLoop)
			deferred.SetResumeHook(lendLoop)
		})
	}
}

func (r *Reactor) leaveLoop() {
	g := r.loopG.Swap(0)
	if r.debug {
		r.loopGID.Store(0)
		debugLoops.Delete(g)
		debugLoopCount.Add(-1)
	}
}

// The loops of the running reactors with WithDebug, by goroutine (getg),
// for the hooks.
var (
	debugLoops     sync.Map // uintptr -> *Reactor
	debugLoopCount atomic.Int32
	installHooks   sync.Once
)

// debugLoopOf returns the debug reactor whose loop runs on the calling
// goroutine, if any.
func debugLoopOf() *Reactor {
	if debugLoopCount.Load() == 0 {
		return nil
	}
	if v, ok := debugLoops.Load(getg()); ok {
		return v.(*Reactor)
	}
	return nil
}

// waitOnLoop is the check deferred.Wait makes before it blocks.
func waitOnLoop() error {
	if debugLoopOf() != nil {
		return ErrBlockingOnLoop
	}
	return nil
}

// lendLoop is deferred's resume hook: an Inline body resumed by a loop runs
// on a goroutine of its own while the loop's waits, and its calls count as
// the loop's until it suspends. (Calls from other goroutines while it runs
// then go unnoticed: the check errs on the side of silence.)
func lendLoop() (suspended func()) {
	r := debugLoopOf()
	if r == nil {
		return nil
	}
	r.lent.Add(1)
	return func() { r.lent.Add(-1) }
}

// goid returns the calling goroutine's id, read from the first line of its
// stack ("goroutine 42 [running]:"). It costs about a microsecond.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) < len(prefix) {
		return 0
	}
	b = b[len(prefix):]
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	id, _ := strconv.ParseUint(string(b[:n]), 10, 64)
	return id
}
