package service

import (
	"net"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// ListeningService listens while it runs (Twisted's TCPServer and
// StreamServerEndpointService): it listens when it starts, and closes the
// listener when it stops. Build one with [TCPServer] or [EndpointServer]
// for Twisted-style factories, [TCPServerFunc] or [EndpointServerFunc] for
// chains, or [NewListeningService] for anything else. It belongs to the
// reactor's loop goroutine.
type ListeningService struct {
	name   string
	listen func() *deferred.Deferred[*deferredtcp.Listener]

	running bool
	pending *deferred.Deferred[*deferredtcp.Listener] // while listening
	l       *deferredtcp.Listener
}

// NewListeningService returns a stopped service named name that calls
// listen when it starts, and closes the Listener it gives when it stops.
func NewListeningService(name string, listen func() *deferred.Deferred[*deferredtcp.Listener]) *ListeningService {
	return &ListeningService{name: name, listen: listen}
}

// TCPServer returns a service that listens on a TCP address ("host:port",
// ":8007") and serves every connection with a protocol f builds
// (Twisted's internet.TCPServer(port, factory)), with deferredtcp.ListenTCP.
// It is named "tcp:" + address.
func TCPServer(r *reactor.Reactor, address string, f deferredtcp.Factory, opts ...deferredtcp.Option) *ListeningService {
	return NewListeningService("tcp:"+address, func() *deferred.Deferred[*deferredtcp.Listener] {
		return deferredtcp.ListenTCP(r, address, f, opts...)
	})
}

// TCPServerFunc is [TCPServer] for chains: handle runs on the loop for
// every new connection (deferredtcp.Listener.Serve).
func TCPServerFunc(r *reactor.Reactor, address string, handle func(*deferredtcp.Conn), opts ...deferredtcp.Option) *ListeningService {
	return NewListeningService("tcp:"+address, func() *deferred.Deferred[*deferredtcp.Listener] {
		return deferred.Then(deferredtcp.Listen(r, "tcp", address, opts...), serveWith(handle))
	})
}

// EndpointServer returns a service that listens where a server endpoint
// description says ("tcp:8007", "unix:/run/echo.sock", "ssl:443:..."; see
// deferredtcp.ServerFromString) and serves every connection with a
// protocol f builds (Twisted's strports.service). It is named after the
// description, and fails with the description's *deferredtcp.EndpointError
// when it cannot be used.
func EndpointServer(r *reactor.Reactor, description string, f deferredtcp.Factory) (*ListeningService, error) {
	e, err := deferredtcp.ServerFromString(r, description)
	if err != nil {
		return nil, err
	}
	return NewListeningService(description, func() *deferred.Deferred[*deferredtcp.Listener] {
		return e.Listen(f)
	}), nil
}

// EndpointServerFunc is [EndpointServer] for chains: handle runs on the
// loop for every new connection, after the TLS handshake for a TLS
// endpoint (connections whose handshake fails are closed without it).
func EndpointServerFunc(r *reactor.Reactor, description string, handle func(*deferredtcp.Conn)) (*ListeningService, error) {
	e, err := deferredtcp.ServerFromString(r, description)
	if err != nil {
		return nil, err
	}
	serve := handle
	if e.TLS != nil {
		serve = func(c *deferredtcp.Conn) {
			hs := deferredtcp.WithHandshakeTimeout(e.HandshakeTimeout)
			deferred.Then(deferredtcp.StartTLS(c, e.TLS, true, hs), func(tc *deferredtcp.Conn) (struct{}, error) {
				handle(tc)
				return struct{}{}, nil
			}).AddErrback(func(*failure.Failure) (struct{}, error) {
				return struct{}{}, nil // the handshake failed: StartTLS closed c
			})
		}
	}
	return NewListeningService(description, func() *deferred.Deferred[*deferredtcp.Listener] {
		return deferred.Then(e.ListenConns(), serveWith(serve))
	}), nil
}

func serveWith(handle func(*deferredtcp.Conn)) func(*deferredtcp.Listener) (*deferredtcp.Listener, error) {
	return func(l *deferredtcp.Listener) (*deferredtcp.Listener, error) {
		l.Serve(handle)
		return l, nil
	}
}

// Name returns the service's name.
func (s *ListeningService) Name() string { return s.name }

// SetName renames the service; call it before adding the service to a
// [MultiService].
func (s *ListeningService) SetName(name string) { s.name = name }

// Running reports whether the service was started and not stopped since.
func (s *ListeningService) Running() bool { return s.running }

// Listener returns the listener while the service listens, nil otherwise.
func (s *ListeningService) Listener() *deferredtcp.Listener { return s.l }

// Addr returns the address the service listens on (the port the system
// chose for port 0), or nil while it does not listen.
func (s *ListeningService) Addr() net.Addr {
	if s.l == nil {
		return nil
	}
	return s.l.Addr()
}

// StartService listens. Its Deferred fires once the service listens, or
// fails with why it cannot (the port is taken, say); the service is then
// stopped.
func (s *ListeningService) StartService() *deferred.Deferred[struct{}] {
	if s.running {
		return deferred.Fail[struct{}](ErrAlreadyRunning)
	}
	s.running = true
	d := s.listen()
	s.pending = d
	return deferred.Then(d, func(l *deferredtcp.Listener) (struct{}, error) {
		if s.pending == d {
			s.pending = nil
		}
		s.l = l
		return struct{}{}, nil
	}).AddErrback(func(f *failure.Failure) (struct{}, error) {
		if s.pending == d {
			s.pending = nil
			s.running = false
		}
		return struct{}{}, f
	})
}

// StopService stops listening: it closes the listener, or cancels the
// listen in progress. The connections it accepted are left to their
// owners (and to the reactor's shutdown).
func (s *ListeningService) StopService() *deferred.Deferred[struct{}] {
	if !s.running {
		return deferred.Succeed(struct{}{})
	}
	s.running = false
	if d := s.pending; d != nil {
		s.pending = nil
		d.Cancel()
	}
	l := s.l
	s.l = nil
	if l == nil {
		return deferred.Succeed(struct{}{})
	}
	return l.Close()
}

var _ Service = (*ListeningService)(nil)
