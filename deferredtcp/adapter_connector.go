package deferredtcp

import (
	"errors"
	"fmt"
	"net"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
)

// IConnector): [ConnectTCP] returns one, and passes it to every
// [ClientFactory] callback, which may call Connect to try again. A
// Connector is disconnected, connecting or connected. Its methods are loop
// goroutine only.
type Connector struct {
	r       Loop
	network string
	address string
	opts    []Option
	f       ClientFactory

	state          connectorState
	attempt        *deferred.Deferred[*Conn]
	stopping       bool // StopConnecting cancelled the attempt
	transport      *connTransport
	factoryStarted bool

	// dial, when set, makes the connection instead of Connect (TLS).
	dial func() *deferred.Deferred[*Conn]
}

type connectorState uint8

const (
	disconnected connectorState = iota
	connecting
	connected
)

var (
	// ErrConnectorBusy is returned by [Connector.Connect] while the
	// connector is connecting or connected.
	ErrConnectorBusy = errors.New("deferredtcp: connector is connecting or connected")

	// ErrNotConnecting is returned by [Connector.StopConnecting] when no
	// attempt is in progress (Twisted's NotConnectingError).
	ErrNotConnecting = errors.New("deferredtcp: connector is not connecting")

	// ErrConnectingStopped is the reason [ClientFactory.ClientConnectionFailed]
	// gets for an attempt stopped by [Connector.StopConnecting] (Twisted's
	// UserError).
	ErrConnectingStopped = errors.New("deferredtcp: connection attempt stopped")
)

// ConnectTCP starts connecting to address ("host:port") and returns the
// [Connector] (Twisted's reactor.connectTCP): f.StartedConnecting is called
// now, then f.ClientConnectionFailed if the attempt fails, or
// f.BuildProtocol with the peer's address once connected (the protocol is
// then served as by [ServeProtocol]) and f.ClientConnectionLost after the
// protocol's ConnectionLost. opts are [Connect]'s ([WithTimeout] is 30
// seconds by default, as in Twisted). If f is a [FactoryStarter],
// StartFactory runs before the first attempt and StopFactory when the
// connector is left disconnected by the callbacks. Loop goroutine only (or
// before Run).
func ConnectTCP(r Loop, address string, f ClientFactory, opts ...Option) *Connector {
	c := NewConnector(r, "tcp", address, f, opts...)
	c.Connect()
	return c
}

// ConnectUNIX is [ConnectTCP] to the Unix socket at path (Twisted's
// connectUNIX).
func ConnectUNIX(r Loop, path string, f ClientFactory, opts ...Option) *Connector {
	c := NewConnector(r, "unix", path, f, opts...)
	c.Connect()
	return c
}

// NewConnector returns a disconnected [Connector] to address on network
// ("tcp", "tcp4", "tcp6" or "unix"); [Connector.Connect] starts it. Safe
// from any goroutine.
func NewConnector(r Loop, network, address string, f ClientFactory, opts ...Option) *Connector {
	return &Connector{r: r, network: network, address: address, f: f, opts: opts}
}

// Connect starts an attempt to connect: f.StartedConnecting is called at
// once, the outcome later. It returns [ErrConnectorBusy] while connecting or
// connected.
func (c *Connector) Connect() error {
	if c.state != disconnected {
		return ErrConnectorBusy
	}
	c.state, c.stopping = connecting, false
	if !c.factoryStarted {
		c.factoryStarted = true
		startFactory(c.r, c.f)
	}
	var d *deferred.Deferred[*Conn]
	if c.dial != nil {
		d = c.dial()
	} else {
		d = Connect(c.r, c.network, c.address, c.opts...)
	}
	c.attempt = d
	c.guard("StartedConnecting", func() { c.f.StartedConnecting(c) })
	d.AddBoth(func(conn *Conn, f *failure.Failure) (*Conn, error) {
		c.attemptDone(d, conn, f)
		return nil, nil
	})
	return nil
}

func (c *Connector) attemptDone(d *deferred.Deferred[*Conn], conn *Conn, f *failure.Failure) {
	if c.attempt != d {
		if conn != nil {
			conn.Abort()
		}
		return
	}
	c.attempt = nil
	if f != nil {
		if c.stopping {
			f = failure.New(ErrConnectingStopped)
		}
		c.state = disconnected
		c.guard("ClientConnectionFailed", func() { c.f.ClientConnectionFailed(c, f) })
		c.maybeStopFactory()
		return
	}
	c.state = connected
	if n, ok := c.f.(connectionNotifier); ok {
		n.connectionMade(c)
	}
	var p Protocol
	c.guard("BuildProtocol", func() { p = c.f.BuildProtocol(conn.RemoteAddr()) })
	if p == nil {
		p = &BaseProtocol{}
		defer func() { c.transport.LoseConnection() }()
	}
	cfg := newConfig(c.opts)
	c.transport = serveProtocol(conn, p, c.connectionLost, false, cfg.handshakeTimeout)
}

// connectionNotifier is implemented by factories that want to know a
// connection was made before BuildProtocol (ReconnectingClientFactory).
type connectionNotifier interface{ connectionMade(c *Connector) }

func (c *Connector) connectionLost(reason *failure.Failure) {
	c.transport = nil
	c.state = disconnected
	c.guard("ClientConnectionLost", func() { c.f.ClientConnectionLost(c, reason) })
	c.maybeStopFactory()
}

// maybeStopFactory stops the factory unless a callback connected again.
func (c *Connector) maybeStopFactory() {
	if c.state == disconnected && c.factoryStarted {
		c.factoryStarted = false
		stopFactory(c.r, c.f)
	}
}

// guard calls a factory callback, logging a panic instead of letting it
// into the Deferred machinery.
func (c *Connector) guard(what string, f func()) {
	defer func() {
		if v := recover(); v != nil {
			fl := failure.FromPanic(v)
			c.r.Logger().Error("deferredtcp: client factory panicked",
				"in", what, "factory", fmt.Sprintf("%T", c.f), "failure", fl)
		}
	}()
	f()
}

// StopConnecting cancels the attempt in progress: f.ClientConnectionFailed
// is called at once with [ErrConnectingStopped]. It returns
// [ErrNotConnecting] when no attempt is in progress.
func (c *Connector) StopConnecting() error {
	if c.state != connecting || c.attempt == nil {
		return ErrNotConnecting
	}
	c.stopping = true
	c.attempt.Cancel()
	return nil
}

// Disconnect stops the attempt in progress, or closes the connection
// (LoseConnection) when connected.
func (c *Connector) Disconnect() {
	switch c.state {
	case connecting:
		c.StopConnecting()
	case connected:
		if c.transport != nil {
			c.transport.LoseConnection()
		}
	}
}

// Destination returns the address the connector connects to.
func (c *Connector) Destination() net.Addr { return destination{c.network, c.address} }

// Transport returns the transport of the connection while connected, nil
// otherwise.
func (c *Connector) Transport() Transport {
	if c.transport == nil {
		return nil
	}
	return c.transport
}

// destination is a Connector's address as given.
type destination struct{ network, address string }

func (d destination) Network() string { return d.network }
func (d destination) String() string  { return d.address }
