package reactor

import (
	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
)

// BlockingCall runs f on r's loop and blocks the calling goroutine until the
// Deferred f returns has fired, then returns its value or its error (Twisted's
// blockingCallFromThread): the safe way for another goroutine to use loop-only
// APIs and get the result back. A panic in f, or an error f's Deferred fails
// with, comes back as the error (a [failure.Failure], through which errors.Is
// sees the cause); a nil Deferred counts as T's zero value.
//
// It returns [ErrBlockingOnLoop] at once when called on r's own goroutine,
// where it would wait for itself forever, and [ErrNotRunning] when r has
// stopped, or stops before the Deferred fires. Called before Run, it waits for
// Run to start and run f.
func BlockingCall[T any](r *Reactor, f func() *deferred.Deferred[T]) (T, error) {
	var zero T
	if r.onLoop() {
		return zero, ErrBlockingOnLoop
	}
	type result struct {
		v   T
		err error
	}
	res := make(chan result, 1)
	queued := r.callFromGoroutine(func() {
		d, err := callDeferredRecovering(f)
		switch {
		case err != nil:
			res <- result{err: err}
		case d == nil:
			res <- result{}
		default:
			d.AddBoth(func(v T, fl *failure.Failure) (T, error) {
				if fl != nil {
					res <- result{err: fl}
				} else {
					res <- result{v: v}
				}
				return zero, nil // handed to the caller: handled
			})
		}
	})
	if !queued {
		return zero, ErrNotRunning
	}
	select {
	case out := <-res:
		return out.v, out.err
	case <-r.ended:
		select {
		case out := <-res:
			return out.v, out.err
		default:
			return zero, ErrNotRunning
		}
	}
}

func callDeferredRecovering[T any](f func() *deferred.Deferred[T]) (d *deferred.Deferred[T], err error) {
	defer func() {
		if p := recover(); p != nil {
			err = failure.FromPanic(p)
		}
	}()
	return f(), nil
}
