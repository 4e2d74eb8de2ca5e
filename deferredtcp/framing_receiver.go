package deferredtcp

import "github.com/twistgo/twist/deferredtcp/internal/framing"

// frameHandler is a framing receiver as its dispatch loop sees it: a
// decoder, and the handling of the decoder's next frame.
type frameHandler interface {
	decoder() framing.Decoder
	// deliver hands the next complete frame to the protocol; it reports
	// false when there is none, or when the receiver is to stop on this
	// input (a limit broken, a format error).
	deliver() bool
}

// dispatcher is the dispatch loop under every framing receiver
// ([LineReceiver], [IntNStringReceiver], [NetstringReceiver]), and their
// flow control: written once, so that a fix lands in all three.
type dispatcher struct {
	busy   bool // a frame is being handled: DataReceived only buffers
	paused bool // PauseProducing was called
}

// dataReceived feeds data to h's decoder and delivers frames until none
// is complete, the receiver is paused, or the transport is closing. Called
// from within a delivery (a handler that feeds the protocol more bytes), it
// only buffers them, leaving the frame being handled intact; the running
// loop goes on with them.
func (d *dispatcher) dataReceived(t Transport, h frameHandler, data []byte) {
	if d.busy {
		h.decoder().Append(data)
		return
	}
	d.busy = true
	defer func() { d.busy = false }()
	h.decoder().Feed(data)
	for !d.paused && !disconnecting(t) && h.deliver() {
	}
}

// pause stops delivering frames and pauses the transport, when it is a
// [PushProducer] (Twisted's _PauseableMixin).
func (d *dispatcher) pause(t Transport) {
	d.paused = true
	if p, ok := t.(PushProducer); ok {
		p.PauseProducing()
	}
}

// resume delivers the buffered frames and resumes the transport.
func (d *dispatcher) resume(t Transport, h frameHandler) {
	d.paused = false
	if p, ok := t.(PushProducer); ok {
		p.ResumeProducing()
	}
	d.dataReceived(t, h, nil)
}

// stop stops delivering frames and stops the transport (which closes
// it).
func (d *dispatcher) stop(t Transport) {
	d.paused = true
	if p, ok := t.(PushProducer); ok {
		p.StopProducing()
		return
	}
	t.LoseConnection()
}

// LoseConnectionWithError closes t as LoseConnection does, making err the
// reason its protocol's ConnectionLost gets when t is a
// [DisconnectingTransport] (the adapter's transports and deferredtcptest's
// are); other transports just LoseConnection.
func LoseConnectionWithError(t Transport, err error) {
	if t == nil {
		return
	}
	if l, ok := t.(DisconnectingTransport); ok {
		l.LoseConnectionWithError(err)
		return
	}
	t.LoseConnection()
}

// disconnecting reports whether t says it is closing.
func disconnecting(t Transport) bool {
	d, ok := t.(DisconnectingTransport)
	return ok && d.Disconnecting()
}

// unhandledHolder is a protocol that keeps bytes it was given and has not
// handled yet: the framing receivers, whose decoders hold what follows the
// frame being handled. [TLSTransport.StartTLS] takes those bytes back, as
// the first bytes of the TLS stream, rather than leaving them to be read
// as if TLS had protected them.
type unhandledHolder interface {
	takeUnhandled() []byte
}
