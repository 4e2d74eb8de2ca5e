package main

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/examples/internal/extest"
)

func TestMain(m *testing.M) { extest.Main(m, main) }

func TestConnectsAndDisconnects(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	accepted := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			var b [1]byte
			_, err = c.Read(b[:]) // the client's close reaches us as EOF
			c.Close()
			if err.Error() == "EOF" {
				err = nil
			}
		}
		accepted <- err
	}()
	p := extest.Start(t, "-addr", l.Addr().String())
	assert.Equal(t, "Connected to 127.0.0.1.", p.Line(t))
	assert.Equal(t, "Lost connection: Connection was closed cleanly.", p.Line(t))
	rest, err := p.Wait(t)
	require.NoError(t, err)
	assert.Empty(t, rest)
	require.NoError(t, <-accepted)
}

func TestConnectionFailed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nobody listens there any more
	p := extest.Start(t, "-addr", addr)
	line := p.Line(t)
	assert.Contains(t, line, "Connection failed: ")
	assert.Contains(t, line, "refused")
	_, err = p.Wait(t)
	require.NoError(t, err)
}
