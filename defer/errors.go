package deferred

import (
	"errors"
	"strings"
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

	// ErrTimeout is the Failure of a Deferred whose [Deferred.AddTimeout]
	// expired. It implements net.Error, with Timeout() true, so standard
	// Go code recognises it.
	ErrTimeout error = timeoutError{}

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
