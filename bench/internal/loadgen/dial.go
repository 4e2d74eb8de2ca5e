package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// connectTimeout bounds one connection attempt; loopback answers in
// microseconds unless the server's accept queue is full.
const connectTimeout = 5 * time.Second

// A Pool is a set of established connections to one server, owned by one
// goroutine at a time.
type Pool struct {
	fds []int
}

// Dial opens n connections to addr (an IP literal with a port) one after the
// other, with TCP_NODELAY set. On error it closes what it opened.
func Dial(ctx context.Context, addr string, n int) (*Pool, error) {
	sa, family, err := sockaddr(addr)
	if err != nil {
		return nil, err
	}
	p := &Pool{fds: make([]int, 0, n)}
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			p.Close()
			return nil, err
		}
		fd, err := connect(family, sa)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("loadgen: connection %d of %d to %s: %w", i+1, n, addr, err)
		}
		p.fds = append(p.fds, fd)
	}
	return p, nil
}

// Len is the number of connections.
func (p *Pool) Len() int { return len(p.fds) }

// Close closes every connection.
func (p *Pool) Close() error {
	var errs []error
	for _, fd := range p.fds {
		if err := unix.Close(fd); err != nil {
			errs = append(errs, err)
		}
	}
	p.fds = nil
	return errors.Join(errs...)
}

func sockaddr(addr string) (unix.Sockaddr, int, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, 0, fmt.Errorf("loadgen: address %q: %w", addr, err)
	}
	if ip4 := ta.IP.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: ta.Port}
		copy(sa.Addr[:], ip4)
		return sa, unix.AF_INET, nil
	}
	if ip6 := ta.IP.To16(); ip6 != nil {
		sa := &unix.SockaddrInet6{Port: ta.Port}
		copy(sa.Addr[:], ip6)
		return sa, unix.AF_INET6, nil
	}
	return nil, 0, fmt.Errorf("loadgen: address %q: not an IP literal", addr)
}

// connect opens one non-blocking socket and waits, bounded, for the handshake.
func connect(family int, sa unix.Sockaddr) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		unix.Close(fd)
		return -1, err
	}
	err = unix.Connect(fd, sa)
	if err != nil && !errors.Is(err, unix.EINPROGRESS) {
		unix.Close(fd)
		return -1, err
	}
	if err == nil {
		return fd, nil
	}
	deadline := time.Now().Add(connectTimeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			unix.Close(fd)
			return -1, fmt.Errorf("connect: no answer within %v", connectTimeout)
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(pfd, int(left/time.Millisecond)+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
		if n == 0 {
			continue
		}
		soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && soErr != 0 {
			err = unix.Errno(soErr)
		}
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
		return fd, nil
	}
}
