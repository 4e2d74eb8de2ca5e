//go:build linux

package deferredtcp_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// These tests use addresses of 127.0.0.0/8 besides 127.0.0.1, which Linux
// routes to the loopback interface.

// fakeResolver answers every lookup with addrs and err; with block, it waits
// for the lookup's context to end instead, and records its error.
type fakeResolver struct {
	addrs []netip.Addr
	err   error
	block bool

	mu     sync.Mutex
	ctxErr error
}

func (f *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if network != "ip" {
		return nil, errors.New("fakeResolver: network " + network)
	}
	if f.block {
		<-ctx.Done()
		f.mu.Lock()
		f.ctxErr = ctx.Err()
		f.mu.Unlock()
		return nil, ctx.Err()
	}
	return f.addrs, f.err
}

func ips(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// blackhole returns a port of 127.0.0.2 that never answers a connection
// attempt: a socket listens there with a backlog of 0 and one connection
// fills its accept queue, so the kernel drops every further SYN and a
// connect waits until it is cancelled or times out. It is closed when the
// test ends.
func blackhole(t testing.TB) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	require.NoError(t, unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 2}}))
	require.NoError(t, unix.Listen(fd, 0))
	sa, err := unix.Getsockname(fd)
	require.NoError(t, err)
	port := sa.(*unix.SockaddrInet4).Port
	filler, err := net.Dial("tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(port)))
	require.NoError(t, err)
	t.Cleanup(func() { filler.Close() })
	return port
}

// listenOn listens on 127.0.0.1:port, skipping the test if something else
// has that port.
func listenOn(t testing.TB, r *reactor.Reactor, port int) *deferredtcp.Listener {
	t.Helper()
	l, err := deferredtcp.Listen(r, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))).Wait(t.Context())
	if errors.Is(err, syscall.EADDRINUSE) {
		t.Skipf("127.0.0.1:%d is taken", port)
	}
	require.NoError(t, err)
	return l
}

// TestHostnameEndpointStaggers resolves a name to an address that never
// answers, then a reachable one: the second attempt starts once the
// attempt delay has passed, connects, and the first is cancelled.
func TestHostnameEndpointStaggers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		checkGoroutines(t)
		r := newReactor()
		port := blackhole(t)
		l := listenOn(t, r, port)
		defer l.Close()
		e := deferredtcp.NewHostnameEndpoint(r, "twist.test", port)
		e.Resolver = &fakeResolver{addrs: ips("127.0.0.2", "127.0.0.1")}

		got, took := dialConn(t, r, e)
		require.NoError(t, got.err)
		require.Equal(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), got.value.RemoteAddr().String())
		require.GreaterOrEqual(t, took, deferredtcp.DefaultAttemptDelay, "the second attempt waits for the delay")
		require.Less(t, took, deferredtcp.DefaultAttemptDelay+time.Second, "and not for the first attempt's end")
	})
}

// TestHostnameEndpointFailureStartsNextAtOnce has the first address refuse
// the connection: the next attempt starts at once, without waiting out the
// (here 10 s) attempt delay.
func TestHostnameEndpointFailureStartsNextAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r)
		port := l.Addr().(*net.TCPAddr).Port
		e := deferredtcp.NewHostnameEndpoint(r, "twist.test", port)
		e.Resolver = &fakeResolver{addrs: ips("127.0.0.2", "127.0.0.1")} // nothing listens on 127.0.0.2
		e.AttemptDelay = 10 * time.Second

		got, took := dialConn(t, r, e)
		require.NoError(t, got.err)
		require.Equal(t, l.Addr().String(), got.value.RemoteAddr().String())
		require.Less(t, took, 5*time.Second)
	})
}

// TestHostnameEndpointAllFail has every address refuse: the Deferred fails
// with the last attempt's error, once all have been tried.
func TestHostnameEndpointAllFail(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		_, portText, _ := net.SplitHostPort(closedPort(t))
		port, _ := strconv.Atoi(portText)
		e := deferredtcp.NewHostnameEndpoint(r, "twist.test", port)
		e.Resolver = &fakeResolver{addrs: ips("127.0.0.2", "127.0.0.3")}

		got, _ := dialConn(t, r, e)
		require.ErrorIs(t, got.err, syscall.ECONNREFUSED)
		var oe *net.OpError
		require.ErrorAs(t, got.err, &oe)
		require.Equal(t, net.JoinHostPort("127.0.0.3", strconv.Itoa(port)), oe.Addr.String())
	})
}

// TestHostnameEndpointLookupFails checks the errors of a bad port, of a
// failed lookup and of a name with no address to try, and cancellation
// during the lookup.
func TestHostnameEndpointLookupFails(t *testing.T) {
	notFound := &net.DNSError{Err: "no such host", Name: "twist.test", IsNotFound: true}
	t.Run("bad port", func(t *testing.T) {
		r := reactor.New()
		e := deferredtcp.NewHostnameEndpoint(r, "127.0.0.1", 65536)
		got, _ := dialConn(t, r, e)
		require.EqualError(t, got.err, "dial tcp: address 65536: invalid port")
		var ae *net.AddrError
		require.ErrorAs(t, got.err, &ae)
	})
	for _, tc := range []struct {
		name     string
		resolver *fakeResolver
		bind     net.Addr
		text     string
	}{
		{"lookup error", &fakeResolver{err: notFound}, nil, "dial tcp: lookup twist.test: no such host"},
		{"no address", &fakeResolver{}, nil, "dial tcp: lookup twist.test: no suitable address found"},
		{"no address of the bind's family", &fakeResolver{addrs: ips("::1")},
			&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, "dial tcp: lookup twist.test: no suitable address found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := reactor.New()
			e := deferredtcp.NewHostnameEndpoint(r, "twist.test", 80)
			e.Resolver = tc.resolver
			e.BindAddress = tc.bind
			got, _ := dialConn(t, r, e)
			require.EqualError(t, got.err, tc.text)
			var dns *net.DNSError
			require.ErrorAs(t, got.err, &dns)
			require.True(t, dns.IsNotFound)
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		r := reactor.New()
		e := deferredtcp.NewHostnameEndpoint(r, "twist.test", 80)
		resolver := &fakeResolver{block: true}
		e.Resolver = resolver
		var got *outcome[*deferredtcp.Conn]
		r.CallWhenRunning(func() {
			d := e.DialConn()
			got = record(d)
			d.Cancel()
			r.Stop() // Run waits for the lookup's goroutine
		})
		run(t, r)
		require.ErrorIs(t, got.err, deferred.ErrCancelled)
		resolver.mu.Lock()
		defer resolver.mu.Unlock()
		require.ErrorIs(t, resolver.ctxErr, context.Canceled, "the lookup was cancelled")
	})
}

// TestHostnameEndpointCancelWhileConnecting cancels a dial whose attempt
// hangs: it fails with ErrCancelled, and the attempt's socket is closed.
func TestHostnameEndpointCancelWhileConnecting(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		checkGoroutines(t)
		r := newReactor()
		port := blackhole(t)
		e := deferredtcp.NewHostnameEndpoint(r, "127.0.0.2", port) // an IP: no lookup
		var got *outcome[*deferredtcp.Conn]
		r.CallWhenRunning(func() {
			d := e.DialConn()
			got = record(d)
			after(d, stop(r))
			r.Schedule(50*time.Millisecond, d.Cancel)
		})
		run(t, r)
		require.ErrorIs(t, got.err, deferred.ErrCancelled)
	})
}

// greeter says hello when connected and stops the reactor at the echo.
type greeter struct {
	deferredtcp.BaseProtocol
	r     *reactor.Reactor
	heard []byte
}

func (g *greeter) ConnectionMade(t deferredtcp.Transport) { t.Write([]byte("hello")) }

func (g *greeter) DataReceived(p []byte) {
	g.heard = append(g.heard, p...)
	if len(g.heard) >= len("hello") {
		g.Transport.LoseConnection()
		g.r.Stop()
	}
}

// TestConnectProtocol connects a protocol through a HostnameEndpoint with
// ConnectProtocol: the Deferred fires with the protocol itself, connected.
func TestConnectProtocol(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r)
		l.Serve(echo)
		port := l.Addr().(*net.TCPAddr).Port
		g := &greeter{r: r}
		var got *outcome[*greeter]
		r.CallWhenRunning(func() {
			got = record(deferredtcp.ConnectProtocol(deferredtcp.NewHostnameEndpoint(r, "127.0.0.1", port), g))
		})
		run(t, r)
		require.NoError(t, got.err)
		require.Same(t, g, got.value)
		require.Equal(t, "hello", string(g.heard))
	})
}

// TestHostnameEndpointTimeoutCoversTheHandshake connects with TLS to a
// server that accepts and never answers: the endpoint's Timeout, counted
// from the attempt that connected, ends the handshake with
// ErrConnectTimeout; with a longer Timeout, HandshakeTimeout ends it with
// ErrHandshakeTimeout. Either is a net.Error timeout.
func TestHostnameEndpointTimeoutCoversTheHandshake(t *testing.T) {
	_, cliCfg := tlsConfigs(t)
	tests := []struct {
		name               string
		timeout, handshake time.Duration
		wantErr            error
	}{
		{"connect timeout", 300 * time.Millisecond, time.Minute, deferredtcp.ErrConnectTimeout},
		{"handshake timeout", time.Minute, 300 * time.Millisecond, deferredtcp.ErrHandshakeTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
				r := newReactor()
				l := listen(t, r)
				defer l.Close()
				l.Serve(func(*deferredtcp.Conn) {}) // holds every connection, silent
				e := deferredtcp.NewHostnameEndpoint(r, "127.0.0.1", l.Addr().(*net.TCPAddr).Port)
				e.TLS = cliCfg
				e.Timeout, e.HandshakeTimeout = tt.timeout, tt.handshake

				got, took := dialConn(t, r, e)
				require.ErrorIs(t, got.err, tt.wantErr)
				var ne net.Error
				require.ErrorAs(t, got.err, &ne)
				require.True(t, ne.Timeout())
				require.GreaterOrEqual(t, took, 300*time.Millisecond)
				require.Less(t, took, 800*time.Millisecond, "the deadline, not a default's")
			})
		})
	}
}

// dialConn runs e.DialConn on r until it settles, then stops r; it returns
// the outcome and how long the dial took on r's clock.
func dialConn(t *testing.T, r *reactor.Reactor, e *deferredtcp.HostnameEndpoint) (*outcome[*deferredtcp.Conn], time.Duration) {
	t.Helper()
	var (
		got  *outcome[*deferredtcp.Conn]
		took time.Duration
	)
	r.CallWhenRunning(func() {
		start := r.Now()
		d := e.DialConn()
		got = record(d)
		d.AddBoth(func(c *deferredtcp.Conn, _ *failure.Failure) (*deferredtcp.Conn, error) {
			took = r.Now().Sub(start)
			r.Stop()
			return c, nil
		})
	})
	run(t, r)
	require.True(t, got.done, "the dial did not settle")
	return got, took
}
