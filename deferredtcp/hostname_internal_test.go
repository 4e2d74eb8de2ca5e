package deferredtcp

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAttemptOrder checks the order a HostnameEndpoint tries addresses in:
// families alternate from the first address's (RFC 8305), each in the
// resolver's order; a bind address keeps only its own family.
func TestAttemptOrder(t *testing.T) {
	ips := func(ss ...string) []netip.Addr {
		out := make([]netip.Addr, len(ss))
		for i, s := range ss {
			out[i] = netip.MustParseAddr(s)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   []netip.Addr
		bind net.Addr
		want []netip.Addr
	}{
		{"v6 first", ips("2001:db8::1", "2001:db8::2", "192.0.2.1", "192.0.2.2", "192.0.2.3"), nil,
			ips("2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2", "192.0.2.3")},
		{"v4 first", ips("192.0.2.1", "192.0.2.2", "2001:db8::1"), nil,
			ips("192.0.2.1", "2001:db8::1", "192.0.2.2")},
		{"one family", ips("192.0.2.2", "192.0.2.1"), nil, ips("192.0.2.2", "192.0.2.1")},
		{"mapped v4 is v4", ips("::ffff:192.0.2.1", "2001:db8::1"), nil, ips("192.0.2.1", "2001:db8::1")},
		{"v4 bind", ips("2001:db8::1", "192.0.2.1"), &net.TCPAddr{IP: net.ParseIP("192.0.2.100")}, ips("192.0.2.1")},
		{"v6 bind", ips("2001:db8::1", "192.0.2.1"), &net.TCPAddr{IP: net.ParseIP("2001:db8::100")}, ips("2001:db8::1")},
		{"unspecified bind", ips("2001:db8::1", "192.0.2.1"), &net.TCPAddr{Port: 4000}, ips("2001:db8::1", "192.0.2.1")},
		{"none", nil, nil, []netip.Addr{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, attemptOrder(tc.in, tc.bind))
		})
	}
}
