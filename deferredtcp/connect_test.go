package deferredtcp_test

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/reactor"
)

// closedPort returns an address on which nothing listens.
func closedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestConnectRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		addr := closedPort(t)
		var got *outcome[*deferredtcp.Conn]
		r.CallWhenRunning(func() {
			d := deferredtcp.Connect(r, "tcp", addr)
			got = record(d)
			after(d, stop(r))
		})
		run(t, r)
		require.ErrorIs(t, got.err, syscall.ECONNREFUSED)
		var oe *net.OpError
		require.ErrorAs(t, got.err, &oe)
		require.Equal(t, "dial", oe.Op)
	})
}

// fullBacklog returns the address of a listening socket with a full
// accept queue, which it never accepts from: a connect to it hangs.
func fullBacklog(t testing.TB) string {
	t.Helper()
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(lfd) })
	require.NoError(t, unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, unix.Listen(lfd, 0))
	sa, err := unix.Getsockname(lfd)
	require.NoError(t, err)
	// With backlog 0 the queue holds a connection or two, depending on the
	// kernel: connect until a handshake does not complete (a loopback one
	// takes microseconds), its SYN dropped, so that the next SYN is dropped
	// too.
	for range 4 {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		t.Cleanup(func() { unix.Close(fd) })
		unix.Connect(fd, sa)
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		if n, _ := unix.Poll(pfd, 50); n == 0 {
			break
		}
	}
	return net.JoinHostPort("127.0.0.1", itoa(sa.(*unix.SockaddrInet4).Port))
}

func itoa(n int) string { return (&net.TCPAddr{Port: n}).String()[1:] }

func TestConnectTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		addr := fullBacklog(t)
		var got *outcome[*deferredtcp.Conn]
		var start time.Time
		var took time.Duration
		r.CallWhenRunning(func() {
			start = time.Now()
			d := deferredtcp.Connect(r, "tcp", addr, deferredtcp.WithTimeout(150*time.Millisecond))
			got = record(d)
			after(d, func() {
				took = time.Since(start)
				r.Stop()
			})
		})
		run(t, r)
		require.Error(t, got.err)
		var ne net.Error
		require.ErrorAs(t, got.err, &ne)
		require.True(t, ne.Timeout(), "Timeout() of %v", got.err)
		require.ErrorIs(t, got.err, deferredtcp.ErrConnectTimeout)
		require.ErrorIs(t, got.err, deferred.ErrTimeout)
		require.GreaterOrEqual(t, took, 150*time.Millisecond)
	})
}

func TestConnectCancel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		addr := fullBacklog(t)
		var got *outcome[*deferredtcp.Conn]
		r.CallWhenRunning(func() {
			d := deferredtcp.Connect(r, "tcp", addr)
			got = record(d)
			after(d, stop(r))
			r.Schedule(20*time.Millisecond, d.Cancel)
		})
		run(t, r)
		require.ErrorIs(t, got.err, deferred.ErrCancelled)
	})
}

func TestConnectBindAddressAndAddrs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r)
		bind := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 0}
		var local, remote, peer net.Addr
		r.CallWhenRunning(func() {
			accepted := l.Accept()
			deferred.Then(deferredtcp.Connect(r, "tcp", l.Addr().String(), deferredtcp.WithBindAddress(bind)),
				func(c *deferredtcp.Conn) (struct{}, error) {
					local, remote = c.LocalAddr(), c.RemoteAddr()
					deferred.Then(accepted, func(s *deferredtcp.Conn) (struct{}, error) {
						peer = s.RemoteAddr()
						r.Stop()
						return struct{}{}, nil
					})
					return struct{}{}, nil
				})
		})
		run(t, r)
		require.Equal(t, l.Addr().String(), remote.String())
		require.Equal(t, local.String(), peer.String())
	})
}

func TestListenAddressInUse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r)
		_, err := deferredtcp.Listen(r, "tcp", l.Addr().String()).Wait(t.Context())
		require.ErrorIs(t, err, syscall.EADDRINUSE)
		var oe *net.OpError
		require.True(t, errors.As(err, &oe))
		r.CallWhenRunning(func() { after(l.Close(), stop(r)) })
		run(t, r)
	})
}
