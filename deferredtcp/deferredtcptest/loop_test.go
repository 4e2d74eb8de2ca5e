package deferredtcptest_test

import (
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/deferredtcp/deferredtcptest"
)

// newLoop returns a Loop stopped when the test ends.
func newLoop(t *testing.T) *deferredtcptest.Loop {
	t.Helper()
	deferredtest.NoUnhandled(t)
	loop := deferredtcptest.NewLoop()
	t.Cleanup(loop.Stop)
	return loop
}

// result returns what d fired with; it fails the test if d has not fired.
func result[T any](t *testing.T, d *deferred.Deferred[T]) (T, error) {
	t.Helper()
	require.True(t, d.Called(), "the Deferred has fired")
	return d.Wait(t.Context())
}

// connected returns a server and a client Conn connected over loop's
// network, at address.
func connected(t *testing.T, loop *deferredtcptest.Loop, address string, opts ...deferredtcp.Option) (server, client *deferredtcp.Conn) {
	t.Helper()
	l, err := result(t, deferredtcp.Listen(loop, "tcp", address, opts...))
	require.NoError(t, err)
	accepted := l.Accept()
	dialed := deferredtcp.Connect(loop, "tcp", l.Addr().String(), opts...)
	loop.Flush()
	server, err = result(t, accepted)
	require.NoError(t, err)
	client, err = result(t, dialed)
	require.NoError(t, err)
	l.Close()
	return server, client
}

func TestLoopMovesBytesWhenFlushed(t *testing.T) {
	loop := newLoop(t)
	server, client := connected(t, loop, "server:80")
	assert.Equal(t, "server:80", client.RemoteAddr().String())
	assert.Equal(t, client.LocalAddr(), server.RemoteAddr())
	client.Write([]byte("hello"))
	read := server.Read()
	assert.False(t, read.Called(), "nothing moves until the loop runs")
	loop.Flush()
	p, err := result(t, read)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(p))

	client.CloseWrite()
	loop.Flush()
	_, err = result(t, server.Read())
	assert.ErrorIs(t, err, io.EOF)
	server.Write([]byte("half-closed: still writable"))
	server.Close()
	loop.Flush()
	p, err = result(t, client.Read())
	require.NoError(t, err)
	assert.Equal(t, "half-closed: still writable", string(p))
	_, err = result(t, client.Lost())
	assert.NoError(t, err, "both sides shut down: a clean close")
}

// A write bigger than the window waits for the reader: Write's Deferred
// fires once the reader has drained it below the low watermark.
func TestLoopBackpressure(t *testing.T) {
	loop := newLoop(t)
	server, client := connected(t, loop, "server:80", deferredtcp.WithWatermarks(16<<10, 4<<10))
	w := client.Write(make([]byte, 1<<20))
	loop.Flush()
	assert.False(t, w.Called(), "the reader reads nothing: the writer waits")
	assert.Greater(t, client.Buffered(), 16<<10)
	got := 0
	server.OnData(func(p []byte) { got += len(p) })
	loop.Flush()
	n, err := result(t, w)
	require.NoError(t, err)
	assert.Equal(t, 1<<20, n)
	assert.Equal(t, 1<<20, got)
}

// The case: an idle timeout on the fake clock, with no sleeping.
func TestLoopIdleTimeout(t *testing.T) {
	loop := newLoop(t)
	server, client := connected(t, loop, "server:80")
	server.SetIdleTimeout(30 * time.Second)
	serverLost, clientRead := server.Lost(), client.Read()
	loop.Advance(29 * time.Second)
	assert.False(t, serverLost.Called())
	client.Write([]byte("ping")) // activity at 29 s: the timeout starts over
	loop.Advance(29 * time.Second)
	assert.False(t, serverLost.Called(), "58 s: 29 s since the last byte")
	loop.Advance(time.Second)
	_, err := result(t, serverLost)
	assert.ErrorIs(t, err, deferredtcp.ErrIdleTimeout)
	assert.Equal(t, 59*time.Second, loop.Now().Sub(deferredtcptest.Epoch))
	_, err = result(t, clientRead)
	assert.ErrorIs(t, err, io.EOF, "the server closed cleanly: the client reads the end of the stream")
	clientLost := client.Close()
	loop.Flush()
	_, err = result(t, clientLost)
	assert.NoError(t, err)
}

// The case: a connect timeout on the fake clock.
func TestLoopConnectTimeout(t *testing.T) {
	loop := newLoop(t)
	loop.MemoryNetwork().SetUnreachable("blackhole:80", true)
	d := deferredtcp.Connect(loop, "tcp", "blackhole:80", deferredtcp.WithTimeout(5*time.Second))
	loop.Advance(5*time.Second - time.Millisecond)
	assert.False(t, d.Called())
	loop.Advance(time.Millisecond)
	_, err := result(t, d)
	assert.ErrorIs(t, err, deferredtcp.ErrConnectTimeout)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())

	refused := deferredtcp.Connect(loop, "tcp", "nobody:80")
	loop.Flush()
	_, err = result(t, refused)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
}

// recorder is a ReconnectingClientFactory that notes when each attempt
// starts.
type recorder struct {
	deferredtcp.ReconnectingClientFactory
	loop     *deferredtcptest.Loop
	attempts []time.Duration
	made     int
}

func (f *recorder) StartedConnecting(c *deferredtcp.Connector) {
	f.attempts = append(f.attempts, f.loop.Now().Sub(deferredtcptest.Epoch))
	f.ReconnectingClientFactory.StartedConnecting(c)
}

func (f *recorder) BuildProtocol(net.Addr) deferredtcp.Protocol {
	f.made++
	return &deferredtcp.BaseProtocol{}
}

// The case: a reconnection schedule on the fake clock — Twisted's
// delays (×e per retry, no jitter here), a reset once connected, and the
// retries after the connection is lost.
func TestLoopReconnectSchedule(t *testing.T) {
	loop := newLoop(t)
	f := &recorder{loop: loop}
	f.Jitter = -1
	connector := deferredtcp.ConnectTCP(loop, "server:80", f)
	loop.Advance(time.Minute)
	e := deferredtcp.DefaultFactor
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	want := []time.Duration{0, sec(e), sec(e) + sec(e*e), sec(e) + sec(e*e) + sec(e*e*e)}
	require.Len(t, f.attempts, 4, "refused at once, retried after e, e², e³ seconds")
	for i := range want {
		assert.InDelta(t, want[i], f.attempts[i], float64(time.Microsecond), "attempt %d", i)
	}
	assert.Equal(t, 4, f.Retries())

	// A server comes up: the next retry (after e⁴ s) connects, and resets the delay.
	l, err := result(t, deferredtcp.Listen(loop, "tcp", "server:80"))
	require.NoError(t, err)
	var server *deferredtcp.Conn
	l.Serve(func(c *deferredtcp.Conn) { server = c })
	loop.Advance(sec(e * e * e * e))
	require.Equal(t, 1, f.made)
	require.NotNil(t, server)
	assert.Equal(t, 0, f.Retries(), "connected: the delay is reset")

	// The server hangs up: the connector retries e seconds later.
	lostAt := loop.Now().Sub(deferredtcptest.Epoch)
	server.Close()
	loop.Advance(sec(e) - time.Millisecond)
	require.Len(t, f.attempts, 5)
	loop.Advance(time.Millisecond)
	require.Len(t, f.attempts, 6)
	assert.InDelta(t, lostAt+sec(e), f.attempts[5], float64(time.Microsecond))
	loop.Flush()
	assert.Equal(t, 2, f.made)
	f.StopTrying()
	connector.Disconnect()
	loop.Flush()
}

// Stop closes what is open, as a reactor's shutdown does; Listen and Connect
// fail afterwards.
func TestLoopStop(t *testing.T) {
	loop := newLoop(t)
	server, client := connected(t, loop, "server:80")
	l, err := result(t, deferredtcp.Listen(loop, "tcp", "server:81"))
	require.NoError(t, err)
	serverLost, clientLost, closed := server.Lost(), client.Lost(), l.Close()
	loop.Stop()
	for _, d := range []*deferred.Deferred[struct{}]{serverLost, clientLost, closed} {
		_, err = result(t, d)
		assert.NoError(t, err)
	}
	_, err = result(t, deferredtcp.Listen(loop, "tcp", "server:81"))
	assert.Error(t, err)
	_, err = result(t, deferredtcp.Connect(loop, "tcp", "server:80"))
	assert.Error(t, err)
}

// hearer is a client protocol that says hello and keeps what it hears.
type hearer struct {
	deferredtcp.LineReceiver
	heard []string
}

func (h *hearer) ConnectionMade(deferredtcp.Transport) { h.SendLine([]byte("hello")) }
func (h *hearer) LineReceived(line []byte)             { h.heard = append(h.heard, string(line)) }

// Twisted-style protocols (ListenTCP, ConnectTCP) run on a Loop as well.
func TestLoopServesProtocols(t *testing.T) {
	loop := newLoop(t)
	_, err := result(t, deferredtcp.ListenTCP(loop, "server:80", deferredtcp.FactoryFunc(func(net.Addr) deferredtcp.Protocol {
		return &Shouter{}
	})))
	require.NoError(t, err)
	client := &hearer{}
	f := &deferredtcp.BaseClientFactory{}
	f.NewProtocol = func() deferredtcp.Protocol { return client }
	connector := deferredtcp.ConnectTCP(loop, "server:80", f)
	loop.Flush()
	assert.Equal(t, []string{"HELLO"}, client.heard)
	connector.Disconnect()
	loop.Flush()
	assert.False(t, client.Connected)
}
