package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/examples/internal/echotest"
	"github.com/twistgo/twist/examples/internal/extest"
)

func TestMain(m *testing.M) { extest.Main(m, main) }

func TestEchoServer(t *testing.T) { echotest.Server(t, "closed: 1 open") }

func TestListenFailure(t *testing.T) { echotest.ListenFailure(t) }

// The client mode: what the README's manual check runs.
func TestClientSendsItsArguments(t *testing.T) {
	server := extest.Start(t, "-addr", "127.0.0.1:0")
	addr := strings.TrimPrefix(server.Expect(t, "Echo server listening on "), "Echo server listening on ")

	client := extest.Start(t, "-client", "-addr", addr, "hello", "twisted")
	rest, err := client.Wait(t)
	require.NoError(t, err)
	assert.Equal(t, []string{"Welcome! There are currently 1 open connections.", "hello", "twisted"}, rest)
	server.Expect(t, "closed: 0 open")
}

func TestClientSendsItsInput(t *testing.T) {
	server := extest.Start(t, "-addr", "127.0.0.1:0")
	addr := strings.TrimPrefix(server.Expect(t, "Echo server listening on "), "Echo server listening on ")

	client := extest.StartWithInput(t, strings.NewReader("one\ntwo words\n"), "-client", "-addr", addr)
	rest, err := client.Wait(t)
	require.NoError(t, err)
	assert.Equal(t, []string{"Welcome! There are currently 1 open connections.", "one", "two words"}, rest)
}

func TestClientFailsWithoutAServer(t *testing.T) {
	client := extest.Start(t, "-client", "-addr", "127.0.0.1:1", "hello")
	_, err := client.Wait(t)
	require.Error(t, err, "a refused connection is a failure")
}
