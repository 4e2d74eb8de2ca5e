//go:build linux

package deferredtcp_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/reactor"
)

// TestAcceptBacksOffOnEMFILE runs the process out of file descriptors while
// clients wait in the backlog: the listener pauses on a timer (instead of
// spinning on a socket that stays readable) and accepts them once
// descriptors are free again.
func TestAcceptBacksOffOnEMFILE(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r)
		const clients = 2
		port := l.Addr().(*net.TCPAddr).Port
		for range clients {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			require.NoError(t, err)
			t.Cleanup(func() { unix.Close(fd) })
			// The kernel completes the handshake: the connection waits in the
			// backlog until accepted.
			require.NoError(t, unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}))
		}

		var saved unix.Rlimit
		require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &saved))
		lowered := saved
		lowered.Cur = uint64(countFDs(t) + 8)
		require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &lowered))
		var spare []int
		for {
			fd, err := unix.Dup(0)
			if err != nil {
				break
			}
			spare = append(spare, fd)
		}
		served := 0
		// Ask for connections only now: the portable acceptor would take them
		// at once otherwise.
		l.Serve(func(c *deferredtcp.Conn) {
			served++
			c.Close()
			if served == clients {
				r.Stop()
			}
		})
		free := func() {
			for _, fd := range spare {
				unix.Close(fd)
			}
			spare = nil
			unix.Setrlimit(unix.RLIMIT_NOFILE, &saved)
		}
		t.Cleanup(free)
		r.Schedule(60*time.Millisecond, func() {
			require.Zero(t, served, "no descriptor, no accept")
			free()
		})
		run(t, r)
		require.Equal(t, clients, served)
	})
}
