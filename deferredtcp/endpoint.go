package deferredtcp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/reactor"
)

// ErrBadEndpoint is matched by every [*EndpointError].
var ErrBadEndpoint = errors.New("deferredtcp: bad endpoint description")

// ErrNoProtocol fails [ClientEndpoint.Connect] when the factory builds no
// protocol (Twisted's NoProtocol).
var ErrNoProtocol = errors.New("deferredtcp: the factory built no protocol")

// EndpointError reports a description string that [ServerFromString] or
// [ClientFromString] cannot use, or whose key or certificate files the
// endpoint cannot use when it listens or connects; it names the field at
// fault. Its message quotes the description and the value at most once
// each, cut to 64 bytes (and an unusual field name likewise).
type EndpointError struct {
	Description string // the whole description
	Field       string // the field at fault: "type", "port", "host", ... or "description"
	Value       string // the field's value, if any
	Err         error  // what is wrong with it
}

func (e *EndpointError) Error() string {
	desc, field := quoteClipped(e.Description), e.Field
	if !plainName(field) { // an unknown parameter's name, say
		field = quoteClipped(field)
	}
	if e.Value != "" && e.Value != e.Description {
		return fmt.Sprintf("deferredtcp: endpoint %s: %s %s: %v", desc, field, quoteClipped(e.Value), e.Err)
	}
	return fmt.Sprintf("deferredtcp: endpoint %s: %s: %v", desc, field, e.Err)
}

// plainName reports whether s can stand unquoted in a message: short,
// printable ASCII.
func plainName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' || s[i] == '"' {
			return false
		}
	}
	return true
}

// quoteClipped quotes s, cut to 64 bytes (at a character boundary) with its
// length noted: an error message stays readable whatever it quotes.
func quoteClipped(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:n], len(s))
}

// Unwrap returns the cause.
func (e *EndpointError) Unwrap() error { return e.Err }

// Is reports whether target is ErrBadEndpoint.
func (e *EndpointError) Is(target error) bool { return target == ErrBadEndpoint }

// ServerEndpoint is where a server listens, as a description string gives
// it (Twisted's IStreamServerEndpoint). Its methods are loop goroutine only
// (or before Run).
type ServerEndpoint struct {
	// Network is "tcp4", "tcp6" or "unix".
	Network string
	// Address is "interface:port" for TCP, the socket's path for Unix.
	Address string
	// Backlog is the listen backlog (50 by default, as Twisted's).
	Backlog int
	// Mode is the permission of a Unix socket's file (0666 by default, as
	// Twisted's; 0 is no permission at all). An abstract socket's address
	// ("@name") has no file, and no mode.
	Mode os.FileMode
	// TLS, when set, makes the endpoint serve TLS with it ("ssl:" and
	// "tls:" descriptions).
	TLS *tls.Config
	// HandshakeTimeout bounds each TLS handshake (handshakeTimeout=, in
	// seconds); zero means DefaultHandshakeTimeout, negative none.
	HandshakeTimeout time.Duration
	// KeyFile and CertFile name the PEM files of the TLS key and
	// certificate chain (an ssl: description's privateKey and certKey;
	// CertFile defaults to KeyFile). [ServerEndpoint.ListenConns] reads
	// them, not ServerFromString: regular files of at most 1 MiB.
	KeyFile, CertFile string

	r    *reactor.Reactor
	desc string // the description, for errors
}

// ClientEndpoint is where a client connects, as a description string gives
// it (Twisted's IStreamClientEndpoint). Its methods are loop goroutine only
// (or before Run).
type ClientEndpoint struct {
	// Network is "tcp" or "unix".
	Network string
	// Address is "host:port" for TCP, the socket's path for Unix.
	Address string
	// Timeout bounds the connection attempt (30 seconds by default, as
	// Twisted's).
	Timeout time.Duration
	// BindAddress is the local address to connect from, if any.
	BindAddress net.Addr
	// TLS, when set, makes the endpoint speak TLS with it.
	TLS *tls.Config
	// HandshakeTimeout bounds the TLS handshake (handshakeTimeout=, in
	// seconds), within Timeout; zero means DefaultHandshakeTimeout,
	// negative none.
	HandshakeTimeout time.Duration
	// CACertsDir, when set, names a directory whose .pem files hold the
	// roots a TLS endpoint trusts (caCertsDir=). [ClientEndpoint.DialConn]
	// reads them, not ClientFromString: regular files of at most 1 MiB.
	CACertsDir string

	r    *reactor.Reactor
	desc string // the description, for errors
}

// ServerFromString parses a server description in Twisted's syntax
// (twisted.internet.endpoints.serverFromString):
//
//	tcp:8007                                   port 8007 on every IPv4 interface
//	tcp:port=8007:interface=127.0.0.1:backlog=50
//	tcp6:8007:interface=\:\:1                 IPv6; "\" escapes ':' and '='
//	unix:/var/run/finger:mode=660:backlog=50:lockfile=1
//	ssl:443:privateKey=key.pem:certKey=cert.pem   (or tls:; handshakeTimeout=SECONDS, 10 by default)
//
// Fields are separated by ':', given by position or as name=value, and a
// backslash makes the next character literal. A description it cannot use
// is an [*EndpointError] naming the field at fault: one with a NUL byte, a
// Unix path longer than 107 bytes, for instance. A Unix address that
// starts with '@' is an abstract socket (Linux), which has no file. lockfile
// is accepted for compatibility but makes no lock file. ServerFromString
// only parses: it reads no file (an ssl: endpoint's key files are read when
// it listens) and is safe from any goroutine.
func ServerFromString(r *reactor.Reactor, description string) (*ServerEndpoint, error) {
	p, err := parseDescription(description)
	if err != nil {
		return nil, err
	}
	e := &ServerEndpoint{r: r, Backlog: DefaultBacklog, desc: description}
	switch kind := strings.ToLower(p.kind); kind {
	case "tcp", "tcp6", "ssl", "tls":
		e.Network = "tcp4"
		if kind == "tcp6" {
			e.Network = "tcp6"
		}
		var v struct{ port, iface, backlog, key, cert, handshake string }
		fields := []*string{&v.port, &v.iface, &v.backlog}
		names := []string{"port", "interface", "backlog"}
		if kind == "ssl" || kind == "tls" {
			fields = append(fields, &v.key, &v.cert, &v.handshake)
			names = append(names, "privateKey", "certKey", "handshakeTimeout")
		}
		if err := p.bindAll(names, fields); err != nil {
			return nil, err
		}
		port, err := p.port(v.port)
		if err != nil {
			return nil, err
		}
		if v.iface != "" && net.ParseIP(v.iface) == nil {
			return nil, p.fail("interface", v.iface, errors.New("not an IP address"))
		}
		e.Address = net.JoinHostPort(v.iface, strconv.Itoa(port))
		if e.Backlog, err = p.count("backlog", v.backlog, DefaultBacklog); err != nil {
			return nil, err
		}
		if e.HandshakeTimeout, err = p.handshakeTimeout(v.handshake); err != nil {
			return nil, err
		}
		if kind == "ssl" || kind == "tls" {
			if v.key == "" {
				return nil, p.fail("privateKey", "", errors.New("missing"))
			}
			e.TLS, e.KeyFile, e.CertFile = &tls.Config{}, v.key, v.cert
		}
	case "unix":
		e.Network = "unix"
		var path, mode, backlog, lockfile string
		if err := p.bindAll([]string{"address", "mode", "backlog", "lockfile"},
			[]*string{&path, &mode, &backlog, &lockfile}); err != nil {
			return nil, err
		}
		if err := p.unixPath("address", path); err != nil {
			return nil, err
		}
		e.Address = path
		e.Mode = 0o666
		if mode != "" {
			m, err := strconv.ParseUint(mode, 8, 32)
			if err != nil || m > 0o777 {
				return nil, p.fail("mode", mode, errors.New("not an octal permission"))
			}
			e.Mode = os.FileMode(m)
		}
		var err error
		if e.Backlog, err = p.count("backlog", backlog, DefaultBacklog); err != nil {
			return nil, err
		}
		if _, err := p.flag("lockfile", lockfile); err != nil {
			return nil, err
		}
	default:
		return nil, p.fail("type", p.kind, errors.New("unknown endpoint type (want tcp, tcp6, unix, ssl or tls)"))
	}
	return e, nil
}

// ClientFromString parses a client description in Twisted's syntax
// (twisted.internet.endpoints.clientFromString):
//
//	tcp:host=example.org:port=80:timeout=10:bindAddress=192.0.2.100
//	tcp:example.org:80
//	unix:path=/var/run/finger:timeout=9:lockfile=1
//	unix:/var/run/finger
//	tls:example.org:443                  (or ssl:; caCertsDir= trusts the PEM files in a directory;
//	                                      handshakeTimeout=SECONDS, 10 by default)
//
// Its syntax and errors are [ServerFromString]'s; timeout is a finite
// number of seconds, at least a nanosecond (0 means none). It reads no
// file (caCertsDir is read when the endpoint connects) and is safe from any
// goroutine.
func ClientFromString(r *reactor.Reactor, description string) (*ClientEndpoint, error) {
	p, err := parseDescription(description)
	if err != nil {
		return nil, err
	}
	e := &ClientEndpoint{r: r, Timeout: DefaultConnectTimeout, desc: description}
	var timeout string
	switch kind := strings.ToLower(p.kind); kind {
	case "tcp", "ssl", "tls":
		e.Network = "tcp"
		var host, port, bind, caDir, handshake string
		names := []string{"host", "port", "timeout", "bindAddress"}
		fields := []*string{&host, &port, &timeout, &bind}
		if kind != "tcp" {
			names = append(names, "caCertsDir", "handshakeTimeout")
			fields = append(fields, &caDir, &handshake)
		}
		// Twisted: a lone positional is the port when host= is given.
		if len(p.args) == 1 && p.has("host") {
			p.args = append([]string{p.kw["host"].value}, p.args...)
			p.drop("host")
		}
		if err := p.bind(names[:2], fields[:2]); err != nil {
			return nil, err
		}
		if err := p.bindKeywords(names[2:], fields[2:]); err != nil {
			return nil, err
		}
		if err := p.unknown(); err != nil {
			return nil, err
		}
		if host == "" {
			return nil, p.fail("host", "", errors.New("missing"))
		}
		if i := strings.IndexFunc(host, func(c rune) bool { return c <= ' ' || c == 0x7f }); i >= 0 {
			return nil, p.fail("host", host, fmt.Errorf("control character or space at byte %d", i))
		}
		n, err := p.port(port)
		if err != nil {
			return nil, err
		}
		e.Address = net.JoinHostPort(host, strconv.Itoa(n))
		if bind != "" {
			ip := net.ParseIP(bind)
			if ip == nil {
				return nil, p.fail("bindAddress", bind, errors.New("not an IP address"))
			}
			e.BindAddress = &net.TCPAddr{IP: ip}
		}
		if e.HandshakeTimeout, err = p.handshakeTimeout(handshake); err != nil {
			return nil, err
		}
		if kind != "tcp" {
			e.TLS, e.CACertsDir = &tls.Config{ServerName: host}, caDir
		}
	case "unix":
		e.Network = "unix"
		var path, lockfile string
		if err := p.bind([]string{"path"}, []*string{&path}); err != nil {
			return nil, err
		}
		if err := p.bindKeywords([]string{"timeout", "lockfile"}, []*string{&timeout, &lockfile}); err != nil {
			return nil, err
		}
		if err := p.unknown(); err != nil {
			return nil, err
		}
		if err := p.unixPath("path", path); err != nil {
			return nil, err
		}
		e.Address = path
		if _, err := p.flag("lockfile", lockfile); err != nil {
			return nil, err
		}
	default:
		return nil, p.fail("type", p.kind, errors.New("unknown endpoint type (want tcp, unix, ssl or tls)"))
	}
	if timeout != "" {
		var err error
		if e.Timeout, err = p.seconds("timeout", timeout); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Listen listens and serves every connection with a protocol built by f,
// as [ListenTCP] (Twisted's endpoint.listen).
func (e *ServerEndpoint) Listen(f Factory) *deferred.Deferred[*Listener] {
	return deferred.Then(e.ListenConns(), func(l *Listener) (*Listener, error) {
		if e.TLS != nil {
			ServeFactoryTLS(l, e.TLS, f, handshakeOption(e.HandshakeTimeout))
		} else {
			ServeFactory(l, f)
		}
		return l, nil
	})
}

// ListenConns listens, for chain-style serving with [Listener.Accept] or
// [Listener.Serve]. The connections of a TLS endpoint are not wrapped: use
// [StartTLS] on them, with TLS, which then holds the key pair: ListenConns
// first reads KeyFile and CertFile into a copy of TLS, and fails with an
// [*EndpointError] if they are not regular files of at most 1 MiB holding a
// key pair. A Unix socket's file gets Mode.
func (e *ServerEndpoint) ListenConns() *deferred.Deferred[*Listener] {
	if e.KeyFile != "" {
		cfg, err := e.loadKeyPair()
		if err != nil {
			return deferred.Fail[*Listener](err)
		}
		e.TLS = cfg
	}
	return e.listen()
}

func (e *ServerEndpoint) listen() *deferred.Deferred[*Listener] {
	d := Listen(e.r, e.Network, e.Address, WithBacklog(e.Backlog))
	if e.Network != "unix" || isAbstract(e.Address) {
		return d
	}
	return deferred.Then(d, func(l *Listener) (*Listener, error) {
		if err := os.Chmod(e.Address, e.Mode); err != nil {
			l.Close()
			return nil, err
		}
		return l, nil
	})
}

// isAbstract reports whether a Unix socket address names an abstract
// socket, which has no file.
func isAbstract(address string) bool { return strings.HasPrefix(address, "@") }

// Connect connects, builds a protocol with f and serves the connection
// with it; the Deferred fires with the protocol once its ConnectionMade has
// run (Twisted's endpoint.connect). It fails with the connection's error,
// or with [ErrNoProtocol] when f builds none (the connection is then
// closed).
func (e *ClientEndpoint) Connect(f Factory) *deferred.Deferred[Protocol] {
	return serveConnected(e.DialConn(), f)
}

// serveConnected serves the connection d fires with with a protocol that f
// builds, as an endpoint's Connect does.
func serveConnected(d *deferred.Deferred[*Conn], f Factory) *deferred.Deferred[Protocol] {
	return deferred.Then(d, func(c *Conn) (Protocol, error) {
		p := f.BuildProtocol(c.RemoteAddr())
		if p == nil {
			c.Close()
			return nil, ErrNoProtocol
		}
		ServeProtocol(c, p)
		return p, nil
	})
}

// DialConn connects and returns the connection (after the TLS handshake
// for a TLS endpoint), for chain-style code. With CACertsDir, it first reads
// the roots there, and fails with an [*EndpointError] if they are not
// regular files of at most 1 MiB holding certificates.
func (e *ClientEndpoint) DialConn() *deferred.Deferred[*Conn] {
	if e.TLS == nil || e.CACertsDir == "" {
		return e.dial(e.TLS)
	}
	cfg, err := e.loadRoots()
	if err != nil {
		return deferred.Fail[*Conn](err)
	}
	return e.dial(cfg)
}

func (e *ClientEndpoint) dial(cfg *tls.Config) *deferred.Deferred[*Conn] {
	opts := []Option{WithTimeout(e.Timeout)}
	if e.BindAddress != nil {
		opts = append(opts, WithBindAddress(e.BindAddress))
	}
	if cfg != nil {
		return dialTLS(e.r, e.Network, e.Address, cfg, append(opts, handshakeOption(e.HandshakeTimeout)))
	}
	return Connect(e.r, e.Network, e.Address, opts...)
}

// description is a parsed description: its type, positional arguments and
// name=value arguments.
type description struct {
	text  string
	kind  string
	args  []string
	kw    map[string]kwValue
	order []string // the names, in order, to report the first unknown one
}

type kwValue struct {
	value string
	used  bool
}

// parseDescription splits a description with Twisted's rules (_tokenize
// and _parse): ':' separates fields, the first '=' of a field separates a
// name from its value, and a backslash makes the next character literal.
func parseDescription(text string) (*description, error) {
	if i := strings.IndexByte(text, 0); i >= 0 {
		return nil, &EndpointError{Description: text, Field: "description", Err: fmt.Errorf("NUL byte at offset %d", i)}
	}
	d := &description{text: text, kw: map[string]kwValue{}}
	var fields [][]string // each: [value] or [name, value]
	cur := []string{}
	var b strings.Builder
	equalsOK := true
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\\':
			if i+1 == len(text) {
				return nil, &EndpointError{Description: text, Field: "description", Err: errors.New("ends with a lone backslash")}
			}
			i++
			b.WriteByte(text[i])
		case c == ':':
			fields = append(fields, append(cur, b.String()))
			cur, equalsOK = []string{}, true
			b.Reset()
		case c == '=' && equalsOK:
			cur = append(cur, b.String())
			equalsOK = false
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	fields = append(fields, append(cur, b.String()))
	for _, f := range fields {
		if len(f) == 1 {
			d.args = append(d.args, f[0])
			continue
		}
		if _, dup := d.kw[f[0]]; !dup {
			d.order = append(d.order, f[0])
		}
		d.kw[f[0]] = kwValue{value: f[1]} // a later value wins, as in Twisted
	}
	if len(d.args) == 0 || d.args[0] == "" {
		return nil, &EndpointError{Description: text, Field: "type", Err: errors.New("missing")}
	}
	d.kind, d.args = d.args[0], d.args[1:]
	return d, nil
}

// unixPath checks a Unix socket path: present, free of NUL bytes (which
// would cut it short), at most 107 bytes long (the most a sockaddr_un
// holds).
func (d *description) unixPath(field, path string) error {
	switch {
	case path == "":
		return d.fail(field, "", errors.New("missing"))
	case len(path) > maxUnixPath:
		return d.fail(field, path, fmt.Errorf("longer than %d bytes", maxUnixPath))
	}
	return nil
}

// maxUnixPath is the longest Unix socket path, abstract or not: sun_path's
// 108 bytes less the terminating (or, for "@name", leading) NUL.
const maxUnixPath = 107

// seconds parses a timeout in seconds: finite, not negative, at most a
// billion, and either 0 or at least a nanosecond (a smaller one would
// silently mean no timeout at all).
func (d *description) seconds(field, s string) (time.Duration, error) {
	v, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil || math.IsNaN(v) || math.IsInf(v, 0):
		return 0, d.fail(field, s, errors.New("not a finite number of seconds"))
	case v < 0:
		return 0, d.fail(field, s, errors.New("negative"))
	case v > 1e9:
		return 0, d.fail(field, s, errors.New("more than a billion seconds"))
	case v > 0 && v < 1e-9:
		return 0, d.fail(field, s, errors.New("less than a nanosecond"))
	}
	return seconds(v), nil
}

func (d *description) fail(field, value string, err error) error {
	return &EndpointError{Description: d.text, Field: field, Value: value, Err: err}
}

func (d *description) has(name string) bool {
	_, ok := d.kw[name]
	return ok
}

func (d *description) drop(name string) {
	delete(d.kw, name)
}

// bind fills fields from the positional arguments, in order, then from
// the name=value ones, as Python binds a call's arguments; it fails on a
// field given twice, a positional argument too many, or an unknown name.
func (d *description) bind(names []string, fields []*string) error {
	if len(d.args) > len(names) {
		return d.fail(fmt.Sprintf("argument %d", len(names)+2), d.args[len(names)], errors.New("unexpected"))
	}
	for i, a := range d.args {
		if d.has(names[i]) {
			return d.fail(names[i], "", errors.New("given twice"))
		}
		*fields[i] = a
	}
	d.args = nil
	return d.bindKeywords(names, fields)
}

// bindAll is bind followed by the check for unknown names.
func (d *description) bindAll(names []string, fields []*string) error {
	if err := d.bind(names, fields); err != nil {
		return err
	}
	return d.unknown()
}

// bindKeywords fills fields from name=value arguments and checks that no
// unknown name is left, once every field of the endpoint type is bound.
func (d *description) bindKeywords(names []string, fields []*string) error {
	for i, n := range names {
		if kv, ok := d.kw[n]; ok {
			*fields[i] = kv.value
			kv.used = true
			d.kw[n] = kv
		}
	}
	return nil
}

// unknown reports the first name=value argument no field took.
func (d *description) unknown() error {
	for _, n := range d.order {
		if kv, ok := d.kw[n]; ok && !kv.used {
			if n == "" {
				return d.fail("parameter", kv.value, errors.New("empty parameter name"))
			}
			return d.fail(n, kv.value, errors.New("unknown parameter"))
		}
	}
	return nil
}

func (d *description) port(s string) (int, error) {
	if s == "" {
		return 0, d.fail("port", "", errors.New("missing"))
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return 0, d.fail("port", s, errors.New("not a port number (0-65535)"))
	}
	return n, nil
}

func (d *description) count(field, s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, d.fail(field, s, errors.New("not a non-negative integer"))
	}
	return n, nil
}

// flag parses Twisted's bool(int(s)).
func (d *description) flag(field, s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return false, d.fail(field, s, errors.New("not 0 or 1"))
	}
	return n != 0, nil
}
