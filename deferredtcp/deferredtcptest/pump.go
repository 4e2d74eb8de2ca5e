package deferredtcptest

import (
	"errors"
	"net"

	"github.com/twistgo/twist/deferredtcp"
)

// ErrPeerAborted is the reason a [Pump] gives the peer of a protocol that
// aborted its connection.
var ErrPeerAborted = errors.New("deferredtcptest: connection reset by peer")

// FakeTransport is one end of a [Pump]: a [deferredtcp.Transport] whose
// writes are buffered until the pump delivers them to the other protocol.
type FakeTransport struct {
	host, peer net.Addr
	proto      deferredtcp.Protocol
	other      *FakeTransport
	pump       *Pump

	out           []byte
	disconnecting bool // LoseConnection or AbortConnection called
	aborted       bool
	writeClosed   bool // LoseWriteConnection called
	eofSent       bool // the peer was told of our half-close
	reason        error
	lost          bool
	readPaused    bool

	producer  deferredtcp.Producer
	streaming bool
}

var _ deferredtcp.Transport = (*FakeTransport)(nil)

// Pump connects a server and a client protocol in memory (Twisted's
// iosim.IOPump): what one writes reaches the other when Pump or Flush is
// called, on the calling goroutine.
type Pump struct {
	Server, Client *FakeTransport
	// ChunkSize, when positive, cuts what is delivered into DataReceived
	// calls of at most that many bytes, to test a protocol against
	// arbitrary packet boundaries.
	ChunkSize int
}

// ConnectedServerAndClient connects server and client through a new Pump
// (Twisted's iosim.connectedServerAndClient): MakeConnection is called on
// the server then on the client, and the pump is flushed, so their
// greetings have been delivered when it returns.
func ConnectedServerAndClient(server, client deferredtcp.Protocol) *Pump {
	p := NewPump(server, client)
	deferredtcp.MakeConnection(server, p.Server)
	deferredtcp.MakeConnection(client, p.Client)
	p.Flush()
	return p
}

// NewPump is ConnectedServerAndClient without the MakeConnection calls and
// the flush, for tests that make them at their own time.
func NewPump(server, client deferredtcp.Protocol) *Pump {
	p := &Pump{}
	p.Server = &FakeTransport{host: Address{"server"}, peer: Address{"client"}, proto: server, pump: p}
	p.Client = &FakeTransport{host: Address{"client"}, peer: Address{"server"}, proto: client, pump: p}
	p.Server.other, p.Client.other = p.Client, p.Server
	return p
}

// Pump moves what each side has written to the other, once, and handles
// closes whose data has all been delivered. It reports whether anything
// happened.
func (p *Pump) Pump() bool {
	moved := p.Client.pull()
	moved = p.Server.pull() || moved
	moved = p.Client.deliver() || moved
	moved = p.Server.deliver() || moved
	moved = p.Client.finish() || moved
	moved = p.Server.finish() || moved
	return moved
}

// Flush pumps until nothing more happens. It panics after 100 000 rounds:
// the two protocols talk forever.
func (p *Pump) Flush() {
	for i := 0; p.Pump(); i++ {
		if i == 100_000 {
			panic("deferredtcptest: Flush: the protocols never stop talking")
		}
	}
}

// pull asks t's pull producer for data; it reports whether some came.
func (t *FakeTransport) pull() bool {
	if t.producer == nil || t.streaming || t.lost {
		return false
	}
	n := len(t.out)
	t.producer.ResumeProducing()
	return len(t.out) > n
}

// deliver hands t's buffered output to the other protocol.
func (t *FakeTransport) deliver() bool {
	o := t.other
	if len(t.out) == 0 || o.lost || o.readPaused || t.lost {
		return false
	}
	data := t.out
	t.out = nil
	size := t.pump.ChunkSize
	if size <= 0 {
		size = len(data)
	}
	for len(data) > 0 && !o.lost && !o.disconnecting {
		n := min(size, len(data))
		o.proto.DataReceived(data[:n])
		data = data[n:]
		if o.readPaused && len(data) > 0 {
			t.out = append(data, t.out...)
			break
		}
	}
	return true
}

// finish carries out t's close or half-close once its output is
// delivered.
func (t *FakeTransport) finish() bool {
	if t.lost || len(t.out) > 0 && !t.aborted {
		return false
	}
	o := t.other
	switch {
	case t.disconnecting:
		reason, peerReason := t.reason, error(nil)
		if t.aborted {
			reason, peerReason = deferredtcp.ErrAborted, ErrPeerAborted
		}
		t.connectionLost(reason)
		o.connectionLost(peerReason)
		return true
	case t.writeClosed && !t.eofSent && !o.readPaused:
		t.eofSent = true
		if hp, ok := o.proto.(deferredtcp.HalfCloseableProtocol); ok && !o.lost {
			hp.ReadConnectionLost()
		} else {
			o.LoseConnection()
		}
		return true
	}
	return false
}

func (t *FakeTransport) connectionLost(reason error) {
	if t.lost {
		return
	}
	t.lost, t.disconnecting = true, true
	t.out = nil
	if p := t.producer; p != nil {
		t.producer = nil
		p.StopProducing()
	}
	deferredtcp.LoseProtocol(t.proto, reason)
}

// Protocol returns the protocol on t's side.
func (t *FakeTransport) Protocol() deferredtcp.Protocol { return t.proto }

// Value returns what t's protocol has written and the pump has not
// delivered yet.
func (t *FakeTransport) Value() []byte { return t.out }

// Write buffers p for the other side.
func (t *FakeTransport) Write(p []byte) {
	if t.disconnecting || t.writeClosed {
		return
	}
	t.out = append(t.out, p...)
}

// WriteSequence buffers each of ps.
func (t *FakeTransport) WriteSequence(ps [][]byte) {
	for _, p := range ps {
		t.Write(p)
	}
}

// LoseConnection closes the connection once the pump has delivered what
// was written.
func (t *FakeTransport) LoseConnection() { t.disconnecting = true }

// LoseConnectionWithError is LoseConnection, with err as the reason the
// protocol's ConnectionLost gets.
func (t *FakeTransport) LoseConnectionWithError(err error) {
	if !t.disconnecting {
		t.reason = err
	}
	t.disconnecting = true
}

// AbortConnection closes the connection at the next pump, dropping what
// was not delivered.
func (t *FakeTransport) AbortConnection() {
	t.disconnecting, t.aborted = true, true
	t.out = nil
}

// LoseWriteConnection half-closes: once what was written is delivered, the
// peer's ReadConnectionLost is called (or the peer closes).
func (t *FakeTransport) LoseWriteConnection() { t.writeClosed = true }

// Disconnecting reports whether the connection is being closed.
func (t *FakeTransport) Disconnecting() bool { return t.disconnecting }

// GetPeer returns the other side's address ("server" or "client").
func (t *FakeTransport) GetPeer() net.Addr { return t.peer }

// GetHost returns this side's address.
func (t *FakeTransport) GetHost() net.Addr { return t.host }

// RegisterProducer records p. The pump's buffers are unbounded: a push
// producer is never paused, and a pull producer is asked for data once per
// Pump round while registered.
func (t *FakeTransport) RegisterProducer(p deferredtcp.Producer, streaming bool) error {
	if t.producer != nil {
		return deferredtcp.ErrProducerRegistered
	}
	if _, ok := p.(deferredtcp.PushProducer); streaming && !ok {
		return deferredtcp.ErrNotPushProducer
	}
	if t.lost {
		p.StopProducing()
		return nil
	}
	t.producer, t.streaming = p, streaming
	return nil
}

// UnregisterProducer forgets the producer.
func (t *FakeTransport) UnregisterProducer() { t.producer = nil }

// PauseProducing stops the pump from delivering to this side.
func (t *FakeTransport) PauseProducing() { t.readPaused = true }

// ResumeProducing lets the pump deliver to this side again.
func (t *FakeTransport) ResumeProducing() { t.readPaused = false }

// StopProducing closes the connection.
func (t *FakeTransport) StopProducing() { t.LoseConnection() }
