package deferredtcp

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// A portable dial that returns once the reactor has stopped hands its socket
// to a loop that will never run again: the socket must be closed, not leaked.
func TestPortableDialAfterStopClosesTheSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	r := reactor.New(reactor.WithBackend(reactor.Portable))
	ran := make(chan struct{})
	testHookDialed = func() {
		r.Stop()
		<-ran
	}
	t.Cleanup(func() { testHookDialed = nil })
	r.CallWhenRunning(func() {
		// The shutdown cancels the attempt.
		Connect(r, "tcp", ln.Addr().String()).AddErrback(func(*failure.Failure) (*Conn, error) { return nil, nil })
	})
	require.NoError(t, r.Run())
	close(ran)

	c, err := ln.Accept()
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the dialled socket was closed")
}
