//go:build linux

// Package sock holds the socket syscall shims of deferredtcp's epoll path:
// address conversion between net and golang.org/x/sys/unix, and the creation of
// non-blocking listening and connecting sockets. Errors come back as the
// *net.OpError values the net package would return, so errors.Is sees the errno.
package sock

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Options are the socket options of a listening or connecting socket.
type Options struct {
	Backlog   int
	ReusePort bool
	Bind      net.Addr // local address to bind a connecting socket to; nil for any
}

// Family returns the address family and the sockaddr for addr on network
// ("tcp", "tcp4", "tcp6" or "unix").
func Family(network string, addr net.Addr) (int, unix.Sockaddr, error) {
	switch a := addr.(type) {
	case *net.UnixAddr:
		return unix.AF_UNIX, &unix.SockaddrUnix{Name: a.Name}, nil
	case *net.TCPAddr:
		ip := a.AddrPort().Addr().Unmap()
		if a.IP == nil || !ip.IsValid() {
			// The unspecified address: dual-stack IPv6 for "tcp", like net does.
			if network == "tcp4" || !ipv6Works() {
				return unix.AF_INET, &unix.SockaddrInet4{Port: a.Port}, nil
			}
			return unix.AF_INET6, &unix.SockaddrInet6{Port: a.Port}, nil
		}
		if ip.Is4() && network != "tcp6" {
			return unix.AF_INET, &unix.SockaddrInet4{Port: a.Port, Addr: ip.As4()}, nil
		}
		if network == "tcp4" {
			return 0, nil, &net.AddrError{Err: "non-IPv4 address", Addr: a.String()}
		}
		sa := &unix.SockaddrInet6{Port: a.Port, Addr: a.AddrPort().Addr().As16()}
		if a.Zone != "" {
			if ifi, err := net.InterfaceByName(a.Zone); err == nil {
				sa.ZoneId = uint32(ifi.Index)
			}
		}
		return unix.AF_INET6, sa, nil
	}
	return 0, nil, &net.AddrError{Err: "unexpected address type", Addr: addr.String()}
}

var ipv6 = func() bool {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	sa := &unix.SockaddrInet6{Addr: [16]byte{15: 1}}
	return unix.Bind(fd, sa) == nil
}()

func ipv6Works() bool { return ipv6 }

// Addr converts a sockaddr to the net.Addr of network.
func Addr(network string, sa unix.Sockaddr) net.Addr {
	switch s := sa.(type) {
	case *unix.SockaddrInet4:
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(s.Addr), uint16(s.Port)))
	case *unix.SockaddrInet6:
		a := netip.AddrFrom16(s.Addr)
		if s.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(s.ZoneId)); err == nil {
				a = a.WithZone(ifi.Name)
			}
		}
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(s.Port)))
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: s.Name, Net: "unix"}
	}
	if network == "unix" {
		return &net.UnixAddr{Net: "unix"}
	}
	return nil
}

// LocalAddr returns fd's bound address.
func LocalAddr(network string, fd int) net.Addr {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil
	}
	return Addr(network, sa)
}

// RemoteAddr returns fd's peer address.
func RemoteAddr(network string, fd int) net.Addr {
	sa, err := unix.Getpeername(fd)
	if err != nil {
		return nil
	}
	return Addr(network, sa)
}

func socket(family int) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	return fd, nil
}

// Listen returns a non-blocking socket listening on addr.
func Listen(network string, addr net.Addr, o Options) (fd int, err error) {
	opErr := func(err error) error {
		return &net.OpError{Op: "listen", Net: network, Addr: addr, Err: err}
	}
	family, sa, err := Family(network, addr)
	if err != nil {
		return -1, opErr(err)
	}
	sfd, err := socket(family)
	if err != nil {
		return -1, opErr(err)
	}
	defer func() {
		if err != nil {
			unix.Close(sfd)
		}
	}()
	fd = sfd
	if family != unix.AF_UNIX {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return -1, opErr(os.NewSyscallError("setsockopt", err))
		}
		if o.ReusePort {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
				return -1, opErr(os.NewSyscallError("setsockopt", err))
			}
		}
		if family == unix.AF_INET6 && network == "tcp" {
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
		} else if family == unix.AF_INET6 {
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return -1, opErr(os.NewSyscallError("bind", err))
	}
	if err := unix.Listen(fd, o.Backlog); err != nil {
		return -1, opErr(os.NewSyscallError("listen", err))
	}
	return fd, nil
}

// Connect starts a non-blocking connect to addr. done reports whether the
// connection is established already; otherwise it is in progress and the
// caller waits for fd to become writable, then calls [ConnectResult].
func Connect(network string, addr net.Addr, o Options) (fd int, done bool, err error) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: network, Source: o.Bind, Addr: addr, Err: err}
	}
	family, sa, err := Family(network, addr)
	if err != nil {
		return -1, false, opErr(err)
	}
	if fd, err = socket(family); err != nil {
		return -1, false, opErr(err)
	}
	if o.Bind != nil {
		_, bsa, err := Family(network, o.Bind)
		if err == nil {
			if family != unix.AF_UNIX {
				unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			}
			err = os.NewSyscallError("bind", unix.Bind(fd, bsa))
		}
		if err != nil {
			unix.Close(fd)
			return -1, false, opErr(err)
		}
	}
	switch err := unix.Connect(fd, sa); {
	case err == nil:
		return fd, true, nil
	case errors.Is(err, unix.EINPROGRESS), errors.Is(err, unix.EINTR):
		return fd, false, nil
	default:
		unix.Close(fd)
		return -1, false, opErr(os.NewSyscallError("connect", err))
	}
}

// ConnectResult reports how a connect in progress on a writable fd ended:
// connected is false (with a nil error) when it is still in progress.
func ConnectResult(fd int) (connected bool, err error) {
	errno, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return false, os.NewSyscallError("getsockopt", err)
	}
	switch e := unix.Errno(errno); e {
	case 0:
		if _, err := unix.Getpeername(fd); err != nil {
			return false, nil // spurious wake-up
		}
		return true, nil
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		return false, nil
	default:
		return false, os.NewSyscallError("connect", e)
	}
}

// Accept accepts one connection on the non-blocking listening fd of
// network, and returns the new socket, non-blocking too, and its peer's
// address. rsa is scratch space for the address, which the caller keeps
// from one accept to the next: unlike unix.Accept4, an accept allocates
// only the net.Addr it returns.
func Accept(fd int, network string, rsa *unix.RawSockaddrAny) (int, net.Addr, error) {
	n := uint32(unix.SizeofSockaddrAny)
	nfd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(rsa)),
		uintptr(unsafe.Pointer(&n)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, nil, errno
	}
	return int(nfd), rawAddr(network, rsa, n), nil
}

// rawAddr converts the n bytes of an address the kernel wrote to rsa to
// the net.Addr of network, as Addr does for a unix.Sockaddr.
func rawAddr(network string, rsa *unix.RawSockaddrAny, n uint32) net.Addr {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return Addr(network, &unix.SockaddrInet4{Port: rawPort(p.Port), Addr: p.Addr})
	case unix.AF_INET6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return Addr(network, &unix.SockaddrInet6{Port: rawPort(p.Port), ZoneId: p.Scope_id, Addr: p.Addr})
	case unix.AF_UNIX:
		p := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		// Only the first n bytes are the kernel's: rsa holds an earlier
		// peer's beyond them.
		size := int(n) - int(unsafe.Offsetof(p.Path))
		if size <= 0 {
			// An unnamed peer, as most are: "@", as getsockname and
			// unix.Accept4 say.
			return &net.UnixAddr{Name: "@", Net: "unix"}
		}
		path := unsafe.Slice((*byte)(unsafe.Pointer(&p.Path[0])), min(size, len(p.Path)))
		if path[0] == 0 {
			path[0] = '@' // abstract, written as Go writes it
		}
		if i := bytes.IndexByte(path, 0); i >= 0 {
			path = path[:i]
		}
		return &net.UnixAddr{Name: string(path), Net: "unix"}
	}
	return Addr(network, nil)
}

// rawPort reads a port in network byte order.
func rawPort(p uint16) int {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return int(b[0])<<8 | int(b[1])
}

// SetNoDelay sets TCP_NODELAY.
func SetNoDelay(fd int, on bool) error {
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, boolint(on)))
}

// SetKeepAlive sets SO_KEEPALIVE.
func SetKeepAlive(fd int, on bool) error {
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolint(on)))
}

// SetLingerZero makes the next close of fd send a reset and drop unsent data.
func SetLingerZero(fd int) error {
	return unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
}

func boolint(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Read reads from the non-blocking fd without telling the scheduler that a
// system call is under way (a raw system call): on a non-blocking socket
// read returns at once, so the entersyscall/exitsyscall pair of
// [unix.Read] is pure cost, and a P parked in a system call is what sysmon
// retakes, waking another thread. EAGAIN and EINTR come back as errors.
func Read(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// Write writes to the non-blocking fd as a raw system call; see [Read].
func Write(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
