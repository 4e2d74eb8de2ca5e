package deferredtcp

import (
	"strconv"

	"github.com/twistgo/twist/deferredtcp/internal/framing"
)

var (
	// ErrNetstringParse is matched by every netstring format error
	// (Twisted's NetstringParseError): [ErrNetstringLength],
	// [ErrNetstringTooLong] and [ErrNetstringComma].
	ErrNetstringParse = framing.ErrNetstringParse

	// ErrNetstringLength: the data does not start with a valid length (a
	// non-digit, a leading zero, or digits not followed by a colon).
	ErrNetstringLength = framing.ErrNetstringLength

	// ErrNetstringTooLong: the netstring's length is over MaxLength (the
	// error's text gives the limit).
	ErrNetstringTooLong = framing.ErrNetstringTooLong

	// ErrNetstringComma: the netstring's data is not followed by a comma.
	ErrNetstringComma = framing.ErrNetstringComma
)

// NetstringReceiver is a [Protocol] for netstrings, "<length>:<data>,"
// (Twisted's basic.NetstringReceiver). Embed it in a type with a
// StringReceived(s []byte) method (found through [MakeConnection]; s is
// valid only during the call). Input that is not a netstring of at most
// MaxLength bytes — a non-digit, a leading zero, a missing comma, an
// oversize length — closes the connection with an error matching
// [ErrNetstringParse] as the reason, and sets BrokenPeer. Strings are
// delivered whatever the chunks the bytes come in.
type NetstringReceiver struct {
	BaseProtocol
	// MaxLength is the longest netstring accepted; 0 means
	// DefaultStringMaxLength (99999).
	MaxLength int
	// BrokenPeer is set once the peer has sent something that is not a
	// netstring.
	BrokenPeer bool

	dec  framing.Netstring
	recv dispatcher
	hdr  [24]byte
}

// DataReceived calls StringReceived for each complete netstring. Called
// from within StringReceived, it only buffers data.
func (r *NetstringReceiver) DataReceived(data []byte) {
	r.recv.dataReceived(r.Transport, r, data)
}

func (r *NetstringReceiver) decoder() framing.Decoder { return &r.dec }

func (r *NetstringReceiver) takeUnhandled() []byte { return r.dec.Take() }

// deliver hands the next netstring to the protocol.
func (r *NetstringReceiver) deliver() bool {
	if r.BrokenPeer {
		return false
	}
	r.dec.MaxLength = r.MaxLength
	if r.dec.MaxLength <= 0 {
		r.dec.MaxLength = DefaultStringMaxLength
	}
	s, ok, err := r.dec.Next()
	if err != nil {
		r.BrokenPeer = true
		LoseConnectionWithError(r.Transport, err)
		return false
	}
	if !ok {
		return false
	}
	h, ok := r.self.(stringHandler)
	if !ok {
		panic("deferredtcp: NetstringReceiver needs a StringReceived method on the protocol given to MakeConnection")
	}
	h.StringReceived(s)
	return true
}

// PauseProducing stops delivering netstrings, and pauses the transport.
func (r *NetstringReceiver) PauseProducing() { r.recv.pause(r.Transport) }

// ResumeProducing delivers the buffered netstrings and resumes the
// transport.
func (r *NetstringReceiver) ResumeProducing() { r.recv.resume(r.Transport, r) }

// StopProducing stops delivering netstrings and stops the transport.
func (r *NetstringReceiver) StopProducing() { r.recv.stop(r.Transport) }

// SendString writes s as a netstring.
func (r *NetstringReceiver) SendString(s []byte) {
	h := strconv.AppendInt(r.hdr[:0], int64(len(s)), 10)
	h = append(h, ':')
	r.Transport.WriteSequence([][]byte{h, s, comma})
}

var comma = []byte{','}
