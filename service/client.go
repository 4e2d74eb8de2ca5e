package service

import (
	"errors"
	"net"
	"slices"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// The states of a ClientService, as Twisted's _ClientMachine names them.
type clientState uint8

const (
	clientInit          clientState = iota // never started
	clientConnecting                       // an attempt is in progress
	clientWaiting                          // the retry timer runs
	clientConnected                        // one connection is up
	clientDisconnecting                    // stopping: closing the connection or cancelling the attempt
	clientRestarting                       // started again while disconnecting
	clientStopped
)

// ErrNoProtocol fails a connection attempt of a [ClientService] whose
// [WithProtocol] factory built no protocol; the connection is closed and
// the attempt counts as failed.
var ErrNoProtocol = errors.New("service: the factory built no protocol")

// Dial is a ClientService's connection step: it starts one connection
// attempt and fires with the connection, or fails.
type Dial func() *deferred.Deferred[*deferredtcp.Conn]

// DialTCP returns the [Dial] of deferredtcp.Connect(r, network, address,
// opts...). For an endpoint description, use its DialConn method:
//
//	e, err := deferredtcp.ClientFromString(r, "tcp:example.org:8007:timeout=5")
//	// ...
//	service.NewClientService(r, e.DialConn)
func DialTCP(r *reactor.Reactor, network, address string, opts ...deferredtcp.Option) Dial {
	return func() *deferred.Deferred[*deferredtcp.Conn] {
		return deferredtcp.Connect(r, network, address, opts...)
	}
}

// WithProtocol makes a [ClientService] serve each connection it makes with
// a protocol that f builds (deferredtcp.ServeProtocol), for code written
// with Twisted's Protocol and Factory; [ClientService.WhenConnectedProtocol]
// then gives the protocol. A nil protocol fails the attempt with
// [ErrNoProtocol]. Without it, connections are left to chains.
func WithProtocol(f deferredtcp.Factory) Option {
	return optionFunc(func(c *config) { c.factory = f })
}

// ClientService keeps one connection open while it runs (Twisted's
// ClientService): it connects when it starts, and after a failed attempt or
// a lost connection it waits as its retry policy says ([WithRetryPolicy];
// Twisted's backoffPolicy by default: 1.5 s, 2.25 s, ... up to a minute,
// plus up to a second of jitter) and connects again. The count of
// consecutive failures, which the policy is given, goes back to zero when a
// connection is made, so a lost connection is retried after the policy's
// first delay.
//
// [ClientService.WhenConnected] gives the connection to chains;
// [WithProtocol] attaches a Twisted-style protocol to each connection
// instead. The connection counts as lost when its Lost Deferred fires: a
// protocol's connection closes at the server's EOF, while a chain closes
// it when its read fails with io.EOF (a deferredtcp connection stays
// half-open until then). Stopping the service cancels the attempt in
// progress or the retry timer, and closes the connection.
//
// A ClientService belongs to its clock's goroutine, the loop of the reactor
// that dial connects on; its dial step is injectable, so that tests run on
// a reactor.Clock with dials they fire themselves.
type ClientService struct {
	name   string
	clock  reactor.Scheduler
	dial   Dial
	policy func(attempt int) time.Duration
	cfg    config

	state    clientState
	failures int // consecutive failed attempts
	attempt  *deferred.Deferred[*deferredtcp.Conn]
	retry    *reactor.DelayedCall
	conn     *deferredtcp.Conn
	proto    deferredtcp.Protocol

	waiters     []*connWaiter
	stopWaiters []*deferred.Deferred[struct{}]
}

type connWaiter struct {
	d         *deferred.Deferred[*deferredtcp.Conn]
	remaining int // failures left before d fails; 0: never
}

// NewClientService returns a stopped ClientService that connects with dial
// and times its retries on clock (the reactor that dial connects on, or a
// reactor.Clock in tests). Options: [WithRetryPolicy], [WithProtocol],
// [WithLogger].
func NewClientService(clock reactor.Scheduler, dial Dial, opts ...Option) *ClientService {
	cfg := newConfig(opts)
	return &ClientService{clock: clock, dial: dial, policy: cfg.retry, cfg: cfg}
}

// Name returns the name set with SetName ("" by default).
func (s *ClientService) Name() string { return s.name }

// SetName names the service; call it before adding the service to a
// [MultiService].
func (s *ClientService) SetName(name string) { s.name = name }

// Running reports whether the service was started and not stopped since.
func (s *ClientService) Running() bool {
	switch s.state {
	case clientConnecting, clientWaiting, clientConnected, clientRestarting:
		return true
	}
	return false
}

// Conn returns the current connection, or nil when there is none.
func (s *ClientService) Conn() *deferredtcp.Conn { return s.conn }

// StartService starts connecting. Its Deferred fires at once: the
// service runs from now on, connected or not (use WhenConnected to wait
// for the connection). Starting a running service does nothing.
func (s *ClientService) StartService() *deferred.Deferred[struct{}] {
	switch s.state {
	case clientInit, clientStopped:
		s.state = clientConnecting
		s.connect()
	case clientDisconnecting:
		s.state = clientRestarting
		s.failures = 0
	}
	return deferred.Succeed(struct{}{})
}

// StopService stops trying to connect: it cancels the attempt in progress
// or the retry timer, closes the connection, and fails the pending
// WhenConnected Deferreds with deferred.ErrCancelled. Its Deferred fires
// once the connection is closed.
func (s *ClientService) StopService() *deferred.Deferred[struct{}] {
	switch s.state {
	case clientInit, clientStopped:
		return deferred.Succeed(struct{}{})
	case clientWaiting:
		s.retry.Cancel()
		s.retry = nil
		s.state = clientStopped
		s.cancelWaiters()
		return deferred.Succeed(struct{}{})
	}
	w := deferred.New[struct{}]()
	s.stopWaiters = append(s.stopWaiters, w)
	switch s.state {
	case clientConnecting:
		s.state = clientDisconnecting
		s.attempt.Cancel() // fails at once: attemptFailed finishes the stop
	case clientConnected:
		s.state = clientDisconnecting
		s.conn.Close().AddErrback(s.logCloseFailure) // Lost fires: disconnected finishes the stop
	case clientRestarting:
		s.state = clientDisconnecting
	}
	return w
}

// WhenConnected returns a Deferred that fires with the current connection,
// or with the next one made (Twisted's whenConnected). With
// failAfterFailures > 0 it fails, with the attempt's error, once that many
// attempts in a row have failed (1: the next failure fails it); with 0 it
// waits as long as the service runs. It fails with deferred.ErrCancelled
// when the service stops, or is stopped already. Cancelling it stops the
// wait.
func (s *ClientService) WhenConnected(failAfterFailures int) *deferred.Deferred[*deferredtcp.Conn] {
	switch s.state {
	case clientConnected:
		return deferred.Succeed(s.conn)
	case clientStopped:
		return deferred.Fail[*deferredtcp.Conn](deferred.ErrCancelled)
	}
	w := &connWaiter{remaining: max(failAfterFailures, 0)}
	w.d = deferred.NewWithCanceller(func(*deferred.Deferred[*deferredtcp.Conn]) {
		s.waiters = slices.DeleteFunc(s.waiters, func(x *connWaiter) bool { return x == w })
	})
	s.waiters = append(s.waiters, w)
	return w.d
}

// WhenConnectedProtocol is [ClientService.WhenConnected] for a service made
// [WithProtocol]: it fires with the protocol serving the connection.
func (s *ClientService) WhenConnectedProtocol(failAfterFailures int) *deferred.Deferred[deferredtcp.Protocol] {
	return deferred.Then(s.WhenConnected(failAfterFailures), func(c *deferredtcp.Conn) (deferredtcp.Protocol, error) {
		if c != s.conn || s.proto == nil {
			return nil, ErrNoProtocol
		}
		return s.proto, nil
	})
}

// connect starts an attempt.
func (s *ClientService) connect() {
	d := callDial(s.dial)
	s.attempt = d
	d.AddBoth(func(c *deferredtcp.Conn, f *failure.Failure) (*deferredtcp.Conn, error) {
		if s.attempt == d {
			s.attempt = nil
		}
		if f != nil {
			s.attemptFailed(f)
		} else {
			s.connected(c)
		}
		return nil, nil // reported by attemptFailed
	})
}

func callDial(dial Dial) (d *deferred.Deferred[*deferredtcp.Conn]) {
	defer func() {
		if v := recover(); v != nil {
			d = deferred.Fail[*deferredtcp.Conn](failure.FromPanic(v))
		}
	}()
	if d = dial(); d == nil {
		d = deferred.Fail[*deferredtcp.Conn](errors.New("service: Dial returned a nil Deferred"))
	}
	return d
}

func (s *ClientService) connected(c *deferredtcp.Conn) {
	if s.state != clientConnecting {
		c.Abort() // no one wants it any more
		if s.state == clientDisconnecting {
			// A dial whose cancellation delivered a connection anyway.
			s.state = clientStopped
			s.cancelWaiters()
			s.finishStopping()
		}
		return
	}
	if f := s.cfg.factory; f != nil {
		p := f.BuildProtocol(c.RemoteAddr())
		if p == nil {
			c.Abort()
			s.attemptFailed(failure.New(ErrNoProtocol))
			return
		}
		s.proto = p
		deferredtcp.ServeProtocol(c, p)
	}
	s.failures = 0
	s.conn = c
	s.state = clientConnected
	s.cfg.logger.Info("service: connected", "service", s.name, "peer", addr(c.RemoteAddr()))
	waiting := s.waiters
	s.waiters = nil
	for _, w := range waiting {
		w.d.Callback(c)
	}
	c.Lost().AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
		if s.conn == c {
			s.disconnected(f)
		}
		return struct{}{}, nil // reported by disconnected
	})
}

func (s *ClientService) attemptFailed(f *failure.Failure) {
	switch s.state {
	case clientConnecting:
		s.failures++
		delay := s.scheduleRetry()
		s.cfg.logger.Info("service: connection attempt failed; retrying",
			"service", s.name, "attempt", s.failures, "delay", delay, "err", f.Error())
		s.deliverFailure(f)
	case clientDisconnecting:
		s.state = clientStopped
		s.cancelWaiters()
		s.finishStopping()
	default:
		s.cfg.logger.Info("service: connection attempt failed", "service", s.name, "err", f.Error())
	}
}

// scheduleRetry starts the retry timer, for the policy's delay after
// s.failures failures.
func (s *ClientService) scheduleRetry() time.Duration {
	delay := max(s.policy(s.failures), 0)
	s.state = clientWaiting
	s.retry = s.clock.Schedule(delay, s.reconnect)
	return delay
}

func (s *ClientService) reconnect() {
	s.retry = nil
	if s.state != clientWaiting {
		return
	}
	s.state = clientConnecting
	s.connect()
}

// deliverFailure fails the waiters whose failAfterFailures is reached.
func (s *ClientService) deliverFailure(f *failure.Failure) {
	var ready []*connWaiter
	s.waiters = slices.DeleteFunc(s.waiters, func(w *connWaiter) bool {
		switch {
		case w.remaining == 0:
			return false
		case w.remaining == 1:
			ready = append(ready, w)
			return true
		}
		w.remaining--
		return false
	})
	for _, w := range ready {
		w.d.Errback(f)
	}
}

func (s *ClientService) disconnected(reason *failure.Failure) {
	s.conn, s.proto = nil, nil
	switch s.state {
	case clientConnected:
		s.failures++
		delay := s.scheduleRetry()
		s.cfg.logger.Info("service: connection lost; reconnecting",
			"service", s.name, "delay", delay, "reason", reasonAttr(reason))
	case clientDisconnecting:
		s.state = clientStopped
		s.cancelWaiters()
		s.finishStopping()
	case clientRestarting:
		s.finishStopping()
		s.state = clientConnecting
		s.connect()
	}
}

func (s *ClientService) cancelWaiters() {
	waiting := s.waiters
	s.waiters = nil
	for _, w := range waiting {
		w.d.Errback(deferred.ErrCancelled)
	}
}

func (s *ClientService) finishStopping() {
	waiting := s.stopWaiters
	s.stopWaiters = nil
	fireAll(waiting, nil)
}

func (s *ClientService) logCloseFailure(f *failure.Failure) (struct{}, error) {
	s.cfg.logger.Info("service: closing the connection failed", "service", s.name, "err", f.Error())
	return struct{}{}, nil
}

func addr(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// reasonAttr is a connection's Lost reason for a log: "closed" when clean.
func reasonAttr(f *failure.Failure) string {
	if f == nil {
		return "closed"
	}
	return f.Error()
}

var _ Service = (*ClientService)(nil)
