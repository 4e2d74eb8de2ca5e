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
// [ErrBlockingOnLoop] instead of hanging. Each check costs about a
// microsecond (it reads the goroutine's id from its stack), so it is meant for
// tests and debugging. The default is off, or on when the environment variable
// [DebugEnv] (TWIST_DEBUG) is set to 1.
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
	loop := r.loopGID.Load()
	if loop == 0 {
		return // Run is starting or ending
	}
	if g := goid(); g != loop {
		panic(fmt.Sprintf("reactor: %s called from goroutine %d, not the loop's goroutine %d: %s",
			call, g, loop, loopRule))
	}
}

// onLoop reports whether the calling goroutine runs r's loop.
func (r *Reactor) onLoop() bool {
	loop := r.loopGID.Load()
	return loop != 0 && goid() == loop
}

// enterLoop and leaveLoop bracket Run on its goroutine.
func (r *Reactor) enterLoop() {
	g := goid()
	r.loopGID.Store(g)
	if r.debug {
		debugLoops.Store(g, r)
		debugLoopCount.Add(1)
		installWaitCheck.Do(func() { deferred.SetBlockingCheck(waitOnLoop) })
	}
}

func (r *Reactor) leaveLoop() {
	g := r.loopGID.Swap(0)
	if r.debug {
		debugLoops.Delete(g)
		debugLoopCount.Add(-1)
	}
}

// The loops of the running reactors with WithDebug, by goroutine id, for
// waitOnLoop.
var (
	debugLoops       sync.Map // uint64 -> *Reactor
	debugLoopCount   atomic.Int32
	installWaitCheck sync.Once
)

// waitOnLoop is the check deferred.Wait makes before it blocks.
func waitOnLoop() error {
	if debugLoopCount.Load() == 0 {
		return nil
	}
	if _, ok := debugLoops.Load(goid()); ok {
		return ErrBlockingOnLoop
	}
	return nil
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
