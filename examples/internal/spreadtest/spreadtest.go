// Package spreadtest checks the Spread Site server and client of the Twisted
// tutorial on Protocol, Factory and Transport, which examples/spread (chains)
// and examples/spread-protocol (Protocol/Factory) both implement: the same
// tests, run against each program's real main.
package spreadtest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/examples/internal/extest"
)

// greeting is the welcome line of the n-th client, as printed.
func greeting(n int) string {
	return fmt.Sprintf("欢迎来到Spread Site, 你是第%d个客户端用户!", n)
}

// expectLine reads p's lines until one is want.
func expectLine(t *testing.T, p *extest.Proc, want string) {
	t.Helper()
	for {
		line := p.Line(t)
		if line == want {
			return
		}
		t.Logf("skipped output: %s", line)
	}
}

func startServer(t *testing.T) (*extest.Proc, string) {
	t.Helper()
	srv := extest.Start(t, "server", "-addr", "127.0.0.1:0")
	const listening = "Spread server listening on "
	return srv, strings.TrimPrefix(srv.Expect(t, listening), listening)
}

func startClient(t *testing.T, addr, name string) *extest.Proc {
	t.Helper()
	return extest.Start(t, "client", "-addr", addr, "-interval", "50ms", "-name", name)
}

// SpreadSite checks the welcome counts, the hellos, and "close" closing the
// sender while the other clients hear it and exit.
func SpreadSite(t *testing.T) {
	srv, addr := startServer(t)

	alice := startClient(t, addr, "alice")
	assert.Equal(t, "Start to Connect...", alice.Line(t))
	assert.Equal(t, "Connected...", alice.Line(t))
	expectLine(t, alice, greeting(1))
	srv.Expect(t, "new connect: 1")
	bob := startClient(t, addr, "bob")
	expectLine(t, bob, greeting(2))
	srv.Expect(t, "new connect: 2")

	// Both say hello, and the server prints it.
	srv.Expect(t, "hello, I'm alice ")
	srv.Expect(t, "hello, I'm bob ")

	// A third client, typing as nc would: "close" drops it and goes to
	// the others, who leave.
	carol, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer carol.Close()
	cr := bufio.NewReader(carol)
	line, err := cr.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, greeting(3)+"\n", line)
	srv.Expect(t, "new connect: 3")
	_, err = carol.Write([]byte("  close \r\n"))
	require.NoError(t, err)
	rest, err := io.ReadAll(cr)
	require.NoError(t, err, "the server closes the connection cleanly")
	assert.Empty(t, rest, "the closing client is not told to close")

	for _, c := range []*extest.Proc{alice, bob} {
		expectLine(t, c, "close")
		assert.Equal(t, "Lost connection. Reason: deferredtcp: connection was closed cleanly", c.Line(t))
		out, err := c.Wait(t)
		require.NoError(t, err, "exit status")
		assert.Empty(t, out)
	}

	// The count goes down as they leave, and the next client is the first
	// again.
	srv.Expect(t, "lost connect: 2")
	srv.Expect(t, "lost connect: 1")
	srv.Expect(t, "lost connect: 0")
	dave := startClient(t, addr, "dave")
	expectLine(t, dave, greeting(1))
	srv.Expect(t, "new connect: 1")

	// kill -15 stops the server, which closes dave's connection.
	srv.Signal(t, syscall.SIGTERM)
	out, err := srv.Wait(t)
	require.NoError(t, err, "exit status")
	assert.Contains(t, out, "Spread server stopped.")
	dave.Expect(t, "Lost connection. Reason: ")
	_, err = dave.Wait(t)
	require.NoError(t, err)
}

// ClientStopsOnSignal checks that the client stops gracefully on SIGTERM.
func ClientStopsOnSignal(t *testing.T) {
	srv, addr := startServer(t)
	c := startClient(t, addr, "erin")
	expectLine(t, c, greeting(1))
	srv.Expect(t, "hello, I'm erin ")
	c.Signal(t, syscall.SIGINT)
	c.Expect(t, "Lost connection. Reason: ")
	_, err := c.Wait(t)
	require.NoError(t, err)
	srv.Expect(t, "lost connect: 0")
}

// ConnectionFailed checks the client's report of a refused connection.
func ConnectionFailed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nobody listens there any more
	c := startClient(t, addr, "frank")
	assert.Equal(t, "Start to Connect...", c.Line(t))
	line := c.Line(t)
	assert.Contains(t, line, "Connection is failed, Reason: ")
	assert.Contains(t, line, "refused")
	_, err = c.Wait(t)
	require.NoError(t, err)
}

// ListenFailure checks that the server fails when its port is taken.
func ListenFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	p := extest.Start(t, "server", "-addr", l.Addr().String())
	_, err = p.Wait(t)
	require.Error(t, err, "the server fails when the port is taken")
}
