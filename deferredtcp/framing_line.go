package deferredtcp

import (
	"bytes"

	"github.com/twistgo/twist/deferredtcp/internal/framing"
)

// Twisted's defaults for the framing receivers.
const (
	// DefaultLineMaxLength is LineReceiver's MAX_LENGTH.
	DefaultLineMaxLength = 16384
	// DefaultStringMaxLength is the MAX_LENGTH of the length-prefixed and
	// netstring receivers.
	DefaultStringMaxLength = 99999
)

// DefaultDelimiter is LineReceiver's default delimiter.
var DefaultDelimiter = []byte("\r\n")

// LineReceiver is a [Protocol] that splits what it receives into lines
// (Twisted's basic.LineReceiver). Embed it in a type with a LineReceived
// method:
//
//	type Chat struct{ deferredtcp.LineReceiver }
//
//	func (c *Chat) LineReceived(line []byte) { c.SendLine(append([]byte("you said: "), line...)) }
//
// The embedding type may also define RawDataReceived(data []byte), for raw
// mode, and LineLengthExceeded(line []byte), to replace the default (which
// closes the connection with [ErrLineTooLong] as the reason). The methods
// are found through the protocol passed to [MakeConnection], which the
// adapter calls; a LineReceiver driven without it panics. line and data are
// valid only during the call.
//
// Lines are delivered whatever the chunks the bytes come in. A line longer
// than MaxLength, or MaxLength plus the delimiter's length of bytes without
// a delimiter, calls LineLengthExceeded with the rest of the buffer; so the
// buffer stays bounded. Nothing more is delivered once the transport is
// disconnecting (when it is a [DisconnectingTransport], as the adapter's
// and deferredtcptest's are).
//
// Its methods run on the loop goroutine, as the rest of the protocol.
type LineReceiver struct {
	BaseProtocol
	// Delimiter ends each line; nil means DefaultDelimiter ("\r\n").
	Delimiter []byte
	// MaxLength is the longest line accepted; 0 means
	// DefaultLineMaxLength (16384).
	MaxLength int

	dec     framing.Lines
	recv    dispatcher
	rawMode bool
}

type lineHandler interface{ LineReceived(line []byte) }
type rawDataHandler interface{ RawDataReceived(data []byte) }
type lineLengthHandler interface{ LineLengthExceeded(line []byte) }

func (r *LineReceiver) configure() {
	r.dec.Delimiter = r.Delimiter
	if len(r.dec.Delimiter) == 0 {
		r.dec.Delimiter = DefaultDelimiter
	}
	r.dec.MaxLength = r.MaxLength
	if r.dec.MaxLength <= 0 {
		r.dec.MaxLength = DefaultLineMaxLength
	}
}

// DataReceived splits data into lines and calls LineReceived (or
// RawDataReceived in raw mode) for each. Called from within one of those,
// it only buffers data, which the running call goes on with.
func (r *LineReceiver) DataReceived(data []byte) {
	r.recv.dataReceived(r.Transport, r, data)
}

func (r *LineReceiver) decoder() framing.Decoder { return &r.dec }

func (r *LineReceiver) takeUnhandled() []byte { return r.dec.Take() }

// deliver hands the next line, or in raw mode every buffered byte, to the
// protocol.
func (r *LineReceiver) deliver() bool {
	self := r.self
	if r.rawMode {
		data := r.dec.Take()
		if len(data) == 0 {
			return false
		}
		h, ok := self.(rawDataHandler)
		if !ok {
			panic("deferredtcp: LineReceiver in raw mode needs a RawDataReceived method")
		}
		h.RawDataReceived(data)
		return true
	}
	r.configure()
	ev, line := r.dec.Next()
	switch ev {
	case framing.NeedMore:
		return false
	case framing.TooLong:
		if h, ok := self.(lineLengthHandler); ok {
			h.LineLengthExceeded(line)
		} else {
			r.LineLengthExceeded(line)
		}
		return false
	}
	h, ok := self.(lineHandler)
	if !ok {
		panic("deferredtcp: LineReceiver needs a LineReceived method on the protocol given to MakeConnection")
	}
	h.LineReceived(line)
	return true
}

// LineLengthExceeded is the default for a line over MaxLength: it closes
// the connection, with [ErrLineTooLong] as the reason ConnectionLost gets
// when the transport supports it (see [LoseConnectionWithError]).
func (r *LineReceiver) LineLengthExceeded([]byte) {
	LoseConnectionWithError(r.Transport, ErrLineTooLong)
}

// SendLine writes line followed by the delimiter.
func (r *LineReceiver) SendLine(line []byte) {
	d := r.Delimiter
	if len(d) == 0 {
		d = DefaultDelimiter
	}
	r.Transport.WriteSequence([][]byte{line, d})
}

// SetRawMode makes the bytes that follow go to RawDataReceived, unsplit,
// including those already buffered.
func (r *LineReceiver) SetRawMode() { r.rawMode = true }

// SetLineMode makes the bytes that follow go to LineReceived again; extra
// (bytes a RawDataReceived did not consume) is parsed for lines first. Do
// not pass extra from within LineReceived.
func (r *LineReceiver) SetLineMode(extra []byte) {
	r.rawMode = false
	if len(extra) > 0 {
		r.DataReceived(extra)
	}
}

// ClearLineBuffer empties the buffer and returns what it held.
func (r *LineReceiver) ClearLineBuffer() []byte { return bytes.Clone(r.dec.Take()) }

// PauseProducing stops delivering lines, and pauses the transport
// (Twisted's _PauseableMixin).
func (r *LineReceiver) PauseProducing() { r.recv.pause(r.Transport) }

// ResumeProducing delivers the buffered lines and resumes the transport.
func (r *LineReceiver) ResumeProducing() { r.recv.resume(r.Transport, r) }

// StopProducing stops delivering lines and stops the transport.
func (r *LineReceiver) StopProducing() { r.recv.stop(r.Transport) }
