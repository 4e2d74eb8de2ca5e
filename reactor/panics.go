package reactor

import (
	"fmt"
	"log/slog"

	"github.com/twistgo/twist/failure"
)

// guard runs f, logging a panic (with the stack of the panic site) instead of
// letting it end the loop.
func guard(log *slog.Logger, where string, f func()) {
	defer func() {
		if v := recover(); v != nil {
			logPanic(log, where, v)
		}
	}()
	f()
}

// logPanic must be called from the deferred function that recovered v, so that
// the stack still holds the panic site.
func logPanic(log *slog.Logger, where string, v any) {
	f := failure.FromPanic(v)
	log.Error("reactor: panic in "+where, "panic", fmt.Sprint(v), "traceback", f.Traceback())
}
