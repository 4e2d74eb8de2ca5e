//go:build linux

package deferredtcp_test

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/reactor"
)

// TestReadErrorNamesBothEnds has a peer reset its connection: the error Lost
// reports names both ends, local->remote, as Go's net package prints it.
func TestReadErrorNamesBothEnds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		checkGoroutines(t)
		r := newReactor()
		l := listen(t, r)
		peer := make(chan [2]net.Addr, 1) // the server's end, then the peer's
		accepted := make(chan struct{})
		go func() {
			nc, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				peer <- [2]net.Addr{}
				return
			}
			peer <- [2]net.Addr{nc.RemoteAddr(), nc.LocalAddr()}
			<-accepted
			nc.(*net.TCPConn).SetLinger(0) // close with a reset
			nc.Close()
		}()
		var lost *outcome[struct{}]
		l.Serve(func(c *deferredtcp.Conn) {
			l.Close()
			lost = record(c.Lost())
			after(c.Lost(), stop(r))
			close(accepted)
		})
		run(t, r)
		ends := <-peer
		require.NotNil(t, ends[1], "the peer could not dial")
		require.Error(t, lost.err)
		var oe *net.OpError
		require.ErrorAs(t, lost.err, &oe)
		require.Contains(t, lost.err.Error(), ends[0].String()+"->"+ends[1].String())
	})
}
