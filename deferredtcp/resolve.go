package deferredtcp

import (
	"errors"
	"net"
	"net/netip"
	"strings"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/reactor"
)

var errUnixPathNUL = errors.New("deferredtcp: NUL byte in a Unix socket path")

// resolve turns address into a net.Addr for network: at once for Unix paths,
// IP addresses and empty hosts, on a worker goroutine for host names (a DNS
// lookup must not block the loop).
func resolve(r Loop, op, network, address string) *deferred.Deferred[net.Addr] {
	switch network {
	case "unix":
		if !isAbstract(address) && strings.IndexByte(address, 0) >= 0 {
			// The kernel would take the path up to the NUL: another file.
			return deferred.Fail[net.Addr](&net.OpError{Op: op, Net: network, Err: errUnixPathNUL})
		}
		return deferred.Succeed[net.Addr](&net.UnixAddr{Name: address, Net: "unix"})
	case "tcp", "tcp4", "tcp6":
	default:
		return deferred.Fail[net.Addr](&net.OpError{Op: op, Net: network, Err: net.UnknownNetworkError(network)})
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return deferred.Fail[net.Addr](&net.OpError{Op: op, Net: network, Err: err})
	}
	lookup := func() (net.Addr, error) {
		a, err := net.ResolveTCPAddr(network, address)
		if err != nil {
			return nil, &net.OpError{Op: op, Net: network, Err: err}
		}
		return a, nil
	}
	if _, err := netip.ParseAddr(host); err == nil || host == "" {
		return deferred.Execute(lookup)
	}
	if rr, ok := r.(*reactor.Reactor); ok {
		return reactor.DeferToGoroutine(rr, lookup)
	}
	// Another Loop: a goroutine of its own, the result handed to the loop.
	d := deferred.New[net.Addr]()
	go func() {
		a, err := lookup()
		r.CallFromGoroutine(func() {
			if err != nil {
				d.Errback(err)
			} else {
				d.Callback(a)
			}
		})
	}()
	return d
}
