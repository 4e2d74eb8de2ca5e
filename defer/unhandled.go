package deferred

import (
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/twistgo/twist/failure"
)

// A chain that rests on a Failure nobody handled is watched: a cleanup
// attached to the Deferred reports the Failure when the Deferred is
// collected (Twisted's DebugInfo.__del__). The watch costs a cleanup
// registration, so it is set only when the chain rests, never for a
// Failure an errback handles within the same run. Its argument is the
// Failure detached from whatever its error refers to (failure.Detach): a
// Failure whose error points back to the Deferred would otherwise keep the
// Deferred alive forever and never be reported.

// watchLocked watches d's current Failure, if it has an unhandled one, and
// returns st with stArmed set if it does; d is locked and not running.
func (d *Deferred[T]) watchLocked(st uint32) uint32 {
	if d.fail == nil || st&stArmed != 0 {
		return st
	}
	if d.rare == nil {
		d.rare = &rare{}
	} else if d.rare.seen == d.fail {
		return st
	}
	d.rare.cleanup = runtime.AddCleanup(d, reportUnhandled, d.fail.Detach())
	return st | stArmed
}

// unwatchLocked stops watching d's Failure, which a runner is about to
// take over, and returns st without stArmed; d is locked.
func (d *Deferred[T]) unwatchLocked(st uint32) uint32 {
	if st&stArmed == 0 {
		return st
	}
	d.rare.cleanup.Stop()
	return st &^ stArmed
}

// markSeen records that Wait returned f, d's current Failure: handled.
// Called by d's runner.
func (d *Deferred[T]) markSeen(f *failure.Failure) {
	st := d.lock()
	if d.rare == nil {
		d.rare = &rare{}
	}
	d.rare.seen = f
	d.unlock(st)
}

var unhandledHandler atomic.Pointer[func(*failure.Failure)]

func init() {
	SetUnhandledHandler(nil)
}

// SetUnhandledHandler sets the function that receives the Failure of every
// Deferred that is garbage collected while its chain ends on an unhandled
// Failure (Twisted's "Unhandled error in Deferred"), and returns the
// previous one. A nil h restores the default, which logs the Failure with
// log/slog at error level: as Twisted's multi-line report with its
// traceback while slog has its own default handler (text on the
// terminal), and as a group of its message, type and traceback (see
// [failure.Failure.LogValue]) through a handler the program set, such as
// a JSON one. h runs on a runtime goroutine, may run
// concurrently with itself, and must not block. SetUnhandledHandler is
// safe for concurrent use.
//
// The Failure h receives is the chain's, unless its error refers to other
// objects (which might lead back to the Deferred and keep it from being
// collected): h then receives a copy with the same message and traceback
// that errors.Is matches only against the parts of the error that refer to
// nothing (see [failure.Failure.Detach]).
func SetUnhandledHandler(h func(*failure.Failure)) (previous func(*failure.Failure)) {
	if h == nil {
		h = logUnhandled
	}
	if old := unhandledHandler.Swap(&h); old != nil {
		return *old
	}
	return nil
}

// stdHandler is slog's own default handler, as the program starts. Until
// the program sets another, slog writes through the log package, usually to
// a terminal, which shows a message's newlines as they are (and escapes
// them in attributes).
var stdHandler = slog.Default().Handler()

// logUnhandled is the default unhandled-failure handler: Twisted's
// multi-line "Unhandled error in Deferred:" report with its traceback
// through slog's own default handler (a terminal), and a structured
// "failure" attribute (a group of message, type and traceback lines)
// through any handler the program set, such as a JSON one.
func logUnhandled(f *failure.Failure) {
	if slog.Default().Handler() == stdHandler {
		slog.Error("Unhandled error in Deferred:\n" + strings.TrimSuffix(f.Traceback(), "\n"))
		return
	}
	slog.Error("Unhandled error in Deferred", "failure", f)
}

// reportUnhandled hands f to the handler; a panicking handler is logged and
// otherwise ignored, since it runs outside any chain.
func reportUnhandled(f *failure.Failure) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("deferred: unhandled-failure handler panicked", "panic", r, "error", f.Error())
		}
	}()
	(*unhandledHandler.Load())(f)
}
