package deferredtcp

import (
	"crypto/tls"
	"errors"
	"net"

	"github.com/twistgo/twist/failure"
)

// Protocol is Twisted's IProtocol: the per-connection object of code written
// in Twisted's style. The adapter ([ListenTCP], [ConnectTCP], [ServeProtocol])
// makes one per connection, through a [Factory], and calls it on the loop
// goroutine: ConnectionMade once, DataReceived with each chunk of bytes as it
// arrives (data is valid only during the call: copy what you keep), and
// ConnectionLost once, last. A panic in one of them is logged and aborts the
// connection, with the panic as the reason ConnectionLost gets.
//
// Embed [BaseProtocol] (or a framing receiver such as [LineReceiver]) for
// no-op defaults and a Transport field.
type Protocol interface {
	// ConnectionMade is called when the connection is up; t is how the
	// protocol writes and closes it.
	ConnectionMade(t Transport)
	// DataReceived is called with bytes as they arrive, in chunks of any
	// size: a message may come in pieces, or several at once.
	DataReceived(data []byte)
	// ConnectionLost is called when the connection is closed. reason is
	// never nil: a Failure of [ErrConnectionDone] on a clean close (Twisted's
	// ConnectionDone), or of what broke the connection (ErrAborted, a
	// *net.OpError, ErrLineTooLong, a panic...).
	ConnectionLost(reason *failure.Failure)
}

// HalfCloseableProtocol is a Protocol that keeps the connection open for
// writing after the peer has closed its side (Twisted's
// IHalfCloseableProtocol). Without it, the peer's end of stream closes the
// connection, as in Twisted.
type HalfCloseableProtocol interface {
	Protocol
	// ReadConnectionLost is called on the loop when the peer has closed its
	// side; the protocol calls LoseConnection when it is done writing.
	ReadConnectionLost()
}

// Transport is Twisted's ITransport (with ITCPTransport's half-close): how
// a [Protocol] writes to and closes its connection. The adapter's
// transports are to be used on the loop goroutine.
//
// What a transport can do beyond these seven methods it offers through
// optional interfaces, which a protocol asserts by name, as net/http's
// Flusher: the adapter's transports are a [Consumer] and a [PushProducer]
// (flow control), a [TLSTransport] (STARTTLS), a [DisconnectingTransport]
// and a [ConnTransport].
type Transport interface {
	// Write sends p, copying it: p may be reused at once. Writes after
	// LoseConnection or AbortConnection are dropped.
	Write(p []byte)
	// WriteSequence sends each of ps in turn, as Write.
	WriteSequence(ps [][]byte)
	// LoseConnection closes the connection once everything written is sent
	// (Twisted's loseConnection); reading stops at once.
	LoseConnection()
	// AbortConnection closes the connection at once, dropping unsent bytes.
	AbortConnection()
	// LoseWriteConnection shuts down the writing side once everything
	// written is sent (a half-close); reading goes on.
	LoseWriteConnection()
	// GetPeer returns the address of the other end.
	GetPeer() net.Addr
	// GetHost returns the local address.
	GetHost() net.Addr
}

// Consumer is a [Transport] that takes its data from a producer (Twisted's
// IConsumer), so that a protocol streaming a large response writes only as
// fast as the peer reads.
type Consumer interface {
	// RegisterProducer makes p the producer of the data written to the
	// transport. A streaming (push) producer must be a [PushProducer]: it
	// is paused when the write buffer goes over its high watermark and
	// resumed once the buffer has drained below its low one. A pull
	// producer is asked for data (ResumeProducing) as long as the buffer
	// stays below the high watermark, once per loop iteration, and again
	// once the buffer has drained below the low one. It returns
	// [ErrProducerRegistered] if a producer is registered already, and
	// [ErrNotPushProducer] for a streaming producer without
	// PauseProducing. On a closed transport p is stopped at once. The
	// producer is stopped when the connection is lost.
	RegisterProducer(p Producer, streaming bool) error
	// UnregisterProducer forgets the registered producer, if any.
	UnregisterProducer()
}

// TLSTransport is a [Transport] that can switch its connection to TLS
// (Twisted's ITLSTransport), for protocols with a STARTTLS command.
type TLSTransport interface {
	// StartTLS starts TLS with cfg, as the side (server or client) the
	// transport is on: what is written from now on is encrypted, what
	// arrives is decrypted. A client cfg needs ServerName (or
	// InsecureSkipVerify).
	StartTLS(cfg *tls.Config) error
}

// DisconnectingTransport is a [Transport] that tells whether it is being
// closed and can close with a reason. The framing receivers use both,
// when their transport has them: to stop delivering once the connection
// is closing, and to tell ConnectionLost why they closed it.
type DisconnectingTransport interface {
	// Disconnecting reports whether LoseConnection or AbortConnection was
	// called, or the connection is lost (Twisted's
	// transport.disconnecting).
	Disconnecting() bool
	// LoseConnectionWithError closes the connection as LoseConnection
	// does, making err the reason the protocol's ConnectionLost gets.
	LoseConnectionWithError(err error)
}

// ConnTransport is a [Transport] over a [Conn]: the adapter's transports
// are, and give the Conn for what the Transport methods do not cover
// (its buffers, its socket options).
type ConnTransport interface {
	// Conn returns the connection under the transport.
	Conn() *Conn
}

// Producer is Twisted's IProducer as a pull producer (IPullProducer):
// ResumeProducing is called when the consumer wants more data, and
// StopProducing when it wants no more.
type Producer interface {
	ResumeProducing()
	StopProducing()
}

// PushProducer is Twisted's IPushProducer: it produces on its own until
// paused. The adapter's transports are push producers of what they read:
// PauseProducing stops delivering DataReceived (and reading, once the
// connection's read buffer is full), so that the peer is pushed back,
// ResumeProducing undoes it, and StopProducing closes the connection.
type PushProducer interface {
	Producer
	PauseProducing()
}

var (
	// ErrConnectionDone is the reason [Protocol.ConnectionLost] gets on a
	// clean close (Twisted's ConnectionDone).
	ErrConnectionDone = errors.New("deferredtcp: connection was closed cleanly")

	// ErrProducerRegistered is returned by [Transport.RegisterProducer]
	// while another producer is registered.
	ErrProducerRegistered = errors.New("deferredtcp: a producer is already registered")

	// ErrNotPushProducer is returned by [Transport.RegisterProducer] for a
	// streaming producer that is not a [PushProducer].
	ErrNotPushProducer = errors.New("deferredtcp: a streaming producer must implement PauseProducing")
)

// BaseProtocol is the no-op [Protocol] to embed (Twisted's
// protocol.Protocol): it keeps the transport in its Transport field, set
// before ConnectionMade is called, so a protocol that overrides
// ConnectionMade still has it.
//
//	type Echo struct{ deferredtcp.BaseProtocol }
//
//	func (e *Echo) DataReceived(p []byte) { e.Transport.Write(p) }
//
// Embed a BaseProtocol (or a receiver that embeds one) once, by value.
type BaseProtocol struct {
	// Transport is the connection, set by [MakeConnection] (which the
	// adapter calls) before ConnectionMade.
	Transport Transport
	// Connected is true from MakeConnection until ConnectionLost is called.
	Connected bool

	self Protocol // the protocol that embeds this one
}

// ConnectionMade does nothing.
func (b *BaseProtocol) ConnectionMade(Transport) {}

// DataReceived does nothing.
func (b *BaseProtocol) DataReceived([]byte) {}

// ConnectionLost does nothing.
func (b *BaseProtocol) ConnectionLost(*failure.Failure) {}

func (b *BaseProtocol) baseProtocol() *BaseProtocol { return b }

// embedsBase is implemented by every protocol that embeds a BaseProtocol.
type embedsBase interface{ baseProtocol() *BaseProtocol }

// MakeConnection connects p to t, as Twisted's makeConnection: it sets the
// Transport and Connected fields of p's embedded [BaseProtocol], if it has
// one, then calls p.ConnectionMade(t). The adapter calls it for every
// connection; call it yourself to drive a protocol by hand, for instance on
// a StringTransport in tests.
func MakeConnection(p Protocol, t Transport) {
	if b, ok := p.(embedsBase); ok {
		base := b.baseProtocol()
		base.self, base.Transport, base.Connected = p, t, true
	}
	p.ConnectionMade(t)
}

// LoseProtocol ends p's connection as the adapter does: it clears the
// Connected field of p's embedded [BaseProtocol], then calls
// p.ConnectionLost with reason, or with [ErrConnectionDone] when reason is
// nil.
func LoseProtocol(p Protocol, reason error) {
	if b, ok := p.(embedsBase); ok {
		b.baseProtocol().Connected = false
	}
	if reason == nil {
		reason = ErrConnectionDone
	}
	p.ConnectionLost(failure.New(reason))
}

// Factory makes a [Protocol] for each connection (Twisted's
// IProtocolFactory). BuildProtocol is called on the loop goroutine with the
// peer's address; returning nil closes the connection at once.
//
// A Factory that also implements [FactoryStarter] is started before its
// first port or connector begins and stopped after its last one ends.
type Factory interface {
	BuildProtocol(addr net.Addr) Protocol
}

// FactoryStarter is the optional part of a [Factory] (Twisted's
// startFactory and stopFactory): StartFactory runs on the loop before the
// first listener or connector using the factory starts, StopFactory after
// the last one stops, once each however many use it at the same time.
type FactoryStarter interface {
	StartFactory()
	StopFactory()
}

// FactoryFunc is a function used as a [Factory].
type FactoryFunc func(addr net.Addr) Protocol

// BuildProtocol returns f(addr).
func (f FactoryFunc) BuildProtocol(addr net.Addr) Protocol { return f(addr) }

// BaseFactory is the [Factory] to embed (Twisted's protocol.Factory): its
// BuildProtocol calls NewProtocol, and its StartFactory and StopFactory do
// nothing. The zero value builds no protocol (connections are closed).
type BaseFactory struct {
	// NewProtocol makes the protocol for a connection (Twisted's protocol
	// class attribute).
	NewProtocol func() Protocol
}

// BuildProtocol returns f.NewProtocol(), or nil when NewProtocol is nil.
func (f *BaseFactory) BuildProtocol(net.Addr) Protocol {
	if f.NewProtocol == nil {
		return nil
	}
	return f.NewProtocol()
}

// StartFactory does nothing.
func (f *BaseFactory) StartFactory() {}

// StopFactory does nothing.
func (f *BaseFactory) StopFactory() {}

// ClientFactory is the [Factory] of client connections (Twisted's
// ClientFactory): besides building the protocol, it hears about the
// connection attempts of its [Connector]. Every method runs on the loop
// goroutine; a method may call c.Connect to try again.
type ClientFactory interface {
	Factory
	// StartedConnecting is called when an attempt begins; c.StopConnecting
	// cancels it.
	StartedConnecting(c *Connector)
	// ClientConnectionFailed is called when an attempt fails.
	ClientConnectionFailed(c *Connector, reason *failure.Failure)
	// ClientConnectionLost is called when a made connection is lost, after
	// the protocol's ConnectionLost.
	ClientConnectionLost(c *Connector, reason *failure.Failure)
}

// BaseClientFactory is the [ClientFactory] to embed: [BaseFactory] with
// no-op connection callbacks.
type BaseClientFactory struct {
	BaseFactory
}

// StartedConnecting does nothing.
func (f *BaseClientFactory) StartedConnecting(*Connector) {}

// ClientConnectionFailed does nothing.
func (f *BaseClientFactory) ClientConnectionFailed(*Connector, *failure.Failure) {}

// ClientConnectionLost does nothing.
func (f *BaseClientFactory) ClientConnectionLost(*Connector, *failure.Failure) {}
