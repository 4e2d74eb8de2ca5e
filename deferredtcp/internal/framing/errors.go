package framing

import (
	"errors"
	"fmt"
)

var (
	// ErrNetstringParse is matched by every netstring format error
	// (Twisted's NetstringParseError).
	ErrNetstringParse = errors.New("deferredtcp: netstring parse error")

	// ErrNetstringLength: the netstring does not start with a valid length
	// (a non-digit, a leading zero, or digits not followed by a colon).
	ErrNetstringLength error = &netstringError{"the received netstring does not start with a length specification"}

	// ErrNetstringTooLong: the netstring's length is over the maximum.
	ErrNetstringTooLong error = &netstringError{"the received netstring is longer than the maximum"}

	// ErrNetstringComma: the netstring's payload is not followed by a comma.
	ErrNetstringComma error = &netstringError{"the received netstring is not terminated by a comma"}

	// ErrLengthLimitExceeded is matched by a [*LengthLimitError].
	ErrLengthLimitExceeded = errors.New("deferredtcp: length prefix exceeds the limit")

	// ErrStringTooLong: a string is too long for its length prefix
	// (Twisted's StringTooLongError).
	ErrStringTooLong = errors.New("deferredtcp: string too long for its length prefix")
)

type netstringError struct{ msg string }

func (e *netstringError) Error() string        { return "deferredtcp: " + e.msg }
func (e *netstringError) Is(target error) bool { return target == ErrNetstringParse }

// LengthLimitError reports a length prefix over the limit.
type LengthLimitError struct {
	Length    uint64 // the length the prefix announced
	MaxLength int    // the limit it broke
}

func (e *LengthLimitError) Error() string {
	return fmt.Sprintf("deferredtcp: length prefix %d exceeds the limit of %d", e.Length, e.MaxLength)
}

// Is reports whether target is ErrLengthLimitExceeded.
func (e *LengthLimitError) Is(target error) bool { return target == ErrLengthLimitExceeded }

// tooLong wraps ErrNetstringTooLong with the limit that was broken.
func tooLong(max int) error {
	return fmt.Errorf("%w %d", ErrNetstringTooLong, max)
}
