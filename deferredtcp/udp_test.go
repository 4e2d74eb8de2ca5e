package deferredtcp_test

import (
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/reactor"
)

func TestUDPEcho(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		srv := record(deferredtcp.ListenUDP(r, "127.0.0.1:0"))
		cli := record(deferredtcp.ListenUDP(r, "127.0.0.1:0"))
		require.NoError(t, srv.err)
		require.NoError(t, cli.err)
		server, client := srv.value, cli.value
		// The server echoes with OnPacket (Twisted's datagramReceived).
		server.OnPacket(func(p []byte, from *net.UDPAddr) {
			assert.NoError(t, server.WriteTo(append([]byte("echo "), p...), from))
		})
		var got []string
		var from []net.Addr
		r.CallWhenRunning(func() {
			deferred.Inline(func(co *deferred.Co) (struct{}, error) {
				for i := range 3 {
					msg := fmt.Sprint("ping ", i)
					assert.NoError(t, client.WriteTo([]byte(msg), server.LocalAddr()))
					p, err := deferred.Await(co, client.ReadFrom())
					if !assert.NoError(t, err) {
						break
					}
					got = append(got, string(p.Data))
					from = append(from, p.Addr)
				}
				deferred.Await(co, server.Close())
				pending := record(client.ReadFrom())
				deferred.Await(co, client.Close())
				assert.ErrorIs(t, pending.err, deferredtcp.ErrClosed)
				assert.ErrorIs(t, client.WriteTo([]byte("x"), server.LocalAddr()), deferredtcp.ErrClosed)
				r.Stop()
				return struct{}{}, nil
			})
		})
		run(t, r)
		assert.Equal(t, []string{"echo ping 0", "echo ping 1", "echo ping 2"}, got)
		for _, a := range from {
			assert.Equal(t, server.LocalAddr().String(), a.String())
		}
	})
}

func TestUDPClosedAtShutdown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		u := record(deferredtcp.ListenUDP(r, "127.0.0.1:0"))
		require.NoError(t, u.err)
		pending := record(u.value.ReadFrom())
		r.CallWhenRunning(func() { r.Stop() })
		run(t, r)
		assert.ErrorIs(t, pending.err, deferredtcp.ErrClosed)
		bad := record(deferredtcp.ListenUDP(reactor.New(), "localhost:0"))
		assert.Error(t, bad.err)
	})
}
