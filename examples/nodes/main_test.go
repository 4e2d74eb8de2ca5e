package main

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

func TestMain(m *testing.M) { extest.Main(m, main) }

const code = "s3cret"

func startServer(t *testing.T, addr string) (*extest.Proc, string) {
	t.Helper()
	srv := extest.Start(t, "server", "-addr", addr, "-code", code)
	const listening = "Node server listening on "
	return srv, strings.TrimPrefix(srv.Expect(t, listening), listening)
}

// startNode runs a client and waits for its first WELCOME.
func startNode(t *testing.T, addr string, id int, args ...string) *extest.Proc {
	t.Helper()
	args = append([]string{"client", "-addr", addr, "-id", fmt.Sprint(id), "-code", code, "-retry", "100ms"}, args...)
	p := extest.Start(t, args...)
	expectLine(t, p, fmt.Sprintf("WELCOME %d", id))
	return p
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

// stop sends p SIGTERM and checks that it exits cleanly.
func stop(t *testing.T, p *extest.Proc) []string {
	t.Helper()
	p.Signal(t, syscall.SIGTERM)
	rest, err := p.Wait(t)
	require.NoError(t, err, "exit status")
	return rest
}

// rawNode is a node spoken for by the test, over a plain net.Conn.
type rawNode struct {
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string) *rawNode {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &rawNode{conn: conn, r: bufio.NewReader(conn)}
}

func (n *rawNode) say(t *testing.T, line string) {
	t.Helper()
	_, err := n.conn.Write([]byte(line + "\r\n")) // as nc on a terminal might
	require.NoError(t, err)
}

func (n *rawNode) line(t *testing.T) string {
	t.Helper()
	line, err := n.r.ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSuffix(line, "\n")
}

// closed checks that the server has closed the connection.
func (n *rawNode) closed(t *testing.T) {
	t.Helper()
	rest, err := io.ReadAll(n.r)
	require.NoError(t, err, "a clean close")
	assert.Empty(t, string(rest))
}

func TestHandshakeRejected(t *testing.T) {
	srv, addr := startServer(t, "127.0.0.1:0")

	n := dial(t, addr)
	n.say(t, "HELLO 7 wrong")
	assert.Equal(t, "ERR bad code", n.line(t))
	n.closed(t)
	srv.Expect(t, "ERR bad code")

	n = dial(t, addr)
	n.say(t, "TO 1 no handshake")
	assert.Equal(t, "ERR bad handshake", n.line(t))
	n.closed(t)

	// The client program gives up at once, and says why.
	p := extest.Start(t, "client", "-addr", addr, "-id", "7", "-code", "wrong", "-retry", "100ms")
	assert.Equal(t, "Connected to "+addr, p.Line(t))
	assert.Equal(t, "ERR bad code", p.Line(t))
	assert.Equal(t, "Lost connection: deferredtcp: connection was closed cleanly", p.Line(t))
	rest, err := p.Wait(t)
	require.Error(t, err, "a refused node exits with a failure")
	assert.Empty(t, rest)

	// Nobody joined.
	rest = stop(t, srv)
	for _, line := range rest {
		assert.NotContains(t, line, "joined")
	}
}

func TestRouting(t *testing.T) {
	srv, addr := startServer(t, "127.0.0.1:0")
	node2 := startNode(t, addr, 2)
	node1 := startNode(t, addr, 1, "-send", "2:hello there")
	expectLine(t, node2, "FROM 1 hello there")
	srv.Expect(t, "Node 1 -> node 2: hello there")

	n := dial(t, addr)
	n.say(t, "HELLO 3 "+code)
	assert.Equal(t, "WELCOME 3", n.line(t))
	n.say(t, "TO 9 anyone?")
	assert.Equal(t, "ERR no node 9", n.line(t))
	n.say(t, "TO 1 hi one")
	expectLine(t, node1, "FROM 3 hi one")

	// A node that leaves is removed from the channels.
	assert.Contains(t, stop(t, node1), "Node 1 stopped.")
	srv.Expect(t, "Node 1 left (2 connected)")
	n.say(t, "TO 1 still there?")
	assert.Equal(t, "ERR no node 1", n.line(t))

	// A node that connects again replaces its old connection.
	again := dial(t, addr)
	again.say(t, "HELLO 3 "+code)
	assert.Equal(t, "WELCOME 3", again.line(t))
	assert.Equal(t, "ERR replaced by a new connection", n.line(t))
	n.closed(t)
	again.say(t, "TO 2 from the new 3")
	expectLine(t, node2, "FROM 3 from the new 3")

	// A client program that is replaced gives up rather than fight back.
	node2b := startNode(t, addr, 2)
	assert.Equal(t, "ERR replaced by a new connection", node2.Line(t))
	assert.Equal(t, "Lost connection: deferredtcp: connection was closed cleanly", node2.Line(t))
	rest, err := node2.Wait(t)
	require.Error(t, err, "a replaced node exits with a failure")
	assert.Empty(t, rest)

	// The server's kill -15 closes every node's connection.
	assert.Contains(t, stop(t, srv), "Node server stopped.")
	again.closed(t)
	node2b.Expect(t, "Lost connection: ")
	assert.Contains(t, stop(t, node2b), "Node 2 stopped.")
}

func TestReconnectAfterServerRestart(t *testing.T) {
	srv, addr := startServer(t, "127.0.0.1:0")
	node2 := startNode(t, addr, 2)
	node1 := startNode(t, addr, 1, "-send", "2:hello")
	expectLine(t, node2, "FROM 1 hello")

	stop(t, srv)
	node1.Expect(t, "Lost connection: ")
	node2.Expect(t, "Lost connection: ")

	// A new server on the same port: both nodes come back by themselves
	// and handshake again.
	srv, _ = startServer(t, addr)
	for id, p := range map[int]*extest.Proc{1: node1, 2: node2} {
		p.Expect(t, "Connected to "+addr)
		expectLine(t, p, fmt.Sprintf("WELCOME %d", id))
	}
	srv.Expect(t, "joined")
	srv.Expect(t, "joined")

	// Routing works again, both ways.
	n := dial(t, addr)
	n.say(t, "HELLO 3 "+code)
	assert.Equal(t, "WELCOME 3", n.line(t))
	n.say(t, "TO 2 welcome back")
	expectLine(t, node2, "FROM 3 welcome back")
	n.say(t, "TO 1 you too")
	expectLine(t, node1, "FROM 3 you too")

	stop(t, node1)
	stop(t, node2)
	stop(t, srv)
}
