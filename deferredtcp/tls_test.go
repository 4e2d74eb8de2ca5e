package deferredtcp_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

var (
	certOnce             sync.Once
	serverTLS, clientTLS *tls.Config
)

// tlsConfigs makes a self-signed certificate for 127.0.0.1 and the
// configs of a server using it and a client trusting it.
func tlsConfigs(t testing.TB) (server, client *tls.Config) {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "twist test"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(time.Hour),
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:              []string{"localhost"},
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		require.NoError(t, err)
		cert, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		pool := x509.NewCertPool()
		pool.AddCert(cert)
		serverTLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
		clientTLS = &tls.Config{RootCAs: pool, ServerName: "localhost"}
	})
	return serverTLS, clientTLS
}

func TestTLSEchoChain(t *testing.T) {
	srvCfg, cliCfg := tlsConfigs(t)
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r)
		l.Serve(func(c *deferredtcp.Conn) {
			deferredtcp.StartTLS(c, srvCfg, true).AddCallback(func(tc *deferredtcp.Conn) (*deferredtcp.Conn, error) {
				echo(tc)
				return tc, nil
			})
		})
		msg := bytes.Repeat([]byte("twisted over tls "), 20000) // 340 KB
		var got *outcome[[]byte]
		r.CallWhenRunning(func() {
			d := deferred.ThenDeferred(deferredtcp.Connect(r, "tcp", l.Addr().String()), func(c *deferredtcp.Conn) *deferred.Deferred[*deferredtcp.Conn] {
				return deferredtcp.StartTLS(c, cliCfg, false)
			})
			got = record(deferred.ThenDeferred(d, func(tc *deferredtcp.Conn) *deferred.Deferred[[]byte] {
				tc.Write(msg)
				tc.CloseWrite()
				return readAll(tc).AddBoth(func(p []byte, f *failure.Failure) ([]byte, error) {
					tc.Close()
					l.Close()
					r.Stop()
					if f != nil {
						return nil, f
					}
					return p, nil
				})
			}))
		})
		run(t, r)
		require.True(t, got.done)
		require.NoError(t, got.err)
		assert.True(t, bytes.Equal(msg, got.value), "got %d bytes, want %d", len(got.value), len(msg))
	})
}

func TestTLSProtocolEcho(t *testing.T) {
	srvCfg, cliCfg := tlsConfigs(t)
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		server := &countingFactory{}
		l := record(deferredtcp.ListenTLS(r, "127.0.0.1:0", srvCfg, server))
		require.NoError(t, l.err)
		msg := []byte("hello over tls")
		client := &sayClient{msg: msg, want: len(msg)}
		cf := &clientEvents{build: func() deferredtcp.Protocol { return client }}
		cf.onEnd = func(*deferredtcp.Connector) {
			l.value.Close()
			r.Stop()
		}
		r.CallWhenRunning(func() {
			cfg := cliCfg.Clone()
			cfg.ServerName = ""
			deferredtcp.ConnectTLS(r, "localhost:"+portOf(l.value.Addr()), cfg, cf)
		})
		run(t, r)
		assert.Equal(t, msg, client.got)
		require.Len(t, cf.lostR, 1)
		assert.Empty(t, cf.failed)
		require.Len(t, server.built, 1)
	})
}

func portOf(a net.Addr) string { return strconv.Itoa(a.(*net.TCPAddr).Port) }

func TestTLSHandshakeFailureIsConnectionFailed(t *testing.T) {
	srvCfg, _ := tlsConfigs(t)
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		server := &countingFactory{}
		l := record(deferredtcp.ListenTLS(r, "127.0.0.1:0", srvCfg, server))
		require.NoError(t, l.err)
		cf := &clientEvents{build: func() deferredtcp.Protocol { return &deferredtcp.BaseProtocol{} }}
		cf.onEnd = func(*deferredtcp.Connector) {
			l.value.Close()
			r.Stop()
		}
		r.CallWhenRunning(func() {
			// The system roots do not trust the self-signed certificate.
			deferredtcp.ConnectTLS(r, l.value.Addr().String(), &tls.Config{ServerName: "localhost"}, cf)
		})
		run(t, r)
		require.Len(t, cf.failed, 1)
		var verr *tls.CertificateVerificationError
		assert.ErrorAs(t, cf.failed[0], &verr)
		assert.Empty(t, server.built)
	})
}

// starttls speaks lines, switching to TLS on "STARTTLS" (as SMTP does).
type starttls struct {
	deferredtcp.LineReceiver
	cfg      *tls.Config
	client   bool
	got      []string
	lost     *failure.Failure
	onLost   func()
	again    error // a second StartTLS's error
	closedTo error // StartTLS's error after LoseConnection
}

func (s *starttls) ConnectionMade(deferredtcp.Transport) {
	if s.client {
		s.SendLine([]byte("STARTTLS"))
	}
}

func (s *starttls) LineReceived(line []byte) {
	s.got = append(s.got, string(line))
	tt := s.Transport.(deferredtcp.TLSTransport)
	switch string(line) {
	case "STARTTLS": // server
		s.SendLine([]byte("GO"))
		if err := tt.StartTLS(s.cfg); err != nil {
			panic(err)
		}
		s.again = tt.StartTLS(s.cfg)
	case "GO": // client
		if err := tt.StartTLS(s.cfg); err != nil {
			panic(err)
		}
		s.SendLine([]byte("secret"))
	case "secret": // server
		s.SendLine([]byte("SECRET"))
	case "SECRET": // client
		s.Transport.LoseConnection()
		s.closedTo = tt.StartTLS(s.cfg)
	}
}

func (s *starttls) ConnectionLost(reason *failure.Failure) {
	s.lost = reason
	if s.onLost != nil {
		s.onLost()
	}
}

func TestTransportStartTLS(t *testing.T) {
	srvCfg, cliCfg := tlsConfigs(t)
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		server := &starttls{cfg: srvCfg}
		l := record(deferredtcp.ListenTCP(r, "127.0.0.1:0", deferredtcp.FactoryFunc(func(net.Addr) deferredtcp.Protocol { return server })))
		require.NoError(t, l.err)
		client := &starttls{cfg: cliCfg, client: true}
		cf := &clientEvents{build: func() deferredtcp.Protocol { return client }}
		cf.onEnd = func(*deferredtcp.Connector) {
			l.value.Close()
			r.Stop()
		}
		r.CallWhenRunning(func() { deferredtcp.ConnectTCP(r, l.value.Addr().String(), cf) })
		run(t, r)
		assert.Equal(t, []string{"STARTTLS", "secret"}, server.got)
		assert.Equal(t, []string{"GO", "SECRET"}, client.got)
		assert.ErrorIs(t, client.lost, deferredtcp.ErrConnectionDone)
		assert.ErrorIs(t, server.again, deferredtcp.ErrTLSStarted)
		assert.ErrorIs(t, client.closedTo, deferredtcp.ErrClosed)
	})
}

// pipelined is a net.Conn for a crypto/tls client that speaks STARTTLS
// first: its first write sends "STARTTLS\r\n" and the ClientHello in one
// piece, and its reads skip the server's plaintext answer line.
type pipelined struct {
	net.Conn
	sent, answered bool
	line           []byte
}

func (p *pipelined) Write(b []byte) (int, error) {
	if p.sent {
		return p.Conn.Write(b)
	}
	p.sent = true
	if _, err := p.Conn.Write(append([]byte("STARTTLS\r\n"), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (p *pipelined) Read(b []byte) (int, error) {
	for !p.answered {
		var c [1]byte
		if _, err := p.Conn.Read(c[:]); err != nil {
			return 0, err
		}
		p.line = append(p.line, c[0])
		p.answered = bytes.HasSuffix(p.line, []byte("\r\n"))
	}
	return p.Conn.Read(b)
}

// TestTransportStartTLSPipelined sends STARTTLS and the ClientHello in one
// write, as a client that does not wait for the answer does: the bytes
// after the command, which the LineReceiver had buffered, go to TLS, and
// the handshake completes.
func TestTransportStartTLSPipelined(t *testing.T) {
	srvCfg, cliCfg := tlsConfigs(t)
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		server := &starttls{cfg: srvCfg}
		l := record(deferredtcp.ListenTCP(r, "127.0.0.1:0", deferredtcp.FactoryFunc(func(net.Addr) deferredtcp.Protocol { return server })))
		require.NoError(t, l.err)
		server.onLost = func() {
			l.value.Close()
			r.Stop()
		}
		type result struct {
			answer, got string
			err         error
		}
		done := make(chan result, 1)
		go func() {
			var res result
			defer func() { done <- res }()
			nc, err := net.Dial("tcp", l.value.Addr().String())
			if res.err = err; err != nil {
				return
			}
			defer nc.Close()
			p := &pipelined{Conn: nc}
			tc := tls.Client(p, cliCfg)
			if res.err = tc.Handshake(); res.err != nil {
				return
			}
			res.answer = string(p.line)
			if _, res.err = tc.Write([]byte("secret\r\n")); res.err != nil {
				return
			}
			buf := make([]byte, 8)
			n, err := io.ReadFull(tc, buf)
			res.got, res.err = string(buf[:n]), err
		}()
		run(t, r)
		res := <-done
		require.NoError(t, res.err)
		assert.Equal(t, "GO\r\n", res.answer)
		assert.Equal(t, "SECRET\r\n", res.got)
		assert.Equal(t, []string{"STARTTLS", "secret"}, server.got)
	})
}

// TestTransportStartTLSInjection sends plaintext after STARTTLS, in the
// same chunk as the command or after the server's answer: it never reaches
// LineReceived as if TLS protected it, and the connection is lost with
// ErrTLSPlaintext (the command injection of CVE-2011-0411).
func TestTransportStartTLSInjection(t *testing.T) {
	srvCfg, _ := tlsConfigs(t)
	for _, pipelined := range []bool{true, false} {
		name := "after the answer"
		if pipelined {
			name = "with the command"
		}
		t.Run(name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
				r := newReactor()
				server := &starttls{cfg: srvCfg}
				l := record(deferredtcp.ListenTCP(r, "127.0.0.1:0", deferredtcp.FactoryFunc(func(net.Addr) deferredtcp.Protocol { return server })))
				require.NoError(t, l.err)
				var got *outcome[[]byte]
				server.onLost = func() { l.value.Close() }
				r.CallWhenRunning(func() {
					d := deferredtcp.Connect(r, "tcp", l.value.Addr().String())
					got = record(deferred.ThenDeferred(d, func(c *deferredtcp.Conn) *deferred.Deferred[[]byte] {
						if pipelined {
							c.Write([]byte("STARTTLS\r\nINJECTED\r\n"))
							return readAll(c)
						}
						c.Write([]byte("STARTTLS\r\n"))
						return deferred.ThenDeferred(c.ReadUntil([]byte("\r\n"), 0), func(answer []byte) *deferred.Deferred[[]byte] {
							c.Write([]byte("INJECTED\r\n"))
							return deferred.Then(readAll(c), func(rest []byte) ([]byte, error) {
								return append(append(answer, '|'), rest...), nil
							})
						})
					}).AddBoth(func(p []byte, f *failure.Failure) ([]byte, error) {
						r.Stop()
						if f != nil {
							return nil, f
						}
						return p, nil
					}))
				})
				run(t, r)
				assert.Equal(t, []string{"STARTTLS"}, server.got, "nothing after the command reaches LineReceived")
				assert.ErrorIs(t, server.lost, deferredtcp.ErrTLSPlaintext)
				require.True(t, got.done)
				require.NoError(t, got.err)
				want := "GO\r\n"
				if !pipelined {
					want = "GO|"
				}
				assert.Equal(t, want, string(got.value), "the client gets the answer, then the end of the stream")
			})
		})
	}
}

// writeKeyPair writes the test server's certificate and key as PEM files,
// for ssl: endpoints, and returns the key's path (the certificate is in
// the same file).
func writeKeyPair(t *testing.T) string {
	srvCfg, _ := tlsConfigs(t)
	cert := srvCfg.Certificates[0]
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	require.NoError(t, pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))
	path := filepath.Join(t.TempDir(), "server.pem")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
	return path
}

// TestEndpointHandshakeTimeout parses handshakeTimeout= on ssl: and tls:
// descriptions, rejects what is not a positive number of seconds, and
// applies it: a silent client of a server endpoint is dropped at the
// deadline, and a client endpoint's handshake with a silent server fails
// with ErrHandshakeTimeout.
func TestEndpointHandshakeTimeout(t *testing.T) {
	key := writeKeyPair(t)
	e, err := deferredtcp.ServerFromString(nil, "ssl:0:interface=127.0.0.1:privateKey="+key)
	require.NoError(t, err)
	assert.Equal(t, deferredtcp.DefaultHandshakeTimeout, e.HandshakeTimeout)
	c, err := deferredtcp.ClientFromString(nil, "tls:localhost:443:handshakeTimeout=2.5")
	require.NoError(t, err)
	assert.Equal(t, 2500*time.Millisecond, c.HandshakeTimeout)
	for _, v := range []string{"0", "-1", "nan", "NaN", "inf", "1e-12", "1e10", "ten"} {
		_, err := deferredtcp.ClientFromString(nil, "tls:localhost:443:handshakeTimeout="+v)
		assert.ErrorIs(t, err, deferredtcp.ErrBadEndpoint, v)
		assert.ErrorContains(t, err, "handshakeTimeout", v)
		_, err = deferredtcp.ServerFromString(nil, "ssl:0:privateKey="+key+":handshakeTimeout="+v)
		assert.ErrorIs(t, err, deferredtcp.ErrBadEndpoint, v)
	}

	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		se, err := deferredtcp.ServerFromString(r, "ssl:0:interface=127.0.0.1:privateKey="+key+":handshakeTimeout=0.2")
		require.NoError(t, err)
		l := record(se.Listen(&countingFactory{}))
		require.NoError(t, l.err)
		silent := listen(t, r)
		silent.Serve(func(*deferredtcp.Conn) {})
		ce, err := deferredtcp.ClientFromString(r, "tls:127.0.0.1:"+portOf(silent.Addr())+":handshakeTimeout=0.2")
		require.NoError(t, err)

		var dropped *outcome[struct{}]
		var dialed *outcome[*deferredtcp.Conn]
		var start time.Time
		var tookDrop, tookDial time.Duration
		left := 2
		done := func() {
			if left--; left == 0 {
				l.value.Close()
				silent.Close()
				r.Stop()
			}
		}
		r.CallWhenRunning(func() {
			start = r.Now()
			deferredtcp.Connect(r, "tcp", l.value.Addr().String()).AddCallback(func(c *deferredtcp.Conn) (*deferredtcp.Conn, error) {
				c.OnData(func([]byte) {})
				dropped = record(c.Lost())
				c.Lost().AddBoth(func(struct{}, *failure.Failure) (struct{}, error) {
					tookDrop = r.Now().Sub(start)
					done()
					return struct{}{}, nil
				})
				return c, nil
			})
			dialed = record(ce.DialConn().AddBoth(func(c *deferredtcp.Conn, f *failure.Failure) (*deferredtcp.Conn, error) {
				tookDial = r.Now().Sub(start)
				done()
				if f != nil {
					return nil, f
				}
				return c, nil
			}))
		})
		run(t, r)
		require.NotNil(t, dropped)
		assert.True(t, dropped.done)
		assert.Error(t, dropped.err, "the server aborted the silent client")
		assert.Less(t, tookDrop, time.Second)
		require.True(t, dialed.done)
		assert.ErrorIs(t, dialed.err, deferredtcp.ErrHandshakeTimeout)
		assert.Less(t, tookDial, time.Second)
	})
}
