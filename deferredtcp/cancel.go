package deferredtcp

import (
	"runtime"
)

// Cancelling from any goroutine.
//
// Deferreds are safe from any goroutine, so their cancellers run on
// whichever goroutine calls Cancel: a timer's, for
// c.Read().AddTimeout(d, deferred.SystemClock). What a canceller withdraws
// (a pending read, an Accept, a Lost subscription) belongs to the loop, so
// it is withdrawn there, by runOnLoop.

// runOnLoop runs f on l's loop goroutine: at once when called there (or
// before Run), otherwise by handing it over and waiting until it has run,
// or until the loop is gone (f is then dropped: nothing is left to
// withdraw). Waiting is what makes a canceller safe: by the time
// Deferred.Cancel goes on to fire the Deferred, the loop has either fired
// it first (Cancel then does nothing) or withdrawn it, and will not fire it
// later, so no result is lost between the two.
func (l *loop) runOnLoop(f func()) {
	if id := l.goid.Load(); id == 0 || id == goroutineID() {
		f()
		return
	}
	done := make(chan struct{})
	l.handOff(func() {
		defer close(done)
		f()
	}, func() { close(done) })
	<-done
}

// goroutineID returns the calling goroutine's ID, as the runtime prints it
// at the top of a stack trace ("goroutine 42 [running]:"). Go offers no
// other way to tell the loop goroutine from another; it costs a
// microsecond or so and is used only when a Deferred is cancelled, never on
// a hot path.
func goroutineID() uint64 {
	var buf [32]byte
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return 0
	}
	var id uint64
	for _, c := range b[len(prefix):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
