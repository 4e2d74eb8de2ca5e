package deferredtcp

import (
	"errors"
	"fmt"
	"net"
	"os"

	deferred "github.com/twistgo/twist/defer"
)

var (
	// ErrLineTooLong fails a [Conn.ReadUntil] whose line exceeds its limit;
	// the connection is then closed, and [Conn.Lost] fails with it.
	ErrLineTooLong = errors.New("deferredtcp: line too long")

	// ErrReadPending fails a Read, ReadFull or ReadUntil made while another
	// is pending or while an [Conn.OnData] handler is set: a connection has
	// one reader at a time.
	ErrReadPending = errors.New("deferredtcp: a read is already pending")

	// ErrClosed fails operations on a connection or listener that is closed
	// or closing (writes after Close or CloseWrite, Accept after Close). It
	// matches net.ErrClosed.
	ErrClosed = fmt.Errorf("deferredtcp: %w", net.ErrClosed)

	// ErrAborted is the reason [Conn.Lost] reports for a connection closed
	// by [Conn.Abort] (Twisted's ConnectionAborted).
	ErrAborted = errors.New("deferredtcp: connection aborted")

	// ErrWriteBufferFull fails a write that would grow the write buffer past
	// [WithMaxWriteBuffer]; the connection is then aborted, and
	// [Conn.Lost] fails with it.
	ErrWriteBufferFull = errors.New("deferredtcp: write buffer full")

	// ErrIdleTimeout is the reason [Conn.Lost] reports for a connection
	// closed by [Conn.SetIdleTimeout]. It is a net.Error whose Timeout
	// method reports true, and it matches os.ErrDeadlineExceeded and
	// deferred.ErrTimeout.
	ErrIdleTimeout error = &timeoutError{msg: "deferredtcp: idle timeout"}

	// ErrConnectTimeout is the cause inside the *net.OpError of a [Connect]
	// that took longer than [WithTimeout]. It is a net.Error whose Timeout
	// method reports true, and it matches os.ErrDeadlineExceeded and
	// deferred.ErrTimeout.
	ErrConnectTimeout error = &timeoutError{msg: "deferredtcp: connect timed out"}
)

type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

func (e *timeoutError) Is(target error) bool {
	return target == os.ErrDeadlineExceeded || target == deferred.ErrTimeout
}

var _ net.Error = (*timeoutError)(nil)
