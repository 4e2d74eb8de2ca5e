package deferred

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twistgo/twist/failure"
)

var (
	// ErrAlreadyCalled is returned by Callback and Errback on a Deferred
	// that has already fired (Twisted's AlreadyCalledError). Under
	// [SetDebug] the error returned is an [*AlreadyCalledError] that
	// matches it and says where the Deferred was made and first fired.
	ErrAlreadyCalled = errors.New("deferred: already called")

	// ErrCancelled is the Failure of a Deferred cancelled by
	// [Deferred.Cancel] (Twisted's CancelledError).
	ErrCancelled = errors.New("deferred: cancelled")

	// ErrTimeout is matched by the Failure of a Deferred whose
	// [Deferred.AddTimeout] expired (a [*TimeoutError]). It implements
	// net.Error, with Timeout() true, and matches os.ErrDeadlineExceeded
	// and context.DeadlineExceeded with errors.Is, so standard Go code
	// recognises it.
	ErrTimeout error = timeoutError{}

	// ErrGoexit is the Failure a step leaves when it calls runtime.Goexit
	// (as t.FailNow does) instead of returning: the goroutine ends, and the
	// rest of the chain runs with this Failure as it unwinds.
	ErrGoexit = errors.New("deferred: step called runtime.Goexit")

	// ErrQueueOverflow is returned by [Queue.Put] on a full queue.
	ErrQueueOverflow = errors.New("deferred: queue overflow")

	// ErrQueueUnderflow fails a [Queue.Get] made when the backlog of
	// waiting Gets is full.
	ErrQueueUnderflow = errors.New("deferred: queue underflow")
)

type timeoutError struct{}

func (timeoutError) Error() string   { return "deferred: timed out" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// Is matches the standard library's deadline errors.
func (timeoutError) Is(target error) bool {
	return target == os.ErrDeadlineExceeded || target == context.DeadlineExceeded
}

// TimeoutError is the error of a Deferred whose [Deferred.AddTimeout]
// expired (Twisted's TimeoutError). It matches [ErrTimeout],
// os.ErrDeadlineExceeded and context.DeadlineExceeded with errors.Is, and
// is a net.Error with Timeout() true.
//
// It replaces the cancellation the timeout caused, which it keeps as Cause
// and in its message; as in Twisted, it does not match ErrCancelled.
type TimeoutError struct {
	After time.Duration    // the timeout that expired
	Cause *failure.Failure // the Failure of the cancellation
}

// Error keeps Cause's message with the cancellation replaced by the
// timeout: "dial 10.0.0.1:80: deferred: timed out after 10ms" for a Cause
// of "dial 10.0.0.1:80: deferred: cancelled". A Cause that does not end
// with ErrCancelled's text follows the timeout after a colon.
func (e *TimeoutError) Error() string {
	timedOut := fmt.Sprintf("%v after %v", ErrTimeout, e.After)
	if e.Cause == nil {
		return timedOut
	}
	msg := e.Cause.Error()
	if prefix, ok := strings.CutSuffix(msg, ErrCancelled.Error()); ok {
		return prefix + timedOut
	}
	return timedOut + ": " + msg
}

// Is matches ErrTimeout and the standard library's deadline errors.
func (e *TimeoutError) Is(target error) bool {
	return target == ErrTimeout || target == os.ErrDeadlineExceeded || target == context.DeadlineExceeded
}

// Timeout reports true: a TimeoutError is a timeout (net.Error).
func (e *TimeoutError) Timeout() bool { return true }

// Temporary reports true (net.Error): trying again may succeed.
func (e *TimeoutError) Temporary() bool { return true }

// AlreadyCalledError is the error a second fire returns while [SetDebug]
// is on: it matches [ErrAlreadyCalled] with errors.Is and carries the
// stacks where the Deferred was created and where it first fired.
type AlreadyCalledError struct {
	Created string // the stack of the New call
	Fired   string // the stack of the first Callback or Errback
}

func (e *AlreadyCalledError) Error() string {
	var b strings.Builder
	b.WriteString(ErrAlreadyCalled.Error())
	b.WriteString("\ncreated at:\n")
	b.WriteString(e.Created)
	b.WriteString("first fired at:\n")
	b.WriteString(e.Fired)
	return b.String()
}

// Is reports whether target is ErrAlreadyCalled.
func (e *AlreadyCalledError) Is(target error) bool { return target == ErrAlreadyCalled }
