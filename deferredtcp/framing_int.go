package deferredtcp

import (
	"fmt"

	"github.com/twistgo/twist/deferredtcp/internal/framing"
)

var (
	// ErrLengthLimitExceeded is matched by the [*LengthLimitError] of a
	// length prefix over the receiver's MaxLength.
	ErrLengthLimitExceeded = framing.ErrLengthLimitExceeded

	// ErrStringTooLong is returned when sending a string too long for its
	// length prefix (Twisted's StringTooLongError): 256 bytes or more with
	// an 8-bit prefix, 65536 with 16, 2³² with 32.
	ErrStringTooLong = framing.ErrStringTooLong
)

// LengthLimitError reports a length prefix over the limit; it matches
// [ErrLengthLimitExceeded].
type LengthLimitError = framing.LengthLimitError

type stringHandler interface{ StringReceived(s []byte) }
type lengthLimitHandler interface{ LengthLimitExceeded(length int) }

// IntNStringReceiver is a [Protocol] for strings with a big-endian length
// prefix of PrefixLength bytes (Twisted's basic.IntNStringReceiver). Embed
// [Int32StringReceiver], [Int16StringReceiver] or [Int8StringReceiver] in a
// type with a StringReceived(s []byte) method; it may also define
// LengthLimitExceeded(length int) to replace the default, which closes the
// connection with a [*LengthLimitError] as the reason. As for
// [LineReceiver], the methods are found through [MakeConnection], and s is
// valid only during the call. Strings are delivered whatever the chunks
// the bytes come in; the buffer is bounded by MaxLength plus one chunk.
type IntNStringReceiver struct {
	BaseProtocol
	// PrefixLength is the prefix's size in bytes: 1, 2 or 4 (set by the
	// IntN types; 0 means 4).
	PrefixLength int
	// MaxLength is the longest string accepted; 0 means
	// DefaultStringMaxLength (99999).
	MaxLength int

	dec  framing.IntN
	recv dispatcher
}

func (r *IntNStringReceiver) prefix() int {
	switch r.PrefixLength {
	case 1, 2:
		return r.PrefixLength
	}
	return 4
}

// DataReceived calls StringReceived for each complete string. Called from
// within StringReceived, it only buffers data.
func (r *IntNStringReceiver) DataReceived(data []byte) {
	r.recv.dataReceived(r.Transport, r, data)
}

func (r *IntNStringReceiver) decoder() framing.Decoder { return &r.dec }

func (r *IntNStringReceiver) takeUnhandled() []byte { return r.dec.Take() }

// deliver hands the next string to the protocol.
func (r *IntNStringReceiver) deliver() bool {
	self := r.self
	r.dec.Size = r.prefix()
	r.dec.MaxLength = r.MaxLength
	if r.dec.MaxLength <= 0 {
		r.dec.MaxLength = DefaultStringMaxLength
	}
	s, ok, err := r.dec.Next()
	if err != nil {
		n := int(err.(*LengthLimitError).Length)
		if h, ok := self.(lengthLimitHandler); ok {
			h.LengthLimitExceeded(n)
		} else {
			r.LengthLimitExceeded(n)
		}
		return false
	}
	if !ok {
		return false
	}
	h, ok := self.(stringHandler)
	if !ok {
		panic("deferredtcp: string receiver needs a StringReceived method on the protocol given to MakeConnection")
	}
	h.StringReceived(s)
	return true
}

// LengthLimitExceeded is the default for a prefix over MaxLength: it
// closes the connection, with a [*LengthLimitError] as the reason.
func (r *IntNStringReceiver) LengthLimitExceeded(length int) {
	LoseConnectionWithError(r.Transport, &LengthLimitError{Length: uint64(length), MaxLength: r.dec.MaxLength})
}

// SendString writes s with its length prefix; it returns
// [ErrStringTooLong], writing nothing, when len(s) does not fit the prefix.
func (r *IntNStringReceiver) SendString(s []byte) error {
	size := r.prefix()
	if err := checkPrefixed(size, len(s)); err != nil {
		return err
	}
	var hdr [4]byte
	r.Transport.WriteSequence([][]byte{putPrefix(hdr[:0], size, len(s)), s})
	return nil
}

// checkPrefixed returns ErrStringTooLong, with the sizes, when n bytes do
// not fit a prefix of size bytes.
func checkPrefixed(size, n int) error {
	if limit := uint64(1) << (8 * size); uint64(n) >= limit {
		return fmt.Errorf("%w: %d bytes, the %d-byte prefix holds less than %d", ErrStringTooLong, n, size, limit)
	}
	return nil
}

// PauseProducing stops delivering strings, and pauses the transport.
func (r *IntNStringReceiver) PauseProducing() { r.recv.pause(r.Transport) }

// ResumeProducing delivers the buffered strings and resumes the transport.
func (r *IntNStringReceiver) ResumeProducing() { r.recv.resume(r.Transport, r) }

// StopProducing stops delivering strings and stops the transport.
func (r *IntNStringReceiver) StopProducing() { r.recv.stop(r.Transport) }

func putPrefix(dst []byte, size, n int) []byte {
	switch size {
	case 1:
		return append(dst, byte(n))
	case 2:
		return append(dst, byte(n>>8), byte(n))
	}
	return append(dst, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// Int32StringReceiver is an [IntNStringReceiver] with a 4-byte prefix
// (Twisted's Int32StringReceiver).
type Int32StringReceiver struct{ IntNStringReceiver }

// DataReceived implements [Protocol].
func (r *Int32StringReceiver) DataReceived(data []byte) {
	r.PrefixLength = 4
	r.IntNStringReceiver.DataReceived(data)
}

// SendString writes s with a 4-byte length prefix.
func (r *Int32StringReceiver) SendString(s []byte) error {
	r.PrefixLength = 4
	return r.IntNStringReceiver.SendString(s)
}

// Int16StringReceiver is an [IntNStringReceiver] with a 2-byte prefix
// (Twisted's Int16StringReceiver).
type Int16StringReceiver struct{ IntNStringReceiver }

// DataReceived implements [Protocol].
func (r *Int16StringReceiver) DataReceived(data []byte) {
	r.PrefixLength = 2
	r.IntNStringReceiver.DataReceived(data)
}

// SendString writes s with a 2-byte length prefix.
func (r *Int16StringReceiver) SendString(s []byte) error {
	r.PrefixLength = 2
	return r.IntNStringReceiver.SendString(s)
}

// Int8StringReceiver is an [IntNStringReceiver] with a 1-byte prefix
// (Twisted's Int8StringReceiver).
type Int8StringReceiver struct{ IntNStringReceiver }

// DataReceived implements [Protocol].
func (r *Int8StringReceiver) DataReceived(data []byte) {
	r.PrefixLength = 1
	r.IntNStringReceiver.DataReceived(data)
}

// SendString writes s with a 1-byte length prefix.
func (r *Int8StringReceiver) SendString(s []byte) error {
	r.PrefixLength = 1
	return r.IntNStringReceiver.SendString(s)
}
