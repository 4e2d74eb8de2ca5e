package deferred

import (
	"log/slog"
	"sync/atomic"

	"github.com/twistgo/twist/failure"
)

var unhandledHandler atomic.Pointer[func(*failure.Failure)]

func init() {
	SetUnhandledHandler(nil)
}

// SetUnhandledHandler sets the function that receives the Failure of every
// Deferred that is garbage collected while its chain ends on an unhandled
// Failure (Twisted's "Unhandled error in Deferred"), and returns the
// previous one. A nil h restores the default, which logs the Failure and its
// traceback with log/slog at error level. h runs on a runtime goroutine, may
// run concurrently with itself, and must not block. SetUnhandledHandler is
// safe for concurrent use.
func SetUnhandledHandler(h func(*failure.Failure)) (previous func(*failure.Failure)) {
	if h == nil {
		h = logUnhandled
	}
	if old := unhandledHandler.Swap(&h); old != nil {
		return *old
	}
	return nil
}

func logUnhandled(f *failure.Failure) {
	slog.Error("Unhandled error in Deferred", "error", f.Error(), "traceback", f.Traceback())
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
