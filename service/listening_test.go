package service_test

import (
	"bufio"
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/service"
)

// shout answers one line upper-cased, then closes.
func shout(c *deferredtcp.Conn) {
	c.ReadUntil([]byte("\n"), 1024).AddCallbacks(func(line []byte) ([]byte, error) {
		c.Write(append([]byte("HI "), append(line, '\n')...))
		c.Close()
		return line, nil
	}, func(*failure.Failure) ([]byte, error) {
		c.Close()
		return nil, nil
	})
}

func ask(t *testing.T, addr string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("there\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	return line
}

func TestListeningServiceListensWhileRunning(t *testing.T) {
	deferredtest.NoUnhandled(t)
	l := newLoop(t)
	var s *service.ListeningService
	var addr string
	l.do(t, func() {
		s = service.TCPServerFunc(l.r, "127.0.0.1:0", shout)
		assert.Equal(t, "tcp:127.0.0.1:0", s.Name())
		assert.Nil(t, s.Addr())
		require.NoError(t, watch(s.StartService()).err)
		require.True(t, s.Running())
		addr = s.Addr().String()
	})
	assert.Equal(t, "HI there\n", ask(t, addr))

	stopped := make(chan struct{})
	l.do(t, func() {
		s.StopService().AddBoth(func(struct{}, *failure.Failure) (struct{}, error) { close(stopped); return struct{}{}, nil })
	})
	wait(t, stopped)
	_, err := net.Dial("tcp", addr)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED, "no longer listening")
}

func TestListeningServiceStartFailsWhenThePortIsTaken(t *testing.T) {
	deferredtest.NoUnhandled(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	l := newLoop(t)
	l.do(t, func() {
		s := service.TCPServerFunc(l.r, taken.Addr().String(), shout)
		assert.ErrorIs(t, watch(s.StartService()).err, syscall.EADDRINUSE)
		assert.False(t, s.Running())
		require.NoError(t, watch(s.StopService()).err)
	})
}

// echoProto is a Twisted-style protocol: it answers every chunk.
type echoProto struct{ deferredtcp.BaseProtocol }

func (p *echoProto) DataReceived(data []byte) { p.Transport.Write(append([]byte("HI "), data...)) }

func TestEndpointServer(t *testing.T) {
	deferredtest.NoUnhandled(t)
	l := newLoop(t)
	_, err := service.EndpointServer(l.r, "tcp:port=nope", deferredtcp.FactoryFunc(nil))
	require.ErrorIs(t, err, deferredtcp.ErrBadEndpoint)

	var s *service.ListeningService
	var addr string
	l.do(t, func() {
		s, err = service.EndpointServer(l.r, "tcp:0:interface=127.0.0.1",
			deferredtcp.FactoryFunc(func(net.Addr) deferredtcp.Protocol { return &echoProto{} }))
		require.NoError(t, err)
		require.NoError(t, watch(s.StartService()).err)
		addr = s.Addr().String()
	})
	assert.Equal(t, "HI there\n", ask(t, addr))
	l.do(t, func() { s.StopService() })

	l.do(t, func() {
		s, err = service.EndpointServerFunc(l.r, "tcp:0:interface=127.0.0.1", shout)
		require.NoError(t, err)
		assert.Equal(t, "tcp:0:interface=127.0.0.1", s.Name())
		require.NoError(t, watch(s.StartService()).err)
		addr = s.Addr().String()
	})
	assert.Equal(t, "HI there\n", ask(t, addr))
	l.do(t, func() { s.StopService() })
}
