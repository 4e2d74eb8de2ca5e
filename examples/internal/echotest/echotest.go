// Package echotest checks the Twisted tutorial's echo server, which
// examples/echo (chains), examples/echo-protocol (Protocol/Factory) and
// examples/echo-service (the same, as an application) implement: the same
// test, run against each program's real main.
package echotest

import (
	"bufio"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/examples/internal/extest"
)

type client struct {
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &client{conn: conn, r: bufio.NewReader(conn)}
}

func (c *client) line(t *testing.T) string {
	t.Helper()
	line, err := c.r.ReadString('\n')
	require.NoError(t, err)
	return line
}

// Server runs the example and checks the greeting's count, the echo, the
// count going down when a client leaves (the program prints closedOneOpen
// then), and the graceful stop on SIGTERM.
func Server(t *testing.T, closedOneOpen string) {
	p := extest.Start(t, "-addr", "127.0.0.1:0")
	addr := strings.TrimPrefix(p.Expect(t, "Echo server listening on "), "Echo server listening on ")

	c1 := dial(t, addr)
	assert.Equal(t, "Welcome! There are currently 1 open connections.\n", c1.line(t))
	c2 := dial(t, addr)
	assert.Equal(t, "Welcome! There are currently 2 open connections.\n", c2.line(t))

	// Echo, across several writes.
	for _, msg := range []string{"hello\n", "twisted\n", strings.Repeat("x", 100_000) + "\n"} {
		_, err := c1.conn.Write([]byte(msg))
		require.NoError(t, err)
		assert.Equal(t, msg, c1.line(t))
	}

	// The count goes down when a client leaves.
	require.NoError(t, c1.conn.Close())
	p.Expect(t, closedOneOpen)
	c3 := dial(t, addr)
	assert.Equal(t, "Welcome! There are currently 2 open connections.\n", c3.line(t))

	// kill -15: a graceful stop that closes the open connections.
	p.Signal(t, syscall.SIGTERM)
	rest, err := p.Wait(t)
	require.NoError(t, err, "exit status")
	assert.Contains(t, rest, "Echo server stopped.")
	_, err = c2.r.ReadString('\n')
	assert.Error(t, err, "the server closed the connection")
}

// ListenFailure checks that the program fails when its port is taken.
func ListenFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	p := extest.Start(t, "-addr", l.Addr().String())
	_, err = p.Wait(t)
	require.Error(t, err, "the program fails when the port is taken")
}
