// Package quicktest checks the Twisted reactor tutorial's quick-disconnect
// client, which examples/quickdisconnect (chains) and
// examples/quickdisconnect-protocol (ClientFactory) both implement, through
// each program's real main.
package quicktest

import (
	"errors"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/examples/internal/extest"
)

// ConnectsAndDisconnects runs the client against a local listener that
// waits for the client to close.
func ConnectsAndDisconnects(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	closed := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			var b [1]byte
			_, err = c.Read(b[:]) // the client's close reaches us as EOF
			c.Close()
			if errors.Is(err, io.EOF) {
				err = nil
			}
		}
		closed <- err
	}()
	p := extest.Start(t, "-addr", l.Addr().String())
	assert.Equal(t, "Connected to 127.0.0.1.", p.Line(t))
	assert.Equal(t, "Lost connection: Connection was closed cleanly.", p.Line(t))
	rest, err := p.Wait(t)
	require.NoError(t, err)
	assert.Empty(t, rest)
	require.NoError(t, <-closed, "the server saw a clean close")
}

// ConnectionFailed runs the client against a port nobody listens on.
func ConnectionFailed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	p := extest.Start(t, "-addr", addr)
	line := p.Line(t)
	assert.Contains(t, line, "Connection failed: ")
	assert.Contains(t, line, "refused")
	_, err = p.Wait(t)
	require.NoError(t, err)
}
