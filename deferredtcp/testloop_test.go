package deferredtcp_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/deferredtcp/deferredtcptest"
)

// Tests whose subject is time, or the package's own buffering rather than
// the kernel's, run on a deferredtcptest.Loop: a fake clock and in-memory
// connections, stepped by hand, with no sleeping.

// newTestLoop returns a Loop stopped when the test ends; the test fails if a
// Failure is left unhandled.
func newTestLoop(t *testing.T) *deferredtcptest.Loop {
	t.Helper()
	deferredtest.NoUnhandled(t)
	loop := deferredtcptest.NewLoop()
	t.Cleanup(loop.Stop)
	return loop
}

// fired returns what d fired with, failing t if it has not fired.
func fired[T any](t *testing.T, d *deferred.Deferred[T]) (T, error) {
	t.Helper()
	require.True(t, d.Called(), "the Deferred has fired")
	return d.Wait(t.Context())
}

// loopPair returns a server and a client Conn connected over loop's
// in-memory network, with opts on both.
func loopPair(t *testing.T, loop *deferredtcptest.Loop, opts ...deferredtcp.Option) (server, client *deferredtcp.Conn) {
	t.Helper()
	l, err := fired(t, deferredtcp.Listen(loop, "tcp", "server:0", opts...))
	require.NoError(t, err)
	accepted := l.Accept()
	dialed := deferredtcp.Connect(loop, "tcp", l.Addr().String(), opts...)
	loop.Flush()
	server, err = fired(t, accepted)
	require.NoError(t, err)
	client, err = fired(t, dialed)
	require.NoError(t, err)
	l.Close()
	return server, client
}
