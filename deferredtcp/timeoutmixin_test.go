package deferredtcp_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/deferredtcp/deferredtcptest"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// session echoes lines and times out after 10 s (or timeout) without one.
type session struct {
	deferredtcp.LineReceiver
	deferredtcp.TimeoutMixin
	clock   reactor.Scheduler
	timeout time.Duration
}

func (s *session) ConnectionMade(deferredtcp.Transport) {
	s.InitTimeout(s.clock, s)
	if s.timeout == 0 {
		s.timeout = 10 * time.Second
	}
	s.SetTimeout(s.timeout)
}

func (s *session) LineReceived(line []byte) {
	s.ResetTimeout()
	s.SendLine(line)
}

// politeSession says goodbye before it closes on a timeout.
type politeSession struct{ session }

func (p *politeSession) TimeoutConnection() {
	p.SendLine([]byte("bye"))
	p.Transport.LoseConnection()
}

// TestTimeoutMixinClosesCleanly runs a protocol's timeout on a fake clock:
// lines reset it, and once 10 s pass without one the connection is closed
// with LoseConnection, not aborted.
func TestTimeoutMixinClosesCleanly(t *testing.T) {
	clock := reactor.NewClock(epoch)
	s := &session{clock: clock}
	tr := deferredtcptest.NewStringTransport()
	deferredtcp.MakeConnection(s, tr)
	require.Equal(t, 10*time.Second, s.Timeout())

	clock.Advance(9 * time.Second)
	s.DataReceived([]byte("still here\r\n"))
	clock.Advance(9 * time.Second)
	require.False(t, tr.Closed, "the line reset the countdown")
	s.DataReceived([]byte("and here\r\n"))
	clock.Advance(9*time.Second + 999*time.Millisecond)
	require.False(t, tr.Closed)
	clock.Advance(time.Millisecond)
	require.True(t, tr.Closed, "10 s without a line")
	require.False(t, tr.Aborted, "closed cleanly")
	require.Equal(t, "still here\r\nand here\r\n", string(tr.Value()))
	require.Empty(t, clock.Pending())
}

// TestTimeoutMixinOverride has the protocol replace TimeoutConnection.
func TestTimeoutMixinOverride(t *testing.T) {
	clock := reactor.NewClock(epoch)
	p := &politeSession{session{clock: clock}}
	tr := deferredtcptest.NewStringTransport()
	deferredtcp.MakeConnection(p, tr)
	clock.Advance(10 * time.Second)
	require.Equal(t, "bye\r\n", string(tr.Value()))
	require.True(t, tr.Closed)
}

// TestTimeoutMixinSetAndCancel checks SetTimeout: it returns the previous
// timeout, restarts the countdown with the new one, and 0 cancels it.
func TestTimeoutMixinSetAndCancel(t *testing.T) {
	clock := reactor.NewClock(epoch)
	s := &session{clock: clock}
	tr := deferredtcptest.NewStringTransport()
	deferredtcp.MakeConnection(s, tr)

	clock.Advance(8 * time.Second)
	require.Equal(t, 10*time.Second, s.SetTimeout(5*time.Second))
	clock.Advance(4 * time.Second)
	require.False(t, tr.Closed, "the new timeout counts from its SetTimeout")
	clock.Advance(time.Second)
	require.True(t, tr.Closed)

	s2 := &session{clock: clock}
	tr2 := deferredtcptest.NewStringTransport()
	deferredtcp.MakeConnection(s2, tr2)
	require.Equal(t, 10*time.Second, s2.SetTimeout(0))
	require.Empty(t, clock.Pending(), "no timer left")
	s2.ResetTimeout() // no timeout: nothing to reset
	clock.Advance(time.Hour)
	require.False(t, tr2.Closed)
	require.Equal(t, time.Duration(0), s2.SetTimeout(time.Second))
	clock.Advance(time.Second)
	require.True(t, tr2.Closed)
}

// TestTimeoutMixinAfterConnectionLost lets the timeout pass after the
// connection was lost: nothing happens.
func TestTimeoutMixinAfterConnectionLost(t *testing.T) {
	clock := reactor.NewClock(epoch)
	p := &politeSession{session{clock: clock}}
	tr := deferredtcptest.NewStringTransport()
	deferredtcp.MakeConnection(p, tr)
	deferredtcp.LoseProtocol(p, nil)
	clock.Advance(time.Minute)
	require.Empty(t, tr.Value())
	require.False(t, tr.Closed)
}

// bare embeds no BaseProtocol.
type bare struct{ deferredtcp.TimeoutMixin }

func (*bare) ConnectionMade(deferredtcp.Transport) {}
func (*bare) DataReceived([]byte)                  {}
func (*bare) ConnectionLost(*failure.Failure)      {}

// TestTimeoutMixinMisuse checks the panics that tell a programmer what is
// missing.
func TestTimeoutMixinMisuse(t *testing.T) {
	var m deferredtcp.TimeoutMixin
	require.PanicsWithValue(t, "deferredtcp: TimeoutMixin used before InitTimeout", func() { m.SetTimeout(time.Second) })

	s := &session{}
	s.InitTimeout(nil, s)
	require.PanicsWithValue(t, "deferredtcp: TimeoutMixin has no clock: pass InitTimeout one, or serve the protocol over a Conn",
		func() { s.SetTimeout(time.Second) })

	clock := reactor.NewClock(epoch)
	b := &bare{}
	b.InitTimeout(clock, b)
	b.SetTimeout(time.Second)
	require.Panics(t, func() { clock.Advance(time.Second) }, "the default TimeoutConnection needs a BaseProtocol")
}

// TestTimeoutMixinOnReactor serves a protocol over a Pipe with no clock
// given: the connection's reactor times it out, and the peer sees a clean
// end of stream.
func TestTimeoutMixinOnReactor(t *testing.T) {
	const timeout = 20 * time.Millisecond
	r := reactor.New()
	a, b := deferredtcp.Pipe(r)
	deferredtcp.ServeProtocol(a, &session{timeout: timeout}) // no clock: a's reactor's
	start := r.Now()
	all := readAll(b)
	eof := record(all)
	after(all, stop(r))
	run(t, r)
	require.NoError(t, eof.err, "a clean close: the peer reads EOF")
	require.GreaterOrEqual(t, r.Now().Sub(start), timeout)
}
