package deferredtcp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// requireEndpointError checks that err is an *EndpointError naming field.
func requireEndpointError(t testing.TB, err error, field string) {
	t.Helper()
	var ee *deferredtcp.EndpointError
	require.ErrorAs(t, err, &ee)
	require.ErrorIs(t, err, deferredtcp.ErrBadEndpoint)
	require.Equal(t, field, ee.Field, "error: %v", err)
}

// TestEndpointStringRejected gives ServerFromString and ClientFromString
// descriptions that must not be used as they stand: each fails at once with
// an EndpointError naming the field. A NUL used to cut a Unix path short,
// and timeout=nan and timeout=1e-12 to mean no timeout at all.
func TestEndpointStringRejected(t *testing.T) {
	deferredtest.NoUnhandled(t)
	long := "/tmp/" + strings.Repeat("a", 103)
	tests := []struct {
		server bool
		desc   string
		field  string
	}{
		{true, "unix:/tmp/a\x00b", "description"},
		{true, "unix:/tmp/a:mode=6\x0060", "description"},
		{false, "unix:path=/tmp/a\x00b", "description"},
		{false, "tcp:host=a\x00b:port=80", "description"},
		{true, "unix:" + long, "address"},
		{false, "unix:" + long, "path"},
		{true, "unix:@" + long[1:], "address"},
		{false, "tcp:example.org:80:timeout=nan", "timeout"},
		{false, "tcp:example.org:80:timeout=NaN", "timeout"},
		{false, "tcp:example.org:80:timeout=inf", "timeout"},
		{false, "tcp:example.org:80:timeout=+Inf", "timeout"},
		{false, "tcp:example.org:80:timeout=-inf", "timeout"},
		{false, "tcp:example.org:80:timeout=1e-12", "timeout"},
		{false, "tcp:example.org:80:timeout=-0.5", "timeout"},
		{false, "tcp:example.org:80:timeout=1e10", "timeout"},
		{false, "unix:/tmp/x:timeout=nan", "timeout"},
		{false, "tcp:exa mple.org:80", "host"},
		{false, "tcp:example.org\n:80", "host"},
		{false, "tls:example.org\x7f:443", "host"},
		{true, "ssl:443", "privateKey"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.desc), func(t *testing.T) {
			start := time.Now()
			var err error
			if tt.server {
				_, err = deferredtcp.ServerFromString(nil, tt.desc)
			} else {
				_, err = deferredtcp.ClientFromString(nil, tt.desc)
			}
			require.Less(t, time.Since(start), 100*time.Millisecond)
			requireEndpointError(t, err, tt.field)
			require.Equal(t, 1, strings.Count(err.Error(), "deferredtcp: endpoint "), "%v", err)
		})
	}
	for _, ok := range []string{"timeout=0", "timeout=1e-9", "timeout=0.5", "timeout=1e9"} {
		_, err := deferredtcp.ClientFromString(nil, "tcp:example.org:80:"+ok)
		require.NoError(t, err, ok)
	}
}

// TestEndpointErrorTextClipped checks that an error quotes the description
// once, cut to 64 bytes, however long it is.
func TestEndpointErrorTextClipped(t *testing.T) {
	for _, desc := range []string{
		strings.Repeat("x", 1<<20),                            // the type is the whole description
		"tcp:" + strings.Repeat("9", 1<<20),                   // so is most of the port
		"tcp:80:colour=" + strings.Repeat("é", 1000) + "\x01", // multibyte, cut at a character
	} {
		_, err := deferredtcp.ServerFromString(nil, desc)
		require.Error(t, err)
		msg := err.Error()
		require.Less(t, len(msg), 300, "%s", msg)
		require.Equal(t, 1, strings.Count(msg, fmt.Sprintf(`"... (%d bytes)`, len(desc))), "quoted once: %s", msg)
		require.True(t, strings.ToValidUTF8(msg, "") == msg, "%s", msg)
	}
	_, err := deferredtcp.ServerFromString(nil, "udp:80")
	require.Equal(t, `deferredtcp: endpoint "udp:80": type "udp": unknown endpoint type (want tcp, tcp6, unix, ssl or tls)`, err.Error())
}

// TestEndpointUnixMode listens on unix: descriptions with mode=0 and with
// the default: the socket files get exactly those permissions (mode=0 used
// to be ignored).
func TestEndpointUnixMode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		dir := t.TempDir()
		for _, tc := range []struct {
			opt  string
			want os.FileMode
		}{{":mode=0", 0}, {"", 0o666}, {":mode=640", 0o640}} {
			path := filepath.Join(dir, fmt.Sprintf("mode%o.sock", tc.want))
			e, err := deferredtcp.ServerFromString(r, "unix:"+path+tc.opt)
			require.NoError(t, err)
			l := record(e.ListenConns())
			require.NoError(t, l.err)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, tc.want, fi.Mode().Perm(), "unix:%s%s", path, tc.opt)
			l.value.Close()
		}
		r.CallWhenRunning(stop(r))
		run(t, r)
	})
}

// TestEndpointAbstractUnix serves and connects on an abstract Unix socket
// ("unix:@name"), which has no file: it used to fail on chmod.
func TestEndpointAbstractUnix(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		name := fmt.Sprintf("@twist-test-%d-%s", os.Getpid(), t.Name())
		se, err := deferredtcp.ServerFromString(r, `unix:`+strings.ReplaceAll(name, ":", `\:`))
		require.NoError(t, err)
		l := record(se.ListenConns())
		require.NoError(t, l.err)
		l.value.Serve(echo)
		ce, err := deferredtcp.ClientFromString(r, `unix:`+strings.ReplaceAll(name, ":", `\:`))
		require.NoError(t, err)
		var got *outcome[[]byte]
		r.CallWhenRunning(func() {
			d := deferred.ThenDeferred(ce.DialConn(), func(c *deferredtcp.Conn) *deferred.Deferred[[]byte] {
				c.Write([]byte("abstract"))
				return deferred.ThenDeferred(c.ReadFull(8), func(p []byte) *deferred.Deferred[[]byte] {
					return deferred.Then(c.Close(), func(struct{}) ([]byte, error) { return p, nil })
				})
			})
			got = record(d)
			after(d, func() { after(l.value.Close(), stop(r)) })
		})
		run(t, r)
		require.NoError(t, got.err)
		require.Equal(t, "abstract", string(got.value))
	})
}

// TestListenUnixNUL listens on a Unix path with a NUL in it: Listen fails,
// and no file named by the part before the NUL is made (or left behind).
func TestListenUnixNUL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		dir := t.TempDir()
		l := record(deferredtcp.Listen(r, "unix", filepath.Join(dir, "a\x00b")))
		require.Error(t, l.err)
		var oe *net.OpError
		require.ErrorAs(t, l.err, &oe)
		c := record(deferredtcp.Connect(r, "unix", filepath.Join(dir, "a\x00b")))
		require.Error(t, c.err)
		r.CallWhenRunning(stop(r))
		run(t, r)
		ents, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Empty(t, ents)
	})
}

// writeKeyAndCert writes a self-signed certificate for 127.0.0.1 and its key
// as PEM files in dir.
func writeKeyAndCert(t testing.TB, dir string) (keyFile, certFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "twist test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	keyFile, certFile = filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	return keyFile, certFile
}

// escape escapes a path for a description.
func escape(path string) string {
	return strings.NewReplacer(`\`, `\\`, ":", `\:`, "=", `\=`).Replace(path)
}

// TestEndpointTLSFilesReadAtListen serves an ssl: endpoint whose key files
// exist only once ServerFromString has returned (it only parses), and
// connects with a tls: endpoint whose caCertsDir trusts the certificate.
func TestEndpointTLSFilesReadAtListen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		dir := t.TempDir()
		keyFile, certFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
		se, err := deferredtcp.ServerFromString(r, fmt.Sprintf("ssl:0:interface=127.0.0.1:privateKey=%s:certKey=%s", escape(keyFile), escape(certFile)))
		require.NoError(t, err, "no file is read yet")
		require.Equal(t, keyFile, se.KeyFile)
		require.Equal(t, certFile, se.CertFile)
		writeKeyAndCert(t, dir)
		caDir := filepath.Join(dir, "ca")
		require.NoError(t, os.Mkdir(caDir, 0o755))
		require.NoError(t, os.Rename(certFile, filepath.Join(caDir, "root.pem")))
		certPEM, err := os.ReadFile(filepath.Join(caDir, "root.pem"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(certFile, certPEM, 0o644))

		var got *outcome[[]byte]
		r.CallWhenRunning(func() {
			ld := se.ListenConns()
			lo := record(ld)
			d := deferred.ThenDeferred(ld, func(l *deferredtcp.Listener) *deferred.Deferred[[]byte] {
				require.NotEmpty(t, se.TLS.Certificates, "ListenConns loaded the key pair")
				l.Serve(func(c *deferredtcp.Conn) {
					deferred.Then(deferredtcp.StartTLS(c, se.TLS, true), func(tc *deferredtcp.Conn) (struct{}, error) {
						echo(tc)
						return struct{}{}, nil
					})
				})
				ce, err := deferredtcp.ClientFromString(r, fmt.Sprintf("tls:127.0.0.1:%d:caCertsDir=%s", l.Addr().(*net.TCPAddr).Port, escape(caDir)))
				if err != nil {
					return deferred.Fail[[]byte](err)
				}
				return deferred.ThenDeferred(ce.DialConn(), func(c *deferredtcp.Conn) *deferred.Deferred[[]byte] {
					c.Write([]byte("over TLS"))
					return deferred.ThenDeferred(c.ReadFull(8), func(p []byte) *deferred.Deferred[[]byte] {
						return deferred.Then(c.Close(), func(struct{}) ([]byte, error) { return p, nil })
					})
				})
			})
			got = record(d)
			after(d, func() {
				if lo.err == nil {
					after(lo.value.Close(), stop(r))
				} else {
					r.Stop()
				}
			})
		})
		run(t, r)
		require.NoError(t, got.err)
		require.Equal(t, "over TLS", string(got.value))
	})
}

// timedOutcome records how and how soon a Deferred ended.
type timedOutcome struct {
	name string
	err  error
	took time.Duration
	done bool
}

// timed records in o how d ends, and how long after the call to timed,
// then calls done.
func timed[T any](o *timedOutcome, d *deferred.Deferred[T], done func()) {
	start := time.Now()
	d.AddBoth(func(v T, f *failure.Failure) (T, error) {
		o.took, o.done = time.Since(start), true
		if f != nil {
			o.err = f
		}
		done()
		return v, nil
	})
}

// TestEndpointTLSFilesRejected names key, certificate and CA files that
// are not regular files of at most 1 MiB: /dev/zero (which ServerFromString
// used to read forever), a FIFO (on which it blocked), a directory, a
// 2 MiB file, a missing file. Listening or connecting fails with an
// EndpointError naming the field within 100 ms.
func TestEndpointTLSFilesRejected(t *testing.T) {
	dir := t.TempDir()
	keyFile, _ := writeKeyAndCert(t, dir)
	fifo := filepath.Join(dir, "fifo.pem")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	big := filepath.Join(dir, "big.pem")
	require.NoError(t, os.WriteFile(big, make([]byte, 2<<20), 0o600))
	caDir := func(name string, fill func(path string) error) string {
		d := filepath.Join(dir, name)
		require.NoError(t, os.Mkdir(d, 0o755))
		if fill != nil {
			require.NoError(t, fill(filepath.Join(d, "root.pem")))
		}
		return d
	}
	caFIFO := caDir("ca-fifo", func(p string) error { return syscall.Mkfifo(p, 0o600) })
	caZero := caDir("ca-zero", func(p string) error { return os.Symlink("/dev/zero", p) })
	caEmpty := caDir("ca-empty", nil)

	servers := []struct{ key, cert, field string }{
		{"/dev/zero", "", "privateKey"},
		{fifo, "", "privateKey"},
		{dir, "", "privateKey"},
		{big, "", "privateKey"},
		{filepath.Join(dir, "missing.pem"), "", "privateKey"},
		{keyFile, "/dev/zero", "certKey"},
		{keyFile, fifo, "certKey"},
		{keyFile, keyFile, "certKey"}, // no certificate in it
	}
	clients := []string{caFIFO, caZero, caEmpty, filepath.Join(dir, "missing")}
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var outcomes []*timedOutcome
		var fields []string
		left := len(servers) + len(clients)
		done := func() {
			if left--; left == 0 {
				r.Stop()
			}
		}
		r.CallWhenRunning(func() {
			for _, s := range servers {
				desc := "ssl:0:interface=127.0.0.1:privateKey=" + escape(s.key)
				if s.cert != "" {
					desc += ":certKey=" + escape(s.cert)
				}
				e, err := deferredtcp.ServerFromString(r, desc)
				require.NoError(t, err)
				o := &timedOutcome{name: desc}
				outcomes, fields = append(outcomes, o), append(fields, s.field)
				timed(o, e.ListenConns(), done)
			}
			for _, ca := range clients {
				desc := "tls:127.0.0.1:1:caCertsDir=" + escape(ca)
				e, err := deferredtcp.ClientFromString(r, desc)
				require.NoError(t, err)
				o := &timedOutcome{name: desc}
				outcomes, fields = append(outcomes, o), append(fields, "caCertsDir")
				timed(o, e.DialConn(), done)
			}
		})
		run(t, r)
		for i, o := range outcomes {
			require.True(t, o.done, o.name)
			requireEndpointError(t, o.err, fields[i])
			require.Less(t, o.took, 100*time.Millisecond, o.name)
			t.Logf("%s: %v", o.name, o.err)
		}
	})
}
