package main

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

func TestMain(m *testing.M) { extest.Main(m, main) }

type member struct {
	conn net.Conn
	r    *bufio.Reader
}

func connect(t *testing.T, addr, name string) *member {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	m := &member{conn: conn, r: bufio.NewReader(conn)}
	assert.Equal(t, "Welcome to the chat room. Your name?", m.line(t))
	m.say(t, name)
	return m
}

func (m *member) say(t *testing.T, s string) {
	t.Helper()
	_, err := m.conn.Write([]byte(s + "\n"))
	require.NoError(t, err)
}

func (m *member) line(t *testing.T) string {
	t.Helper()
	line, err := m.r.ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSuffix(line, "\n")
}

func TestChatRoom(t *testing.T) {
	p := extest.Start(t, "-addr", "127.0.0.1:0")
	addr := strings.TrimPrefix(p.Expect(t, "Chat room open on "), "Chat room open on ")

	alice := connect(t, addr, "alice")
	assert.Equal(t, "Hello alice. Here: alice.", alice.line(t))
	bob := connect(t, addr, "bob")
	assert.Equal(t, "Hello bob. Here: alice, bob.", bob.line(t))
	assert.Equal(t, "* bob joined", alice.line(t))

	alice.say(t, "hi bob")
	assert.Equal(t, "<alice> hi bob", bob.line(t))
	bob.say(t, "/who")
	assert.Equal(t, "Here: alice, bob.", bob.line(t))

	// A taken name is refused.
	dup, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer dup.Close()
	dr := bufio.NewReader(dup)
	_, _ = dr.ReadString('\n')
	_, err = dup.Write([]byte("alice\n"))
	require.NoError(t, err)
	line, _ := dr.ReadString('\n')
	assert.Equal(t, "alice is taken. Bye.\n", line)

	// An over-long line ends that member's session; the others hear of it.
	carol := connect(t, addr, "carol")
	assert.Equal(t, "Hello carol. Here: alice, bob, carol.", carol.line(t))
	assert.Equal(t, "* carol joined", alice.line(t))
	carol.say(t, strings.Repeat("z", 5000))
	assert.Equal(t, "* carol left", alice.line(t))

	assert.Equal(t, "* carol joined", bob.line(t))
	assert.Equal(t, "* carol left", bob.line(t))
	bob.say(t, "/quit")
	assert.Equal(t, "Bye.", bob.line(t))
	assert.Equal(t, "* bob left", alice.line(t))

	p.Signal(t, syscall.SIGTERM)
	_, err = p.Wait(t)
	require.NoError(t, err)
}
