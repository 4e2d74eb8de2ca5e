package deferredtcp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// DefaultHandshakeTimeout bounds a TLS handshake unless
// [WithHandshakeTimeout] says otherwise.
const DefaultHandshakeTimeout = 10 * time.Second

var (
	// ErrHandshakeTimeout is the reason a TLS handshake fails, and its
	// connection is aborted, when it is not over within
	// [WithHandshakeTimeout] (10 seconds by default). It is a net.Error
	// whose Timeout method reports true, and it matches
	// os.ErrDeadlineExceeded and deferred.ErrTimeout.
	ErrHandshakeTimeout error = &timeoutError{msg: "deferredtcp: TLS handshake timed out"}

	// ErrTLSPlaintext is the reason a TLS handshake fails when the first
	// bytes the peer sends are not a TLS record: plaintext where the
	// handshake should begin, such as a command pipelined after STARTTLS
	// (the command injection of CVE-2011-0411). Those bytes are never
	// delivered.
	ErrTLSPlaintext = errors.New("deferredtcp: plaintext received where the TLS handshake should begin")

	// ErrTLSStarted is returned by [TLSTransport.StartTLS] on a transport
	// that has started TLS already.
	ErrTLSStarted = errors.New("deferredtcp: TLS already started")
)

// WithHandshakeTimeout bounds the TLS handshake of [StartTLS], [ListenTLS],
// [ServeFactoryTLS], [ConnectTLS] and a transport's StartTLS: a peer that
// has not finished it d after the connection was accepted or made (or
// after StartTLS, for STARTTLS) has its connection aborted, with
// [ErrHandshakeTimeout] as the reason, which frees its place under
// [WithMaxConnections]. For a client the connect timeout ([WithTimeout])
// covers the handshake too: the attempt fails at the earlier of the two.
// The timer runs on the reactor. The default is [DefaultHandshakeTimeout],
// 10 seconds; d <= 0 means no deadline.
func WithHandshakeTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.handshakeTimeout = d })
}

// StartTLS starts TLS on c, as the server when server is true, and returns
// a Deferred that fires with the [Conn] that carries the plaintext once the
// handshake has succeeded (Twisted's startTLS, for chains). From then on c
// belongs to the returned Conn: use only the new one, whose methods and
// semantics are c's (closing it sends close_notify, then closes c). Bytes c
// has queued are taken as TLS records. A failed handshake fails the
// Deferred with crypto/tls's error (or [ErrTLSPlaintext] when the peer's
// first bytes are not TLS) and closes c; one not over within
// [WithHandshakeTimeout] (10 seconds by default, counted from now) fails it
// with [ErrHandshakeTimeout] and aborts c; cancelling it aborts c too. A
// client cfg needs ServerName (or InsecureSkipVerify).
//
// The handshake runs on a goroutine, which a server starts only once the
// peer's first bytes have come, so that a peer that never speaks costs no
// goroutine and no buffer. The TLS record layer then runs on goroutines
// (the returned Conn uses the portable I/O path over crypto/tls), whatever
// r's backend; callbacks still run on the loop. opts are the connection
// options ([WithWatermarks], [WithReadBufferSize], ...) of the new Conn,
// and [WithHandshakeTimeout]. Loop goroutine only.
func StartTLS(c *Conn, cfg *tls.Config, server bool, opts ...Option) *deferred.Deferred[*Conn] {
	ccfg := newConfig(opts)
	return startTLS(c, cfg, server, &ccfg, nil, handshakeDeadline(c.loop.r.Now(), &ccfg))
}

// deadline is when a handshake must be over, and the error it fails with
// past it.
type deadline struct {
	at  time.Time // zero: none
	err error
}

// handshakeDeadline is the deadline of a handshake starting at now.
func handshakeDeadline(now time.Time, cfg *config) deadline {
	if cfg.handshakeTimeout <= 0 {
		return deadline{}
	}
	return deadline{at: now.Add(cfg.handshakeTimeout), err: ErrHandshakeTimeout}
}

// connectDeadline is the deadline of a client's handshake starting at now,
// for a connection attempt that started at start: the earlier of the
// handshake's own and the end of the connect timeout, which covers both.
func connectDeadline(start, now time.Time, cfg *config, network string, raddr net.Addr) deadline {
	dl := handshakeDeadline(now, cfg)
	if cfg.timeout > 0 {
		if at := start.Add(cfg.timeout); dl.at.IsZero() || at.Before(dl.at) {
			dl = deadline{at: at, err: &net.OpError{Op: "dial", Net: network, Source: cfg.bind, Addr: raddr, Err: ErrConnectTimeout}}
		}
	}
	return dl
}

// dialTLS connects and makes the TLS handshake as one attempt: the connect
// timeout covers both, and cancelling the Deferred stops either.
func dialTLS(r Loop, network, address string, cfg *tls.Config, opts []Option) *deferred.Deferred[*Conn] {
	ccfg := newConfig(opts)
	cfg = clientConfig(cfg, address)
	start := r.Now()
	return deferred.ThenDeferred(Connect(r, network, address, opts...), func(c *Conn) *deferred.Deferred[*Conn] {
		return startTLS(c, cfg, false, &ccfg, nil, connectDeadline(start, r.Now(), &ccfg, network, c.RemoteAddr()))
	})
}

// handshake is a TLS handshake in progress over raw; it makes the TLS
// Conn once the handshake is over. Loop goroutine only, but for run.
type handshake struct {
	raw     *Conn
	shim    *tlsShim
	cfg     *tls.Config
	server  bool
	tc      *tls.Conn // made by run: a silent peer costs no tls.Conn
	ccfg    *config   // the options of the TLS Conn
	d       *deferred.Deferred[*Conn]
	timer   *reactor.DelayedCall
	started bool // run's goroutine is under way
	done    bool // d has fired, or is about to (cancelled)
}

// startTLS starts a handshake over raw; early holds bytes received before
// (which a protocol had buffered), to take as the first TLS bytes.
func startTLS(raw *Conn, cfg *tls.Config, server bool, ccfg *config, early []byte, dl deadline) *deferred.Deferred[*Conn] {
	h := &handshake{raw: raw, cfg: cfg, server: server, ccfg: ccfg}
	h.d = deferred.NewWithCanceller(h.cancelled)
	if raw.state != connOpen {
		h.done = true
		err := raw.reason
		if err == nil {
			err = ErrClosed
		}
		h.d.Errback(err)
		return h.d
	}
	h.shim = newTLSShim(raw, h)
	if !dl.at.IsZero() {
		h.timer = raw.loop.r.Schedule(dl.at.Sub(raw.loop.r.Now()), func() {
			h.timer = nil
			h.fail(dl.err, true)
		})
	}
	h.shim.start(early)
	if !server && !h.done {
		h.run() // the client speaks first
	}
	return h.d
}

// received runs on the loop when the peer's bytes come, first among them
// at the start of the TLS stream when first: a server's handshake starts
// only now.
func (h *handshake) received(first byte, isFirst bool) {
	if isFirst && first != recordHandshake && first != recordAlert {
		h.fail(ErrTLSPlaintext, false)
		return
	}
	h.run()
}

// The TLS record types a peer may begin with: a handshake message
// (ClientHello, ServerHello) or an alert refusing one.
const (
	recordAlert     = 21
	recordHandshake = 22
)

// run starts the handshake's goroutine, once. It needs no context: the
// deadline aborts raw, which fails the handshake's reads.
func (h *handshake) run() {
	if h.started || h.done {
		return
	}
	h.started = true
	if h.server {
		h.tc = tls.Server(h.shim, h.cfg)
	} else {
		h.tc = tls.Client(h.shim, h.cfg)
	}
	r := h.raw.loop.r
	go func() {
		err := h.tc.HandshakeContext(context.Background())
		r.CallFromGoroutine(func() { h.finished(err) })
	}()
}

// finished runs on the loop when the handshake's goroutine is done.
func (h *handshake) finished(err error) {
	switch {
	case h.done:
		// Failed already (deadline, cancel, raw lost): raw is closed.
	case err != nil:
		h.fail(err, false)
	default:
		h.done = true
		h.stopTimer()
		h.shim.handshakeDone()
		tc := newPortableConn(h.raw.loop, "tls", &tlsNetConn{Conn: h.tc, shim: h.shim}, h.ccfg)
		h.d.Callback(tc)
	}
}

// fail ends the handshake with err: raw is aborted (abort) or closed once
// what crypto/tls wrote (an alert) is sent.
func (h *handshake) fail(err error, abort bool) {
	if h.done {
		return
	}
	h.done = true
	h.stopTimer()
	h.shim.handshakeDone()
	if abort {
		h.raw.lose(err, true)
	} else {
		h.raw.closeWith(err)
	}
	h.d.Errback(err)
}

// rawLost runs on the loop when raw closes during the handshake.
func (h *handshake) rawLost(reason error) {
	if reason == nil {
		reason = ErrClosed
	}
	h.fail(reason, true)
}

// cancelled is the Deferred's canceller: it aborts raw, and Cancel then
// fails the Deferred with deferred.ErrCancelled.
func (h *handshake) cancelled(*deferred.Deferred[*Conn]) {
	if h.done {
		return
	}
	h.done = true
	h.stopTimer()
	h.shim.handshakeDone()
	h.raw.Abort()
}

func (h *handshake) stopTimer() {
	if h.timer != nil {
		h.timer.Cancel()
		h.timer = nil
	}
}

// ListenTLS is [ListenTCP] with TLS: every accepted connection does the
// handshake with cfg, then is served by a protocol f builds (connections
// whose handshake fails, or is not over within [WithHandshakeTimeout], are
// closed without one). Loop goroutine only.
func ListenTLS(r Loop, address string, cfg *tls.Config, f Factory, opts ...Option) *deferred.Deferred[*Listener] {
	return deferred.Then(Listen(r, "tcp", address, opts...), func(l *Listener) (*Listener, error) {
		ServeFactoryTLS(l, cfg, f, opts...)
		return l, nil
	})
}

// ServeFactoryTLS is [ServeFactory] with TLS, as [ListenTLS] does; opts
// are the options of the TLS connections, [WithHandshakeTimeout] among
// them.
func ServeFactoryTLS(l *Listener, cfg *tls.Config, f Factory, opts ...Option) {
	startFactory(l.r, f)
	whenListenerClosed(l, func() { stopFactory(l.r, f) })
	ccfg := newConfig(opts)
	l.Serve(func(c *Conn) {
		startTLS(c, cfg, true, &ccfg, nil, handshakeDeadline(c.loop.r.Now(), &ccfg)).AddBoth(func(tc *Conn, fl *failure.Failure) (*Conn, error) {
			if fl != nil {
				return nil, nil // the handshake failed: c is closed
			}
			p := f.BuildProtocol(tc.RemoteAddr())
			if p == nil {
				tc.Close()
				return nil, nil
			}
			serveProtocol(tc, p, nil, true, ccfg.handshakeTimeout)
			return nil, nil
		})
	})
}

// ConnectTLS is [ConnectTCP] with TLS: the handshake with cfg is part of
// the connection attempt, so a failed handshake calls
// ClientConnectionFailed, and the connect timeout ([WithTimeout], 30
// seconds by default) covers it, as does [WithHandshakeTimeout]. An empty
// cfg.ServerName is taken from address's host. Loop goroutine only.
func ConnectTLS(r Loop, address string, cfg *tls.Config, f ClientFactory, opts ...Option) *Connector {
	c := NewConnector(r, "tcp", address, f, opts...)
	c.dial = func() *deferred.Deferred[*Conn] { return dialTLS(r, "tcp", address, cfg, opts) }
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

// StartTLS implements [TLSTransport]: the transport's connection goes on
// over TLS, as the side (server or client) the transport is on. The bytes
// that follow the STARTTLS command, buffered in a framing receiver or not
// read yet, are taken as TLS records, so that a pipelined ClientHello
// works; plaintext sent after the command is never delivered as if TLS had
// protected it: the handshake fails ([ErrTLSPlaintext]) and the
// connection is lost with that reason. What is written while the
// handshake runs is held, then sent over TLS (or dropped if it fails);
// LoseConnection and LoseWriteConnection then wait for the handshake, and
// Conn returns the connection TLS runs over until the TLS one is made. The
// handshake's deadline is [WithHandshakeTimeout]'s (10 seconds by default)
// from now. It returns [ErrClosed] on a closing connection and
// [ErrTLSStarted] on a TLS one.
func (t *connTransport) StartTLS(cfg *tls.Config) error {
	switch {
	case t.disconnecting:
		return ErrClosed
	case t.tls:
		return ErrTLSStarted
	}
	t.tls, t.handshaking = true, true
	raw := t.c
	raw.OnData(nil)
	raw.OnEOF(nil)
	var early []byte
	if u, ok := t.p.(unhandledHolder); ok {
		early = u.takeUnhandled()
	}
	ccfg := config{high: raw.high, low: raw.low, readSize: raw.readSize, maxWriteBuf: raw.maxWriteBuf, handshakeTimeout: t.handshakeTimeout}
	startTLS(raw, cfg, t.server, &ccfg, early, handshakeDeadline(raw.loop.r.Now(), &ccfg)).AddBoth(t.tlsStarted)
	return nil
}

// tlsStarted runs when StartTLS's handshake is over: the transport goes
// on over tc, with what was written meanwhile.
func (t *connTransport) tlsStarted(tc *Conn, f *failure.Failure) (*Conn, error) {
	t.handshaking = false
	if f != nil {
		t.pending = nil
		t.connectionLost(f)
		return nil, nil
	}
	t.attach(tc)
	if p := t.pending; len(p) > 0 {
		t.pending = nil
		t.send(p)
	}
	switch {
	case t.gone:
	case t.disconnecting:
		tc.Close()
	case t.writeShut:
		tc.CloseWrite()
	}
	if t.producer != nil && !t.gone {
		if t.waitingDrain && tc.Buffered() <= tc.low {
			t.drained()
		} else if !t.streaming {
			t.pull()
		}
	}
	return nil, nil
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
// directions stay bounded. It owns the Conn (see connOwner).
type tlsShim struct {
	raw       *Conn
	r         Loop
	laddr     net.Addr
	raddr     net.Addr
	dataFn    func([]byte)
	hs        *handshake // the handshake in progress; loop only
	waitDrain bool       // flush waits for raw's buffer to drain; loop only
	rawEnd    error      // raw's end of stream (io.EOF) or loss; loop only

	mu          sync.Mutex
	cond        sync.Cond
	in          []byte
	began       bool  // the first byte of the TLS stream has come
	rawPaused   bool  // raw's reading is paused: in is full
	rend        error // reads end with this once in is empty: raw has handed over all it read
	werr        error // raw is lost: writes fail with this
	out         []byte
	flushing    bool // a flush is scheduled on the loop, or waits for raw to drain
	nonBlocking bool // Write must not wait: the loop is the caller
	closed      bool
	wrClosed    bool
}

// tlsShimLimit bounds what the shim holds in each direction; raw's reads
// may add one read's worth.
const tlsShimLimit = 64 << 10

// newTLSShim makes raw's owner a shim that tells hs of the peer's bytes
// and of raw's loss, until the handshake is over; start wires raw to it.
func newTLSShim(raw *Conn, hs *handshake) *tlsShim {
	s := &tlsShim{raw: raw, r: raw.loop.r, laddr: raw.LocalAddr(), raddr: raw.RemoteAddr(), hs: hs}
	s.cond.L = &s.mu
	s.dataFn = s.received
	return s
}

// start takes early as the first bytes of the stream, then what raw has
// queued and reads from now on.
func (s *tlsShim) start(early []byte) {
	raw := s.raw
	raw.owner = s
	if len(early) > 0 {
		s.received(early)
	}
	if raw.state != connOpen {
		return // early was not TLS
	}
	raw.OnData(s.dataFn)
	raw.OnEOF(s.rawEOF)
}

// rawEOF runs on the loop when raw has read the peer's end of stream.
func (s *tlsShim) rawEOF() {
	if s.rawEnd == nil {
		s.rawEnd = io.EOF
	}
	s.endReads()
}

// endReads ends the shim's reads once raw has ended and has handed over
// every byte it queued while paused (a Conn keeps them, closed or not).
func (s *tlsShim) endReads() {
	if s.rawEnd == nil || s.raw.Queued() > 0 {
		return
	}
	s.mu.Lock()
	if s.rend == nil {
		s.rend = s.rawEnd
	}
	s.cond.Broadcast()
	s.mu.Unlock()
}

// handshakeDone stops telling the handshake of raw's events.
func (s *tlsShim) handshakeDone() { s.hs = nil }

// lost implements connOwner: raw is closed.
func (s *tlsShim) lost(reason error) {
	end := reason
	if end == nil {
		end = io.EOF
	}
	s.mu.Lock()
	s.werr = end
	s.out = nil
	s.cond.Broadcast()
	s.mu.Unlock()
	if s.rawEnd == nil || reason != nil {
		s.rawEnd = end
	}
	s.endReads()
	if s.hs != nil {
		s.hs.rawLost(reason)
	}
}

// drained implements connOwner: raw's write buffer has room again.
func (s *tlsShim) drained() {
	if s.waitDrain {
		s.waitDrain = false
		s.flush()
	}
}

// received runs on the loop with bytes raw read.
func (s *tlsShim) received(p []byte) {
	if len(p) == 0 {
		return
	}
	s.mu.Lock()
	isFirst := !s.began
	s.began = true
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
	if s.hs != nil {
		s.hs.received(p[0], isFirst)
	}
}

func (s *tlsShim) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.in) == 0 && s.rend == nil && !s.closed {
		s.cond.Wait()
	}
	switch {
	case s.closed:
		return 0, net.ErrClosed
	case len(s.in) == 0 && !errors.Is(s.rend, io.EOF):
		return 0, s.rend
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
		s.r.CallFromGoroutine(func() {
			s.raw.OnData(s.dataFn) // hands over what raw queued, closed or not
			s.endReads()
		})
	}
	return n, nil
}

func (s *tlsShim) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.out) >= tlsShimLimit && !s.nonBlocking && !s.closed && s.werr == nil {
		s.cond.Wait()
	}
	switch {
	case s.werr != nil:
		return 0, s.werr
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
	if s.raw.Buffered() > s.raw.high && s.raw.state != connClosed {
		s.waitDrain = true // drained flushes again
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

// handshakeTimeout parses an endpoint's handshakeTimeout: a positive
// number of seconds, DefaultHandshakeTimeout when empty.
func (d *description) handshakeTimeout(s string) (time.Duration, error) {
	if s == "" {
		return DefaultHandshakeTimeout, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 1e-9 && f <= 1e9) { // NaN fails both
		return 0, d.fail("handshakeTimeout", s, errors.New("not a positive number of seconds"))
	}
	return seconds(f), nil
}

// handshakeOption is the option of an endpoint's HandshakeTimeout.
func handshakeOption(d time.Duration) Option {
	if d == 0 {
		d = DefaultHandshakeTimeout
	}
	return WithHandshakeTimeout(d)
}
