package reactor

import (
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

// runAll runs the functions next returns, in turn, until it returns none. A
// panic in one is logged as guard logs it, and the rest still run; one
// deferred recover covers them all for as long as none panics.
func runAll(log *slog.Logger, where string, next func() (func(), bool)) {
	for !runUntilPanic(log, where, next) {
	}
}

// runEach runs fs in turn, as runAll does.
func runEach(log *slog.Logger, where string, fs []func()) {
	i := 0
	runAll(log, where, func() (func(), bool) {
		if i == len(fs) {
			return nil, false
		}
		i++
		return fs[i-1], true
	})
}

// runUntilPanic is runAll until a function panics; it reports whether it ran
// them all.
func runUntilPanic(log *slog.Logger, where string, next func() (func(), bool)) (done bool) {
	defer func() {
		if v := recover(); v != nil {
			logPanic(log, where, v)
		}
	}()
	for {
		f, ok := next()
		if !ok {
			return true
		}
		f()
	}
}

// logPanic must be called from the deferred function that recovered v, so that
// the stack still holds the panic site.
func logPanic(log *slog.Logger, where string, v any) {
	f := failure.FromPanic(v)
	log.Error("reactor: panic in "+where, "failure", f)
}

// guardValue is guard for a function with a result: the zero value when it
// panics.
func guardValue[T any](log *slog.Logger, where string, f func() T) (v T) {
	defer func() {
		if p := recover(); p != nil {
			logPanic(log, where, p)
		}
	}()
	return f()
}
