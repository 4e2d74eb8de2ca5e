package deferredtcp

import (
	"time"

	"github.com/twistgo/twist/reactor"
)

// TimeoutMixin gives a [Protocol] a timeout that closes its connection when
// nothing resets it in time (Twisted's policies.TimeoutMixin). Embed it
// beside a [BaseProtocol] (or a receiver, which embeds one), bind it with
// [TimeoutMixin.InitTimeout] in ConnectionMade, and call
// [TimeoutMixin.ResetTimeout] whenever the connection shows life:
//
//	type Session struct {
//		deferredtcp.LineReceiver
//		deferredtcp.TimeoutMixin
//	}
//
//	func (s *Session) ConnectionMade(deferredtcp.Transport) {
//		s.InitTimeout(nil, s) // nil: the connection's reactor keeps the time
//		s.SetTimeout(30 * time.Second)
//	}
//
//	func (s *Session) LineReceived(line []byte) {
//		s.ResetTimeout()
//		// ...
//	}
//
// When the timeout passes, the mixin calls the protocol's
// TimeoutConnection: its own (below) closes the connection cleanly, with
// LoseConnection, and a protocol that defines its own replaces it — to say
// goodbye first, say. A timeout that comes after ConnectionLost does
// nothing.
//
// Chain-style code has [Conn.SetIdleTimeout] instead, which also counts
// writes as activity. The mixin's methods belong to the loop goroutine (or,
// on a [reactor.Clock], to the goroutine that advances it).
type TimeoutMixin struct {
	clock   reactor.Scheduler
	p       Protocol
	timeout time.Duration
	last    time.Time // when the countdown last started
	call    *reactor.DelayedCall
	firedFn func()
}

// timeoutConnector is a protocol with a TimeoutConnection method: every
// protocol that embeds a TimeoutMixin.
type timeoutConnector interface{ TimeoutConnection() }

// InitTimeout binds m to the protocol p that embeds it and to the clock its
// timeouts run on: a Reactor or, in tests, a [reactor.Clock]. A nil clock
// means the reactor of p's connection, which then must be served by this
// package's adapter (ServeProtocol, ListenTCP, ConnectTCP, ...). Call it
// before the other methods, typically at the start of ConnectionMade. p may
// also be a type the protocol embeds: once [MakeConnection] has run, the
// protocol it was given is the one whose TimeoutConnection is called.
func (m *TimeoutMixin) InitTimeout(clock reactor.Scheduler, p Protocol) {
	if b, ok := p.(embedsBase); ok && b.baseProtocol().self != nil {
		// The protocol MakeConnection was given: the outermost, whose
		// TimeoutConnection counts, even when p is a type it embeds.
		p = b.baseProtocol().self
	}
	m.p = p
	m.clock = clock
	if m.firedFn == nil {
		m.firedFn = m.fired
	}
}

// SetTimeout sets the timeout to d and restarts its countdown from now, or
// cancels it when d <= 0 (Twisted's setTimeout(None)). It returns the
// previous timeout, 0 if none was set. It panics if InitTimeout was not
// called, or was given no clock for a protocol whose connection has none.
func (m *TimeoutMixin) SetTimeout(d time.Duration) (previous time.Duration) {
	previous = m.timeout
	if d <= 0 {
		m.timeout = 0
		if m.call != nil {
			m.call.Cancel()
			m.call = nil
		}
		return previous
	}
	clock := m.scheduler()
	m.timeout = d
	m.last = clock.Now()
	if m.call != nil && m.call.Reset(d) == nil {
		return previous
	}
	m.call = clock.Schedule(d, m.firedFn)
	return previous
}

// ResetTimeout restarts the countdown from now, if a timeout is set and
// has not passed yet (Twisted's resetTimeout). It costs a clock reading:
// call it as often as data comes.
func (m *TimeoutMixin) ResetTimeout() {
	if m.call != nil {
		m.last = m.clock.Now()
	}
}

// Timeout returns the timeout SetTimeout set last, 0 if none.
func (m *TimeoutMixin) Timeout() time.Duration { return m.timeout }

// TimeoutConnection is called when the timeout passes: it closes the
// connection cleanly, with the LoseConnection of the Transport of the
// protocol's BaseProtocol. A protocol that embeds no BaseProtocol must
// define its own TimeoutConnection.
func (m *TimeoutMixin) TimeoutConnection() {
	b, ok := m.p.(embedsBase)
	if !ok || b.baseProtocol().Transport == nil {
		panic("deferredtcp: TimeoutMixin's TimeoutConnection needs a protocol that embeds a BaseProtocol; define TimeoutConnection on the protocol")
	}
	b.baseProtocol().Transport.LoseConnection()
}

// fired runs when the countdown may be over; a ResetTimeout since it began
// moves it on instead.
func (m *TimeoutMixin) fired() {
	m.call = nil
	if left := m.timeout - m.clock.Now().Sub(m.last); left > 0 {
		m.call = m.clock.Schedule(left, m.firedFn)
		return
	}
	if b, ok := m.p.(embedsBase); ok && !b.baseProtocol().Connected {
		return // ConnectionLost has run
	}
	if tc, ok := m.p.(timeoutConnector); ok {
		tc.TimeoutConnection()
		return
	}
	m.TimeoutConnection()
}

// scheduler returns m's clock, taking the connection's reactor when
// InitTimeout was given none.
func (m *TimeoutMixin) scheduler() reactor.Scheduler {
	if m.p == nil {
		panic("deferredtcp: TimeoutMixin used before InitTimeout")
	}
	if m.clock != nil {
		return m.clock
	}
	if b, ok := m.p.(embedsBase); ok {
		if rc, ok := b.baseProtocol().Transport.(ConnTransport); ok {
			m.clock = rc.Conn().Loop()
			return m.clock
		}
	}
	panic("deferredtcp: TimeoutMixin has no clock: pass InitTimeout one, or serve the protocol over a Conn")
}
