package deferredtcp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
)

// StartTLS starts TLS on c, as the server when server is true, and returns
// a Deferred that fires with the [Conn] that carries the plaintext once the
// handshake has succeeded (Twisted's startTLS, for chains). From then on c
// belongs to the returned Conn: use only the new one, whose methods and
// semantics are c's (closing it sends close_notify, then closes c). Bytes c
// has queued are taken as TLS records. A failed handshake fails the
// Deferred with crypto/tls's error and aborts c; cancelling it aborts c
// too. A client cfg needs ServerName (or InsecureSkipVerify).
//
// The TLS record layer runs on goroutines (the returned Conn uses the
// portable I/O path over crypto/tls), whatever r's backend; callbacks still
// run on the loop. opts are the connection options ([WithWatermarks],
// [WithReadBufferSize], ...) of the new Conn. Loop goroutine only.
func StartTLS(c *Conn, cfg *tls.Config, server bool, opts ...Option) *deferred.Deferred[*Conn] {
	tc, conn := wrapTLS(c, cfg, server, opts)
	d := deferred.NewWithCanceller(func(*deferred.Deferred[*Conn]) { tc.Abort() })
	r := c.Loop()
	go func() {
		err := conn.HandshakeContext(context.Background())
		r.CallFromGoroutine(func() {
			if err != nil {
				tc.Abort()
				d.Errback(err)
				return
			}
			d.Callback(tc)
		})
	}()
	return d
}

// wrapTLS puts a TLS Conn over c at once; the handshake happens on the
// first read or write.
func wrapTLS(c *Conn, cfg *tls.Config, server bool, opts []Option) (*Conn, *tls.Conn) {
	s := newTLSShim(c)
	var conn *tls.Conn
	if server {
		conn = tls.Server(s, cfg)
	} else {
		conn = tls.Client(s, cfg)
	}
	ccfg := newConfig(opts)
	tc := newPortableConn(c.loop, "tls", &tlsNetConn{Conn: conn, shim: s}, &ccfg)
	return tc, conn
}

// ListenTLS is [ListenTCP] with TLS: every accepted connection does the
// handshake with cfg, then is served by a protocol f builds (connections
// whose handshake fails are closed without one). Loop goroutine only.
func ListenTLS(r Loop, address string, cfg *tls.Config, f Factory, opts ...Option) *deferred.Deferred[*Listener] {
	return deferred.Then(Listen(r, "tcp", address, opts...), func(l *Listener) (*Listener, error) {
		ServeFactoryTLS(l, cfg, f, opts...)
		return l, nil
	})
}

// ServeFactoryTLS is [ServeFactory] with TLS, as [ListenTLS] does.
func ServeFactoryTLS(l *Listener, cfg *tls.Config, f Factory, opts ...Option) {
	startFactory(l.r, f)
	whenListenerClosed(l, func() { stopFactory(l.r, f) })
	l.Serve(func(c *Conn) {
		StartTLS(c, cfg, true, opts...).AddBoth(func(tc *Conn, fl *failure.Failure) (*Conn, error) {
			if fl != nil {
				return nil, nil // the handshake failed: c is closed
			}
			p := f.BuildProtocol(tc.RemoteAddr())
			if p == nil {
				tc.Close()
				return nil, nil
			}
			serveProtocol(tc, p, nil, true)
			return nil, nil
		})
	})
}

// ConnectTLS is [ConnectTCP] with TLS: the handshake with cfg is part of
// the connection attempt, so a failed handshake calls
// ClientConnectionFailed. An empty cfg.ServerName is taken from address's
// host. Loop goroutine only.
func ConnectTLS(r Loop, address string, cfg *tls.Config, f ClientFactory, opts ...Option) *Connector {
	c := NewConnector(r, "tcp", address, f, opts...)
	cfg = clientConfig(cfg, address)
	c.wrap = func(conn *Conn) *deferred.Deferred[*Conn] { return StartTLS(conn, cfg, false, opts...) }
	c.Connect()
	return c
}

// clientConfig fills an empty ServerName from address.
func clientConfig(cfg *tls.Config, address string) *tls.Config {
	if cfg.ServerName != "" || cfg.InsecureSkipVerify {
		return cfg
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return cfg
	}
	cfg = cfg.Clone()
	cfg.ServerName = host
	return cfg
}

// StartTLS starts TLS on the transport's connection, as the side (server
// or client) it is on (Twisted's ITLSTransport.startTLS): what is written
// from now on is encrypted, what arrives is decrypted. The handshake
// happens as data flows; its failure loses the connection with the TLS
// error. It returns ErrClosed on a closing connection. A client cfg needs
// ServerName (or InsecureSkipVerify).
func (t *connTransport) StartTLS(cfg *tls.Config) error {
	if t.disconnecting {
		return ErrClosed
	}
	raw := t.c
	raw.OnData(nil)
	tc, _ := wrapTLS(raw, cfg, t.server, nil)
	t.attach(tc)
	return nil
}

// tlsNetConn is the net.Conn the TLS Conn's portable path uses: Close and
// CloseWrite, which the loop calls, must not wait for the loop.
type tlsNetConn struct {
	*tls.Conn
	shim *tlsShim
}

func (c *tlsNetConn) Close() error {
	c.shim.setNonBlocking()
	err := c.Conn.Close()
	c.shim.Close()
	return err
}

func (c *tlsNetConn) CloseWrite() error {
	c.shim.setNonBlocking()
	err := c.Conn.CloseWrite()
	c.shim.closeWrite()
	return err
}

// tlsShim is a net.Conn over a Conn, for crypto/tls: what the Conn reads
// is handed to Read through a buffer, and what Write gets is handed to the
// loop, which writes it to the Conn. Reads stop when the buffer is full,
// and Write waits while the Conn's write buffer is full, so both
// directions stay bounded.
type tlsShim struct {
	raw    *Conn
	r      Loop
	laddr  net.Addr
	raddr  net.Addr
	dataFn func([]byte)

	mu          sync.Mutex
	cond        sync.Cond
	in          []byte
	rawPaused   bool  // raw's reading is paused: in is full
	eof         bool  // raw read EOF
	rerr        error // raw is lost: reads fail with this once in is empty
	out         []byte
	flushing    bool // a flush is scheduled on the loop, or waits for raw to drain
	nonBlocking bool // Write must not wait: the loop is the caller
	closed      bool
	wrClosed    bool
}

const tlsShimLimit = 64 << 10

func newTLSShim(raw *Conn) *tlsShim {
	s := &tlsShim{raw: raw, r: raw.Loop(), laddr: raw.LocalAddr(), raddr: raw.RemoteAddr()}
	s.cond.L = &s.mu
	s.dataFn = s.received
	raw.OnData(s.dataFn)
	raw.OnEOF(func() {
		s.mu.Lock()
		s.eof = true
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	raw.Lost().AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
		s.mu.Lock()
		s.rerr = io.EOF
		if f != nil {
			s.rerr = f
		}
		s.out = nil
		s.cond.Broadcast()
		s.mu.Unlock()
		return struct{}{}, nil
	})
	return s
}

// received runs on the loop with bytes raw read.
func (s *tlsShim) received(p []byte) {
	s.mu.Lock()
	s.in = append(s.in, p...)
	full := len(s.in) >= tlsShimLimit && !s.rawPaused
	if full {
		s.rawPaused = true
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	if full {
		s.raw.OnData(nil)
	}
}

func (s *tlsShim) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.in) == 0 && !s.eof && s.rerr == nil && !s.closed {
		s.cond.Wait()
	}
	switch {
	case s.closed:
		return 0, net.ErrClosed
	case len(s.in) == 0 && s.rerr != nil && !errors.Is(s.rerr, io.EOF):
		return 0, s.rerr
	case len(s.in) == 0:
		return 0, io.EOF
	}
	n := copy(p, s.in)
	s.in = s.in[n:]
	if len(s.in) == 0 {
		s.in = nil
	}
	if s.rawPaused && len(s.in) < tlsShimLimit/2 {
		s.rawPaused = false
		s.r.CallFromGoroutine(func() { s.raw.OnData(s.dataFn) })
	}
	return n, nil
}

func (s *tlsShim) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.out) >= tlsShimLimit && !s.nonBlocking && !s.closed && s.rerr == nil {
		s.cond.Wait()
	}
	switch {
	case s.rerr != nil:
		return 0, s.rerr
	case s.closed || s.wrClosed:
		return 0, net.ErrClosed
	}
	s.out = append(s.out, p...)
	s.scheduleFlush()
	return len(p), nil
}

// scheduleFlush asks the loop to write out; s.mu is held.
func (s *tlsShim) scheduleFlush() {
	if !s.flushing {
		s.flushing = true
		s.r.CallFromGoroutine(s.flush)
	}
}

// flush runs on the loop: it writes what Write buffered to raw while raw's
// buffer has room, and waits for raw to drain otherwise; then it carries
// out a pending close.
func (s *tlsShim) flush() {
	s.mu.Lock()
	out := s.out
	s.out = nil
	s.cond.Broadcast()
	closed, wrClosed := s.closed, s.wrClosed
	s.mu.Unlock()
	if len(out) > 0 {
		if err := s.raw.Send(out); err != nil {
			s.raw.Abort()
		}
	}
	if s.raw.Buffered() > tlsShimLimit {
		s.raw.Write(nil).AddBoth(func(int, *failure.Failure) (int, error) {
			s.flush()
			return 0, nil
		})
		return
	}
	s.mu.Lock()
	s.flushing = false
	more := len(s.out) > 0
	if more {
		s.scheduleFlush()
	}
	s.mu.Unlock()
	if more {
		return
	}
	switch {
	case closed:
		s.raw.Close()
	case wrClosed:
		s.raw.CloseWrite()
	}
}

func (s *tlsShim) setNonBlocking() {
	s.mu.Lock()
	s.nonBlocking = true
	s.cond.Broadcast()
	s.mu.Unlock()
}

func (s *tlsShim) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.cond.Broadcast()
	if !s.flushing {
		s.flushing = true
		s.r.CallFromGoroutine(s.flush)
	}
	return nil
}

func (s *tlsShim) closeWrite() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wrClosed = true
	if !s.flushing {
		s.flushing = true
		s.r.CallFromGoroutine(s.flush)
	}
}

func (s *tlsShim) LocalAddr() net.Addr                { return s.laddr }
func (s *tlsShim) RemoteAddr() net.Addr               { return s.raddr }
func (s *tlsShim) SetDeadline(t time.Time) error      { return nil }
func (s *tlsShim) SetReadDeadline(t time.Time) error  { return nil }
func (s *tlsShim) SetWriteDeadline(t time.Time) error { return nil }

// serverTLS loads an endpoint's key pair.
func (d *description) serverTLS(key, cert string) (*tls.Config, error) {
	if key == "" {
		return nil, d.fail("privateKey", "", errors.New("missing"))
	}
	if cert == "" {
		cert = key
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, d.fail("certKey", cert, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}}, nil
}

// clientTLS builds an endpoint's client config; caDir, when given, holds
// the PEM files of the trusted roots.
func (d *description) clientTLS(host, caDir string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: host}
	if caDir == "" {
		return cfg, nil
	}
	pool := x509.NewCertPool()
	files, err := filepath.Glob(filepath.Join(caDir, "*.pem"))
	if err != nil || len(files) == 0 {
		return nil, d.fail("caCertsDir", caDir, errors.New("no .pem file in it"))
	}
	for _, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, d.fail("caCertsDir", caDir, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, d.fail("caCertsDir", caDir, errors.New(f+": no certificate"))
		}
	}
	cfg.RootCAs = pool
	return cfg, nil
}
