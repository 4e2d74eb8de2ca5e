package deferredtcp

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// DefaultAttemptDelay is how long a [HostnameEndpoint] lets a connection
// attempt run alone before it starts the next one: the Connection Attempt
// Delay RFC 8305 (Happy Eyeballs) recommends. Twisted's HostnameEndpoint
// waits 0.3 s.
const DefaultAttemptDelay = 250 * time.Millisecond

// Resolver looks up the IP addresses of a host name (Twisted's
// IHostnameResolver). *net.Resolver implements it; network is "ip".
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// HostnameEndpoint connects to a host by name, trying each of its addresses
// (Twisted's HostnameEndpoint): it resolves the name on a worker goroutine,
// then starts a connection attempt to the first address, and to the next
// one whenever [HostnameEndpoint.AttemptDelay] passes or the latest attempt
// fails, alternating IPv6 and IPv4 addresses as RFC 8305 says. The first
// attempt to succeed wins and the others are cancelled. Make one with
// [NewHostnameEndpoint], and set its fields before connecting.
type HostnameEndpoint struct {
	// Host is a host name or an IP address; Port its TCP port.
	Host string
	Port int
	// Timeout bounds each connection attempt, and with TLS the handshake
	// that follows the one that connected: 30 seconds from
	// [NewHostnameEndpoint], as Twisted's; zero means no bound.
	Timeout time.Duration
	// BindAddress, if set, is the local address to connect from; only the
	// host's addresses of its family are tried.
	BindAddress net.Addr
	// TLS, when set, makes the endpoint speak TLS with it once connected.
	TLS *tls.Config
	// HandshakeTimeout bounds the TLS handshake, within Timeout; zero
	// means DefaultHandshakeTimeout, negative none.
	HandshakeTimeout time.Duration
	// Resolver looks Host up; nil means net.DefaultResolver.
	Resolver Resolver
	// AttemptDelay is how long an attempt runs alone before the next one
	// starts; zero means DefaultAttemptDelay (250 ms).
	AttemptDelay time.Duration

	r *reactor.Reactor
}

// NewHostnameEndpoint returns an endpoint that connects to host's port on
// r, with Twisted's 30-second timeout per attempt.
func NewHostnameEndpoint(r *reactor.Reactor, host string, port int) *HostnameEndpoint {
	return &HostnameEndpoint{Host: host, Port: port, Timeout: DefaultConnectTimeout, r: r}
}

// Connect connects, builds a protocol with f and serves the connection
// with it; the Deferred fires with the protocol once its ConnectionMade has
// run (Twisted's endpoint.connect). It fails as [HostnameEndpoint.DialConn]
// does, or with [ErrNoProtocol] when f builds none (the connection is then
// closed). Loop goroutine only (or before Run).
func (e *HostnameEndpoint) Connect(f Factory) *deferred.Deferred[Protocol] {
	return serveConnected(e.DialConn(), f)
}

// DialConn connects and returns the connection (after the TLS handshake
// when TLS is set), for chain-style code. It fails with a *net.OpError: of
// the lookup (a *net.DNSError inside, IsNotFound when the name has no
// address), of a port out of range (a *net.AddrError inside), or of the
// last attempt to fail when all of them do; with TLS, also as a handshake
// does: [ErrHandshakeTimeout], or [ErrConnectTimeout] when Timeout, counted
// from the start of the attempt that connected, ends first. Cancelling
// the Deferred cancels the lookup and every attempt. Loop goroutine only
// (or before Run).
func (e *HostnameEndpoint) DialConn() *deferred.Deferred[*Conn] {
	h := &hostnameDial{e: *e}
	if h.e.AttemptDelay <= 0 {
		h.e.AttemptDelay = DefaultAttemptDelay
	}
	h.d = deferred.NewWithCanceller(h.cancelled)
	if e.Port < 0 || e.Port > 65535 {
		h.fail(&net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "invalid port", Addr: strconv.Itoa(e.Port)}})
	} else if ip, err := netip.ParseAddr(e.Host); err == nil {
		h.resolved([]netip.Addr{ip}, nil)
	} else {
		h.lookup()
	}
	if e.TLS == nil {
		return h.d
	}
	return deferred.ThenDeferred(h.d, func(c *Conn) *deferred.Deferred[*Conn] {
		cfg := e.TLS
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName = e.Host
		}
		ccfg := newConfig([]Option{WithTimeout(e.Timeout), handshakeOption(e.HandshakeTimeout)})
		dl := connectDeadline(h.started, e.r.Now(), &ccfg, "tcp", c.RemoteAddr())
		return startTLS(c, cfg, false, &ccfg, nil, dl)
	})
}

// hostnameDial is one DialConn in progress. It lives on the loop.
type hostnameDial struct {
	e HostnameEndpoint // a copy: changes to the endpoint do not reach it
	d *deferred.Deferred[*Conn]

	stopLookup context.CancelFunc // while the lookup runs
	addrs      []netip.Addr       // in the order to try them
	tried      int                // addrs[:tried] have had an attempt
	pending    []*deferred.Deferred[*Conn]
	latest     *deferred.Deferred[*Conn] // the attempt started last
	timer      *reactor.DelayedCall      // starts the next attempt
	lastErr    error
	started    time.Time // when the attempt that connected started
	done       bool
}

func (h *hostnameDial) lookup() {
	resolver := h.e.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stopLookup = cancel
	host := h.e.Host
	reactor.DeferToGoroutine(h.e.r, func() ([]netip.Addr, error) {
		return resolver.LookupNetIP(ctx, "ip", host)
	}).AddBoth(func(addrs []netip.Addr, f *failure.Failure) ([]netip.Addr, error) {
		cancel()
		h.stopLookup = nil
		var err error
		if f != nil {
			err = f
		}
		h.resolved(addrs, err)
		return nil, nil
	})
}

// resolved starts the attempts once the lookup is over.
func (h *hostnameDial) resolved(addrs []netip.Addr, err error) {
	if h.done {
		return // cancelled meanwhile
	}
	if err != nil {
		var dns *net.DNSError
		if errors.As(err, &dns) {
			err = dns
		}
		h.fail(&net.OpError{Op: "dial", Net: "tcp", Err: err})
		return
	}
	h.addrs = attemptOrder(addrs, h.e.BindAddress)
	if len(h.addrs) == 0 {
		h.fail(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{
			Err: "no suitable address found", Name: h.e.Host, IsNotFound: true,
		}})
		return
	}
	h.next()
}

// next starts an attempt to the next address, or, when none is left and
// no attempt is pending, fails with the last attempt's error.
func (h *hostnameDial) next() {
	if h.timer != nil {
		h.timer.Cancel()
		h.timer = nil
	}
	if h.tried == len(h.addrs) {
		if len(h.pending) == 0 {
			h.fail(h.lastErr)
		}
		return
	}
	addr := netip.AddrPortFrom(h.addrs[h.tried], uint16(h.e.Port))
	h.tried++
	if h.tried < len(h.addrs) {
		h.timer = h.e.r.Schedule(h.e.AttemptDelay, h.next)
	}
	opts := []Option{WithTimeout(h.e.Timeout)}
	if h.e.BindAddress != nil {
		opts = append(opts, WithBindAddress(h.e.BindAddress))
	}
	start := h.e.r.Now()
	d := Connect(h.e.r, "tcp", addr.String(), opts...)
	h.pending = append(h.pending, d)
	h.latest = d
	d.AddBoth(func(c *Conn, f *failure.Failure) (*Conn, error) {
		h.attemptDone(d, start, c, f)
		return nil, nil
	})
}

func (h *hostnameDial) attemptDone(d *deferred.Deferred[*Conn], start time.Time, c *Conn, f *failure.Failure) {
	if i := slices.Index(h.pending, d); i >= 0 {
		h.pending = slices.Delete(h.pending, i, i+1)
	}
	switch {
	case h.done:
		// A loser: cancelled, or connected just too late.
		if c != nil {
			c.Close()
		}
	case f == nil:
		h.finish()
		h.started = start
		h.d.Callback(c)
	case errors.Is(f, deferred.ErrCancelled):
		// Not by us: the reactor is shutting down. Start nothing more.
		h.fail(f)
	default:
		h.lastErr = f
		if d == h.latest || h.tried == len(h.addrs) {
			h.next() // do not wait out the delay after a failure
		}
	}
}

func (h *hostnameDial) fail(err error) {
	h.finish()
	h.d.Errback(err)
}

// finish stops the lookup, the timer and every pending attempt.
func (h *hostnameDial) finish() {
	h.done = true
	if h.stopLookup != nil {
		h.stopLookup()
		h.stopLookup = nil
	}
	if h.timer != nil {
		h.timer.Cancel()
		h.timer = nil
	}
	pending := h.pending
	h.pending = nil
	for _, d := range pending {
		d.Cancel()
	}
}

// cancelled is the Deferred's canceller; Cancel then fails it with
// deferred.ErrCancelled.
func (h *hostnameDial) cancelled(*deferred.Deferred[*Conn]) {
	if !h.done {
		h.finish()
	}
}

// attemptOrder returns addrs in the order to try them (RFC 8305): the
// families alternate, starting with the first address's, each keeping the
// resolver's order. With a bind address, only its family is kept.
func attemptOrder(addrs []netip.Addr, bind net.Addr) []netip.Addr {
	var v4, v6 []netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	if b, ok := bind.(*net.TCPAddr); ok && b.IP != nil && !b.IP.IsUnspecified() {
		if b.IP.To4() != nil {
			v6 = nil
		} else {
			v4 = nil
		}
	}
	first, second := v6, v4
	if len(addrs) > 0 && addrs[0].Unmap().Is4() {
		first, second = v4, v6
	}
	out := make([]netip.Addr, 0, len(v4)+len(v6))
	for i := 0; i < len(first) || i < len(second); i++ {
		if i < len(first) {
			out = append(out, first[i])
		}
		if i < len(second) {
			out = append(out, second[i])
		}
	}
	return out
}

// StreamClientEndpoint is a client endpoint that connects a [Factory]'s
// protocol (Twisted's IStreamClientEndpoint): [*ClientEndpoint] and
// [*HostnameEndpoint] are two.
type StreamClientEndpoint interface {
	Connect(f Factory) *deferred.Deferred[Protocol]
}

// ConnectProtocol connects e and serves the connection with p (Twisted's
// connectProtocol); the Deferred fires with p once its ConnectionMade has
// run, or fails as e's Connect does:
//
//	deferredtcp.ConnectProtocol(deferredtcp.NewHostnameEndpoint(r, "example.org", 80), &Greeter{})
//
// Loop goroutine only (or before Run).
func ConnectProtocol[P Protocol](e StreamClientEndpoint, p P) *deferred.Deferred[P] {
	return deferred.Then(e.Connect(FactoryFunc(func(net.Addr) Protocol { return p })), func(Protocol) (P, error) {
		return p, nil
	})
}
