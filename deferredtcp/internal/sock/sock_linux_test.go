//go:build linux

package sock

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestAcceptReturnsThePeersAddress accepts a connection from each kind of
// peer and checks the address Accept decodes from the kernel's bytes
// against the one the peer's own socket reports.
func TestAcceptReturnsThePeersAddress(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, network string
		listen        net.Addr
		dial          func(t *testing.T, addr net.Addr) net.Conn
	}{
		{"IPv4", "tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, dialTCP},
		{"IPv6", "tcp", &net.TCPAddr{IP: net.IPv6loopback}, dialTCP},
		{"unix, unnamed peer", "unix", &net.UnixAddr{Name: filepath.Join(dir, "a.sock"), Net: "unix"}, dialUnix("")},
		{"unix, named peer", "unix", &net.UnixAddr{Name: filepath.Join(dir, "b.sock"), Net: "unix"}, dialUnix(filepath.Join(dir, "peer.sock"))},
		{"unix, abstract peer", "unix", &net.UnixAddr{Name: filepath.Join(dir, "c.sock"), Net: "unix"}, dialUnix("@twist-sock-test")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "IPv6" && !ipv6Works() {
				t.Skip("no IPv6 loopback")
			}
			fd, err := Listen(tt.network, tt.listen, Options{Backlog: 1})
			require.NoError(t, err)
			defer unix.Close(fd)
			peer := tt.dial(t, LocalAddr(tt.network, fd))
			defer peer.Close()

			var rsa unix.RawSockaddrAny
			var nfd int
			var got net.Addr
			for {
				nfd, got, err = Accept(fd, tt.network, &rsa)
				if err != unix.EAGAIN {
					break
				}
				_, err = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 5000)
				require.NoError(t, err)
			}
			require.NoError(t, err)
			defer unix.Close(nfd)
			require.Equal(t, peer.LocalAddr().String(), got.String())
			require.Equal(t, RemoteAddr(tt.network, nfd).String(), got.String(), "as getpeername says")
		})
	}
}

func dialTCP(t *testing.T, addr net.Addr) net.Conn {
	c, err := net.Dial("tcp", addr.String())
	require.NoError(t, err)
	return c
}

func dialUnix(local string) func(t *testing.T, addr net.Addr) net.Conn {
	return func(t *testing.T, addr net.Addr) net.Conn {
		var laddr *net.UnixAddr
		if local != "" {
			laddr = &net.UnixAddr{Name: local, Net: "unix"}
		}
		c, err := net.DialUnix("unix", laddr, addr.(*net.UnixAddr))
		require.NoError(t, err)
		return c
	}
}

// TestAcceptReusesItsBuffer accepts a named peer, then an unnamed one, with
// one buffer: the second address is not what is left of the first.
func TestAcceptReusesItsBuffer(t *testing.T) {
	dir := t.TempDir()
	fd, err := Listen("unix", &net.UnixAddr{Name: filepath.Join(dir, "l.sock"), Net: "unix"}, Options{Backlog: 2})
	require.NoError(t, err)
	defer unix.Close(fd)
	var rsa unix.RawSockaddrAny
	for _, local := range []string{filepath.Join(dir, "a-long-peer-name.sock"), ""} {
		peer := dialUnix(local)(t, LocalAddr("unix", fd))
		defer peer.Close()
		var nfd int
		var got net.Addr
		for {
			nfd, got, err = Accept(fd, "unix", &rsa)
			if err != unix.EAGAIN {
				break
			}
			_, err = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 5000)
			require.NoError(t, err)
		}
		require.NoError(t, err)
		unix.Close(nfd)
		require.Equal(t, peer.LocalAddr().String(), got.String())
	}
}
