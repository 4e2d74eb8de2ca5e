package deferredtcptest

import (
	"bytes"
	"net"

	"github.com/twistgo/twist/deferredtcp"
)

// Address is the net.Addr of the in-memory transports.
type Address struct{ Name string }

// Network returns "memory".
func (a Address) Network() string { return "memory" }

// String returns the address's name.
func (a Address) String() string { return a.Name }

// StringTransport is a [deferredtcp.Transport] that records what is written
// to it and what is done to it (Twisted's StringTransport), for protocol
// unit tests:
//
//	p := &Chat{}
//	tr := deferredtcptest.NewStringTransport()
//	deferredtcp.MakeConnection(p, tr)
//	p.DataReceived([]byte("hi\r\n"))
//	// tr.Value() holds the answer
//
// It is not safe for concurrent use.
type StringTransport struct {
	// Host and Peer are what GetHost and GetPeer return.
	Host, Peer net.Addr

	// Closed is set by LoseConnection (and StopProducing), Aborted by
	// AbortConnection, WriteClosed by LoseWriteConnection.
	Closed, Aborted, WriteClosed bool
	// Reason is the error given to LoseConnectionWithError.
	Reason error
	// ReadPaused tells whether PauseProducing was called last (rather
	// than ResumeProducing).
	ReadPaused bool
	// Producer and Streaming are the registered producer, if any.
	Producer  deferredtcp.Producer
	Streaming bool

	buf bytes.Buffer
}

var _ deferredtcp.Transport = (*StringTransport)(nil)

// NewStringTransport returns a StringTransport between "host" and "peer".
func NewStringTransport() *StringTransport {
	return &StringTransport{Host: Address{"host"}, Peer: Address{"peer"}}
}

// Value returns everything written so far.
func (t *StringTransport) Value() []byte { return t.buf.Bytes() }

// Clear forgets what was written.
func (t *StringTransport) Clear() { t.buf.Reset() }

// Write records p.
func (t *StringTransport) Write(p []byte) { t.buf.Write(p) }

// WriteSequence records each of ps.
func (t *StringTransport) WriteSequence(ps [][]byte) {
	for _, p := range ps {
		t.buf.Write(p)
	}
}

// LoseConnection sets Closed.
func (t *StringTransport) LoseConnection() { t.Closed = true }

// LoseConnectionWithError sets Closed and Reason.
func (t *StringTransport) LoseConnectionWithError(err error) {
	if !t.Closed {
		t.Reason = err
	}
	t.Closed = true
}

// AbortConnection sets Aborted and Closed.
func (t *StringTransport) AbortConnection() { t.Aborted, t.Closed = true, true }

// LoseWriteConnection sets WriteClosed.
func (t *StringTransport) LoseWriteConnection() { t.WriteClosed = true }

// Disconnecting reports whether the connection is being closed.
func (t *StringTransport) Disconnecting() bool { return t.Closed }

// GetPeer returns Peer.
func (t *StringTransport) GetPeer() net.Addr { return t.Peer }

// GetHost returns Host.
func (t *StringTransport) GetHost() net.Addr { return t.Host }

// RegisterProducer records p, with Twisted's checks.
func (t *StringTransport) RegisterProducer(p deferredtcp.Producer, streaming bool) error {
	if t.Producer != nil {
		return deferredtcp.ErrProducerRegistered
	}
	if _, ok := p.(deferredtcp.PushProducer); streaming && !ok {
		return deferredtcp.ErrNotPushProducer
	}
	t.Producer, t.Streaming = p, streaming
	return nil
}

// UnregisterProducer forgets the producer.
func (t *StringTransport) UnregisterProducer() { t.Producer, t.Streaming = nil, false }

// PauseProducing sets ReadPaused.
func (t *StringTransport) PauseProducing() { t.ReadPaused = true }

// ResumeProducing clears ReadPaused.
func (t *StringTransport) ResumeProducing() { t.ReadPaused = false }

// StopProducing sets Closed, as LoseConnection.
func (t *StringTransport) StopProducing() { t.Closed = true }
