package deferredtcp_test

import (
	"bytes"
	"errors"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// echoProtocol writes back what it reads (the Twisted tutorial's Echo).
type echoProtocol struct {
	deferredtcp.BaseProtocol
	made   int
	lost   *failure.Failure
	onLost func()
}

func (e *echoProtocol) ConnectionMade(deferredtcp.Transport) { e.made++ }
func (e *echoProtocol) DataReceived(p []byte)                { e.Transport.Write(p) }
func (e *echoProtocol) ConnectionLost(reason *failure.Failure) {
	e.lost = reason
	if e.onLost != nil {
		e.onLost()
	}
}

// countingFactory builds echo protocols and counts its starts and stops.
type countingFactory struct {
	built          []*echoProtocol
	starts, stops  int
	addrs          []net.Addr
	returnNil      bool
	onLostProtocol func()
}

func (f *countingFactory) BuildProtocol(addr net.Addr) deferredtcp.Protocol {
	f.addrs = append(f.addrs, addr)
	if f.returnNil {
		return nil
	}
	p := &echoProtocol{onLost: f.onLostProtocol}
	f.built = append(f.built, p)
	return p
}
func (f *countingFactory) StartFactory() { f.starts++ }
func (f *countingFactory) StopFactory()  { f.stops++ }

// sayClient sends its message, gathers what comes back, and closes once
// it has want bytes.
type sayClient struct {
	deferredtcp.BaseProtocol
	msg  []byte
	want int
	got  []byte
	lost *failure.Failure
}

func (c *sayClient) ConnectionMade(t deferredtcp.Transport) {
	t.WriteSequence([][]byte{c.msg[:1], c.msg[1:]})
}

func (c *sayClient) DataReceived(p []byte) {
	c.got = append(c.got, p...)
	if len(c.got) >= c.want {
		c.Transport.LoseConnection()
	}
}

func (c *sayClient) ConnectionLost(reason *failure.Failure) { c.lost = reason }

// clientEvents is a ClientFactory recording its callbacks.
type clientEvents struct {
	deferredtcp.BaseClientFactory
	build   func() deferredtcp.Protocol
	started int
	failed  []*failure.Failure
	lostR   []*failure.Failure
	onEnd   func(c *deferredtcp.Connector)
}

func (f *clientEvents) BuildProtocol(net.Addr) deferredtcp.Protocol { return f.build() }
func (f *clientEvents) StartedConnecting(*deferredtcp.Connector)    { f.started++ }
func (f *clientEvents) ClientConnectionFailed(c *deferredtcp.Connector, reason *failure.Failure) {
	f.failed = append(f.failed, reason)
	if f.onEnd != nil {
		f.onEnd(c)
	}
}
func (f *clientEvents) ClientConnectionLost(c *deferredtcp.Connector, reason *failure.Failure) {
	f.lostR = append(f.lostR, reason)
	if f.onEnd != nil {
		f.onEnd(c)
	}
}

func TestProtocolEcho(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		server := &countingFactory{}
		l1 := record(deferredtcp.ListenTCP(r, "127.0.0.1:0", server))
		l2 := record(deferredtcp.ListenTCP(r, "127.0.0.1:0", server))
		require.True(t, l1.done)
		require.NoError(t, l1.err)
		require.NoError(t, l2.err)
		assert.Equal(t, 1, server.starts, "StartFactory once for two listeners")

		msg := []byte("hello, twisted")
		client := &sayClient{msg: msg, want: len(msg)}
		cf := &clientEvents{build: func() deferredtcp.Protocol { return client }}
		var connector *deferredtcp.Connector
		cf.onEnd = func(*deferredtcp.Connector) {
			deferred.All(l1.value.Close(), l2.value.Close()).AddCallback(func([]struct{}) ([]struct{}, error) {
				r.Stop()
				return nil, nil
			})
		}
		r.CallWhenRunning(func() {
			connector = deferredtcp.ConnectTCP(r, l1.value.Addr().String(), cf)
			assert.ErrorIs(t, connector.Connect(), deferredtcp.ErrConnectorBusy)
		})
		run(t, r)

		assert.Equal(t, msg, client.got)
		require.NotNil(t, client.lost)
		assert.ErrorIs(t, client.lost, deferredtcp.ErrConnectionDone)
		assert.False(t, client.Connected)
		assert.Equal(t, 1, cf.started)
		assert.Empty(t, cf.failed)
		require.Len(t, cf.lostR, 1)
		assert.ErrorIs(t, cf.lostR[0], deferredtcp.ErrConnectionDone)
		assert.Nil(t, connector.Transport())

		require.Len(t, server.built, 1)
		p := server.built[0]
		assert.Equal(t, 1, p.made)
		require.NotNil(t, p.lost)
		assert.ErrorIs(t, p.lost, deferredtcp.ErrConnectionDone, "the peer's EOF closes the connection cleanly")
		assert.Equal(t, 1, server.stops, "StopFactory once, after the last listener")
	})
}

func TestBuildProtocolNilClosesConnection(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		server := &countingFactory{returnNil: true}
		l := record(deferredtcp.ListenTCP(r, "127.0.0.1:0", server))
		require.NoError(t, l.err)
		client := &sayClient{msg: []byte("x"), want: 1}
		cf := &clientEvents{build: func() deferredtcp.Protocol { return client }}
		cf.onEnd = func(*deferredtcp.Connector) { r.Stop() }
		r.CallWhenRunning(func() { deferredtcp.ConnectTCP(r, l.value.Addr().String(), cf) })
		run(t, r)
		require.Len(t, server.addrs, 1)
		assert.Equal(t, "127.0.0.1", server.addrs[0].(*net.TCPAddr).IP.String())
		require.Len(t, cf.lostR, 1)
		assert.Empty(t, client.got)
	})
}

func TestClientConnectionFailedAndStopConnecting(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		probe := listen(t, r)
		addr := probe.Addr().String()
		probe.Close()

		refused := &clientEvents{build: func() deferredtcp.Protocol { return &deferredtcp.BaseProtocol{} }}
		stopped := &clientEvents{build: func() deferredtcp.Protocol { return &deferredtcp.BaseProtocol{} }}
		ends := 0
		end := func(*deferredtcp.Connector) {
			if ends++; ends == 2 {
				r.Stop()
			}
		}
		refused.onEnd, stopped.onEnd = end, end
		var stopErr, secondStop error
		r.CallWhenRunning(func() {
			deferredtcp.ConnectTCP(r, addr, refused)
			c := deferredtcp.ConnectTCP(r, addr, stopped)
			stopErr = c.StopConnecting()
			secondStop = c.StopConnecting()
		})
		run(t, r)

		require.Len(t, refused.failed, 1)
		var opErr *net.OpError
		assert.ErrorAs(t, refused.failed[0], &opErr)
		require.NoError(t, stopErr)
		assert.ErrorIs(t, secondStop, deferredtcp.ErrNotConnecting)
		require.Len(t, stopped.failed, 1)
		assert.ErrorIs(t, stopped.failed[0], deferredtcp.ErrConnectingStopped)
	})
}

// panicky panics on the first bytes it gets.
type panicky struct {
	deferredtcp.BaseProtocol
	lost *failure.Failure
}

func (p *panicky) DataReceived([]byte)                    { panic("boom") }
func (p *panicky) ConnectionLost(reason *failure.Failure) { p.lost = reason }

func TestProtocolPanicAbortsConnection(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		server := &panicky{}
		l := record(deferredtcp.ListenTCP(r, "127.0.0.1:0", deferredtcp.FactoryFunc(func(net.Addr) deferredtcp.Protocol {
			return server
		})))
		require.NoError(t, l.err)
		client := &sayClient{msg: []byte("hi"), want: 1}
		cf := &clientEvents{build: func() deferredtcp.Protocol { return client }}
		cf.onEnd = func(*deferredtcp.Connector) { r.Stop() }
		r.CallWhenRunning(func() { deferredtcp.ConnectTCP(r, l.value.Addr().String(), cf) })
		run(t, r)
		require.NotNil(t, server.lost)
		assert.True(t, server.lost.Panicked())
		assert.Contains(t, server.lost.Error(), "boom")
		require.Len(t, cf.lostR, 1)
		assert.False(t, errors.Is(cf.lostR[0], deferredtcp.ErrConnectionDone), "a reset, not a clean close: %v", cf.lostR[0])
	})
}

// halfCloser answers once the peer has finished writing.
type halfCloser struct {
	deferredtcp.BaseProtocol
	got []byte
}

func (h *halfCloser) DataReceived(p []byte) { h.got = append(h.got, p...) }
func (h *halfCloser) ReadConnectionLost() {
	h.Transport.Write(bytes.ToUpper(h.got))
	h.Transport.LoseConnection()
}

// halfCloseClient writes, half-closes, and gathers the answer.
type halfCloseClient struct {
	deferredtcp.BaseProtocol
	got  []byte
	lost *failure.Failure
}

func (c *halfCloseClient) ConnectionMade(t deferredtcp.Transport) {
	t.Write([]byte("shout"))
	t.LoseWriteConnection()
}
func (c *halfCloseClient) DataReceived(p []byte)                  { c.got = append(c.got, p...) }
func (c *halfCloseClient) ConnectionLost(reason *failure.Failure) { c.lost = reason }

func TestHalfCloseableProtocol(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := record(deferredtcp.ListenTCP(r, "127.0.0.1:0", &deferredtcp.BaseFactory{
			NewProtocol: func() deferredtcp.Protocol { return &halfCloser{} },
		}))
		require.NoError(t, l.err)
		client := &halfCloseClient{}
		cf := &clientEvents{build: func() deferredtcp.Protocol { return client }}
		cf.onEnd = func(*deferredtcp.Connector) { r.Stop() }
		r.CallWhenRunning(func() { deferredtcp.ConnectTCP(r, l.value.Addr().String(), cf) })
		run(t, r)
		assert.Equal(t, "SHOUT", string(client.got))
		assert.ErrorIs(t, client.lost, deferredtcp.ErrConnectionDone)
	})
}

// order records the calls a protocol gets.
type order struct {
	deferredtcp.BaseProtocol
	calls      []string
	loseAtMade bool
}

func (o *order) ConnectionMade(t deferredtcp.Transport) {
	o.calls = append(o.calls, "made")
	if o.loseAtMade {
		t.LoseConnection()
	}
}
func (o *order) DataReceived(p []byte) { o.calls = append(o.calls, "data "+string(p)) }
func (o *order) ConnectionLost(reason *failure.Failure) {
	o.calls = append(o.calls, "lost "+reason.Error())
}

func TestServeProtocolCallOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		// A connection already closed: ConnectionMade still comes first.
		a, b := deferredtcp.Pipe(r)
		a.Abort()
		closed := &order{}
		deferredtcp.ServeProtocol(a, closed)

		// A protocol closing in ConnectionMade gets no data.
		c, d := deferredtcp.Pipe(r)
		d.Write([]byte("ignored"))
		quick := &order{loseAtMade: true}
		deferredtcp.ServeProtocol(c, quick)
		b.Close()
		d.Lost().AddBoth(func(struct{}, *failure.Failure) (struct{}, error) {
			r.Stop()
			return struct{}{}, nil
		})
		d.OnEOF(func() { d.Close() })
		run(t, r)
		assert.Equal(t, []string{"made", "lost " + deferredtcp.ErrAborted.Error()}, closed.calls)
		assert.Equal(t, []string{"made", "lost " + deferredtcp.ErrConnectionDone.Error()}, quick.calls)
	})
}
