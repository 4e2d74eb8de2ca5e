package deferredtcp

import (
	deferred "github.com/twistgo/twist/defer"
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
	timeout := l.cfg.handshakeTimeout
	startFactory(l.r, f)
	whenListenerClosed(l, func() { stopFactory(l.r, f) })
	l.Serve(func(c *Conn) {
		p := f.BuildProtocol(c.RemoteAddr())
		if p == nil {
			c.Close()
			return
		}
		serveProtocol(c, p, nil, true, timeout)
	})
}

// whenListenerClosed runs f on the loop once l is closed.
//
// TODO: replace with a public hook on Listener (Closed or
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
// [Transport], which is also a [Consumer], a [PushProducer], a
// [TLSTransport] (as the server side), a [DisconnectingTransport] and a
// [ConnTransport]. Loop goroutine only.
func ServeProtocol(c *Conn, p Protocol) Transport {
	return serveProtocol(c, p, nil, true, DefaultHandshakeTimeout)
}
