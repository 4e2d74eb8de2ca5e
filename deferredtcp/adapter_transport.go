package deferredtcp

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/twistgo/twist/failure"
)

// serveProtocol serves p over c; handshakeTimeout is the deadline of a
// StartTLS (see WithHandshakeTimeout).
func serveProtocol(c *Conn, p Protocol, onLost func(*failure.Failure), server bool, handshakeTimeout time.Duration) *connTransport {
	t := &connTransport{p: p, onLost: onLost, server: server, handshakeTimeout: handshakeTimeout}
	t.dataFn = t.dataReceived
	t.c = c
	t.guard("ConnectionMade", func() { MakeConnection(p, t) })
	t.attach(c)
	return t
}

// connTransport is the Transport of a protocol served over a Conn.
type connTransport struct {
	c      *Conn
	p      Protocol
	onLost func(*failure.Failure)
	dataFn func([]byte)
	server bool // the accepting side, for StartTLS

	handshakeTimeout time.Duration // StartTLS's deadline
	tls              bool          // StartTLS was called
	handshaking      bool          // StartTLS's handshake runs: c is the raw Conn
	pending          []byte        // written during the handshake
	writeShut        bool          // LoseWriteConnection was called during the handshake

	disconnecting bool  // LoseConnection or AbortConnection was called
	gone          bool  // ConnectionLost has been called
	reason        error // what ConnectionLost is to report, if not Conn.Lost's
	readPaused    bool  // PauseProducing was called
	eofPending    bool  // the peer's EOF came while reading was paused

	producer       Producer
	streaming      bool
	producerPaused bool // the push producer was paused by the transport
	waitingDrain   bool // the buffer went over the high watermark: wait for drained
	pullPending    bool // a pull ResumeProducing is scheduled

	wbuf []byte // WriteSequence's gathering buffer
}

var (
	_ Transport              = (*connTransport)(nil)
	_ Consumer               = (*connTransport)(nil)
	_ PushProducer           = (*connTransport)(nil)
	_ TLSTransport           = (*connTransport)(nil)
	_ DisconnectingTransport = (*connTransport)(nil)
	_ ConnTransport          = (*connTransport)(nil)
)

// attach makes t the owner of c and wires it to c's events: its bytes
// (unless paused), its end of stream, its loss, in that order, since each
// may come at once.
func (t *connTransport) attach(c *Conn) {
	t.c = c
	c.owner = t
	if !t.readPaused {
		c.OnData(t.dataFn)
	} else {
		c.OnData(nil)
	}
	c.OnEOF(t.eof)
	if c.state == connClosed {
		t.lost(c.reason)
	}
}

func (t *connTransport) dataReceived(p []byte) {
	if t.disconnecting || t.gone {
		return
	}
	defer t.recoverPanic("DataReceived")
	t.p.DataReceived(p)
}

func (t *connTransport) eof() {
	if t.readPaused {
		t.eofPending = true
		return
	}
	if hp, ok := t.p.(HalfCloseableProtocol); ok {
		t.guard("ReadConnectionLost", hp.ReadConnectionLost)
		return
	}
	t.LoseConnection()
}

// lost implements connOwner: the connection is closed.
func (t *connTransport) lost(reason error) { t.connectionLost(reason) }

func (t *connTransport) connectionLost(err error) {
	if t.gone {
		return
	}
	t.gone = true
	t.disconnecting = true
	var reason error = ErrConnectionDone
	switch {
	case t.reason != nil:
		reason = t.reason
	case err != nil:
		reason = err
	}
	fail := failure.New(reason)
	if p := t.producer; p != nil {
		t.producer = nil
		t.guard("StopProducing", p.StopProducing)
	}
	t.guard("ConnectionLost", func() { LoseProtocol(t.p, fail) })
	if t.onLost != nil {
		t.onLost(fail)
	}
}

// guard calls f, turning a panic into an aborted connection.
func (t *connTransport) guard(what string, f func()) {
	defer t.recoverPanic(what)
	f()
}

func (t *connTransport) recoverPanic(what string) {
	if v := recover(); v != nil {
		f := failure.FromPanic(v)
		t.c.Loop().Logger().Error("deferredtcp: protocol panicked; connection aborted",
			"in", what, "protocol", fmt.Sprintf("%T", t.p), "failure", f)
		t.abortWith(f)
	}
}

func (t *connTransport) abortWith(err error) {
	if t.gone {
		return
	}
	if t.reason == nil {
		t.reason = err
	}
	t.disconnecting = true
	t.c.Abort()
}

// Write implements [Transport].
func (t *connTransport) Write(p []byte) {
	if t.disconnecting {
		return
	}
	if t.handshaking {
		if max := t.c.maxWriteBuf; max > 0 && len(t.pending)+len(p) > max {
			t.abortWith(ErrWriteBufferFull)
			return
		}
		t.pending = append(t.pending, p...)
	} else if !t.send(p) {
		return
	}
	if t.producer != nil {
		// A pull producer that writes is asked again, in the next
		// iteration, unless the buffer went over the high watermark.
		t.checkWatermark()
		if !t.streaming {
			t.pull()
		}
	}
}

// send writes p to the Conn; false when it failed.
func (t *connTransport) send(p []byte) bool {
	if err := t.c.Send(p); err != nil {
		if errors.Is(err, ErrWriteBufferFull) {
			t.abortWith(err)
		}
		return false
	}
	return true
}

// buffered is how many written bytes wait to be sent.
func (t *connTransport) buffered() int {
	if t.handshaking {
		return len(t.pending)
	}
	return t.c.Buffered()
}

// WriteSequence implements [Transport].
func (t *connTransport) WriteSequence(ps [][]byte) {
	n := 0
	for _, p := range ps {
		n += len(p)
	}
	if n > 64<<10 {
		for _, p := range ps {
			t.Write(p)
		}
		return
	}
	b := t.wbuf[:0]
	for _, p := range ps {
		b = append(b, p...)
	}
	t.wbuf = b
	t.Write(b)
}

// checkWatermark pauses a push producer when the write buffer is over the
// high watermark, and stops asking a pull producer for data, until the
// Conn reports that the buffer has drained to the low one.
func (t *connTransport) checkWatermark() {
	if t.waitingDrain || t.buffered() <= t.c.high {
		return
	}
	t.waitingDrain = true
	if pp, ok := t.producer.(PushProducer); ok && t.streaming && !t.producerPaused {
		t.producerPaused = true
		t.guard("PauseProducing", pp.PauseProducing)
	}
}

// drained implements connOwner: the write buffer is down to the low
// watermark.
func (t *connTransport) drained() {
	if !t.waitingDrain {
		return
	}
	t.waitingDrain = false
	p := t.producer
	if p == nil || t.gone {
		return
	}
	if !t.streaming {
		t.pull()
		return
	}
	if t.producerPaused {
		t.producerPaused = false
		t.guard("ResumeProducing", p.ResumeProducing)
	}
}

// pull asks the pull producer for data in the next loop iteration.
func (t *connTransport) pull() {
	if t.pullPending || t.waitingDrain {
		return
	}
	t.pullPending = true
	t.c.Loop().Schedule(0, t.pullTick)
}

func (t *connTransport) pullTick() {
	t.pullPending = false
	p := t.producer
	if p == nil || t.streaming || t.gone || t.waitingDrain {
		return
	}
	t.guard("ResumeProducing", p.ResumeProducing)
}

// LoseConnection implements [Transport].
func (t *connTransport) LoseConnection() {
	if t.disconnecting {
		return
	}
	t.disconnecting = true
	if !t.handshaking { // else tlsStarted closes
		t.c.Close()
	}
}

// LoseConnectionWithError implements [DisconnectingTransport].
func (t *connTransport) LoseConnectionWithError(err error) {
	if t.disconnecting {
		return
	}
	t.reason = err
	t.LoseConnection()
}

// AbortConnection implements [Transport].
func (t *connTransport) AbortConnection() {
	if t.gone {
		return
	}
	t.disconnecting = true
	t.c.Abort()
}

// LoseWriteConnection implements [Transport].
func (t *connTransport) LoseWriteConnection() {
	if t.handshaking {
		t.writeShut = true // tlsStarted shuts it down
		return
	}
	t.c.CloseWrite()
}

// GetPeer implements [Transport].
func (t *connTransport) GetPeer() net.Addr { return t.c.RemoteAddr() }

// GetHost implements [Transport].
func (t *connTransport) GetHost() net.Addr { return t.c.LocalAddr() }

// Disconnecting implements [DisconnectingTransport].
func (t *connTransport) Disconnecting() bool { return t.disconnecting }

// Conn implements [ConnTransport].
func (t *connTransport) Conn() *Conn { return t.c }

// PauseProducing implements [PushProducer].
func (t *connTransport) PauseProducing() {
	if t.readPaused {
		return
	}
	t.readPaused = true
	if !t.handshaking { // else attach pauses
		t.c.OnData(nil)
	}
}

// ResumeProducing implements [PushProducer].
func (t *connTransport) ResumeProducing() {
	if !t.readPaused {
		return
	}
	t.readPaused = false
	if !t.disconnecting && !t.handshaking {
		t.c.OnData(t.dataFn)
	}
	if t.eofPending {
		t.eofPending = false
		t.eof()
	}
}

// StopProducing implements [PushProducer].
func (t *connTransport) StopProducing() { t.LoseConnection() }

// RegisterProducer implements [Consumer].
func (t *connTransport) RegisterProducer(p Producer, streaming bool) error {
	if t.producer != nil {
		return ErrProducerRegistered
	}
	if _, ok := p.(PushProducer); streaming && !ok {
		return ErrNotPushProducer
	}
	if t.gone {
		p.StopProducing()
		return nil
	}
	t.producer, t.streaming, t.producerPaused = p, streaming, false
	if streaming {
		t.checkWatermark()
	} else {
		t.pull()
	}
	return nil
}

// UnregisterProducer implements [Consumer].
func (t *connTransport) UnregisterProducer() {
	t.producer, t.producerPaused = nil, false
}

// Connector is a client connection that can be made again (Twisted's
