package deferredtcp

import (
	"errors"
	"fmt"
	"net"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
)

// ListenTCP listens on address ("host:port"; ":0" picks a free port) and
// serves every connection it accepts with a [Protocol] that f builds
// (Twisted's reactor.listenTCP). The Deferred fires with the [Listener] once
// it is bound. If f is a [FactoryStarter], StartFactory runs before the
// first connection and StopFactory once the listener is closed (by
// [Listener.Close] or the reactor's shutdown), once each however many
// listeners and connectors share f. opts are [Listen]'s. ListenTCP is loop
// goroutine only (or before Run).
func ListenTCP(r Loop, address string, f Factory, opts ...Option) *deferred.Deferred[*Listener] {
	return listenFactory(r, "tcp", address, f, opts)
}

// ListenUNIX is [ListenTCP] on a Unix socket at path (Twisted's listenUNIX).
func ListenUNIX(r Loop, path string, f Factory, opts ...Option) *deferred.Deferred[*Listener] {
	return listenFactory(r, "unix", path, f, opts)
}

func listenFactory(r Loop, network, address string, f Factory, opts []Option) *deferred.Deferred[*Listener] {
	return deferred.Then(Listen(r, network, address, opts...), func(l *Listener) (*Listener, error) {
		ServeFactory(l, f)
		return l, nil
	})
}

// ServeFactory makes l serve every connection with a [Protocol] built by f,
// as [ListenTCP] does: StartFactory (for a [FactoryStarter]) runs now, and
// StopFactory once l is closed. Loop goroutine only.
func ServeFactory(l *Listener, f Factory) {
	startFactory(l.r, f)
	whenListenerClosed(l, func() { stopFactory(l.r, f) })
	l.Serve(func(c *Conn) {
		p := f.BuildProtocol(c.RemoteAddr())
		if p == nil {
			c.Close()
			return
		}
		serveProtocol(c, p, nil, true)
	})
}

// whenListenerClosed runs f on the loop once l is closed.
//
// TODO(helper-3): replace with a public hook on Listener (Closed or
// OnClose); this relies on Close firing every Deferred in closeWaiters.
func whenListenerClosed(l *Listener, f func()) {
	d := deferred.New[struct{}]()
	if l.closeDone {
		f()
		return
	}
	l.closeWaiters = append(l.closeWaiters, d)
	d.AddCallback(func(struct{}) (struct{}, error) {
		f()
		return struct{}{}, nil
	})
}

// ServeProtocol runs p over c, Twisted-style: it calls MakeConnection (so
// p.ConnectionMade) now, then p.DataReceived with every chunk c reads, and
// p.ConnectionLost once c is closed. c's reads belong to p from now on: do
// not call c's Read methods or OnData. The peer's end of stream closes the
// connection unless p is a [HalfCloseableProtocol]. It returns p's
// [Transport], which also has the methods StartTLS(*tls.Config) error (as
// the server side), Disconnecting() bool, LoseConnectionWithError(error)
// and Conn() *Conn. Loop goroutine only.
func ServeProtocol(c *Conn, p Protocol) Transport {
	return serveProtocol(c, p, nil, true)
}

func serveProtocol(c *Conn, p Protocol, onLost func(*failure.Failure), server bool) *connTransport {
	t := &connTransport{p: p, onLost: onLost, server: server}
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

	disconnecting bool  // LoseConnection or AbortConnection was called
	lost          bool  // ConnectionLost has been called
	reason        error // what ConnectionLost is to report, if not Conn.Lost's
	readPaused    bool  // PauseProducing was called
	eofPending    bool  // the peer's EOF came while reading was paused

	producer       Producer
	streaming      bool
	producerPaused bool // the push producer was paused by the transport
	waitingDrain   bool // a watermark probe is pending
	pullPending    bool // a pull ResumeProducing is scheduled

	wbuf []byte // WriteSequence's gathering buffer
}

// attach wires t to c's events: its bytes (unless paused), its end of
// stream, its loss, in that order, since each may come at once.
func (t *connTransport) attach(c *Conn) {
	t.c = c
	if !t.readPaused {
		c.OnData(t.dataFn)
	} else {
		c.OnData(nil)
	}
	c.OnEOF(t.eof)
	c.Lost().AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
		if t.c == c {
			t.connectionLost(f)
		}
		return struct{}{}, nil
	})
}

func (t *connTransport) dataReceived(p []byte) {
	if t.disconnecting || t.lost {
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

func (t *connTransport) connectionLost(f *failure.Failure) {
	if t.lost {
		return
	}
	t.lost = true
	t.disconnecting = true
	var reason error = ErrConnectionDone
	switch {
	case t.reason != nil:
		reason = t.reason
	case f != nil:
		reason = f
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
			"in", what, "protocol", fmt.Sprintf("%T", t.p), "panic", f.Error(), "traceback", f.Traceback())
		t.abortWith(f)
	}
}

func (t *connTransport) abortWith(err error) {
	if t.lost {
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
	if err := t.c.Send(p); err != nil {
		if errors.Is(err, ErrWriteBufferFull) {
			t.abortWith(err)
		}
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
// buffer has drained to the low one. It asks the Conn with an empty Write,
// whose Deferred fires at once at or below the high watermark and
// otherwise once the buffer has drained.
func (t *connTransport) checkWatermark() {
	if t.waitingDrain || t.c.Buffered() == 0 {
		return
	}
	probing, below := true, false
	t.c.Write(nil).AddBoth(func(int, *failure.Failure) (int, error) {
		if probing {
			below = true
		} else {
			t.drained()
		}
		return 0, nil
	})
	probing = false
	if below {
		return
	}
	t.waitingDrain = true
	if pp, ok := t.producer.(PushProducer); ok && t.streaming && !t.producerPaused {
		t.producerPaused = true
		t.guard("PauseProducing", pp.PauseProducing)
	}
}

// drained runs once the write buffer is down to the low watermark.
func (t *connTransport) drained() {
	t.waitingDrain = false
	p := t.producer
	if p == nil || t.lost {
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
	if p == nil || t.streaming || t.lost || t.waitingDrain {
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
	t.c.Close()
}

// LoseConnectionWithError closes the connection as LoseConnection does,
// and makes err the reason ConnectionLost gets. The framing receivers use
// it (when their transport has it) to report why they closed.
func (t *connTransport) LoseConnectionWithError(err error) {
	if t.disconnecting {
		return
	}
	t.reason = err
	t.LoseConnection()
}

// AbortConnection implements [Transport].
func (t *connTransport) AbortConnection() {
	if t.lost {
		return
	}
	t.disconnecting = true
	t.c.Abort()
}

// LoseWriteConnection implements [Transport].
func (t *connTransport) LoseWriteConnection() { t.c.CloseWrite() }

// GetPeer implements [Transport].
func (t *connTransport) GetPeer() net.Addr { return t.c.RemoteAddr() }

// GetHost implements [Transport].
func (t *connTransport) GetHost() net.Addr { return t.c.LocalAddr() }

// Disconnecting reports whether LoseConnection or AbortConnection was
// called, or the connection is lost (Twisted's transport.disconnecting).
func (t *connTransport) Disconnecting() bool { return t.disconnecting }

// Conn returns the connection under the transport.
func (t *connTransport) Conn() *Conn { return t.c }

// PauseProducing implements [Transport].
func (t *connTransport) PauseProducing() {
	if t.readPaused {
		return
	}
	t.readPaused = true
	t.c.OnData(nil)
}

// ResumeProducing implements [Transport].
func (t *connTransport) ResumeProducing() {
	if !t.readPaused {
		return
	}
	t.readPaused = false
	if !t.disconnecting {
		t.c.OnData(t.dataFn)
	}
	if t.eofPending {
		t.eofPending = false
		t.eof()
	}
}

// StopProducing implements [Transport].
func (t *connTransport) StopProducing() { t.LoseConnection() }

// RegisterProducer implements [Transport].
func (t *connTransport) RegisterProducer(p Producer, streaming bool) error {
	if t.producer != nil {
		return ErrProducerRegistered
	}
	if _, ok := p.(PushProducer); streaming && !ok {
		return ErrNotPushProducer
	}
	if t.lost {
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

// UnregisterProducer implements [Transport].
func (t *connTransport) UnregisterProducer() {
	t.producer, t.producerPaused = nil, false
}

// Connector is a client connection that can be made again (Twisted's
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

	// wrap, when set, turns a made connection into the one the protocol
	// is served over (TLS).
	wrap func(*Conn) *deferred.Deferred[*Conn]
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
	d := Connect(c.r, c.network, c.address, c.opts...)
	if c.wrap != nil {
		d = deferred.ThenDeferred(d, c.wrap)
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
	c.transport = serveProtocol(conn, p, c.connectionLost, false)
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
				"in", what, "factory", fmt.Sprintf("%T", c.f), "panic", fl.Error(), "traceback", fl.Traceback())
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
