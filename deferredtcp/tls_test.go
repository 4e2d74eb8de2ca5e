package deferredtcp_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
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
	cfg    *tls.Config
	client bool
	got    []string
	lost   *failure.Failure
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
	case "GO": // client
		if err := tt.StartTLS(s.cfg); err != nil {
			panic(err)
		}
		s.SendLine([]byte("secret"))
	case "secret": // server
		s.SendLine([]byte("SECRET"))
	case "SECRET": // client
		s.Transport.LoseConnection()
	}
}

func (s *starttls) ConnectionLost(reason *failure.Failure) { s.lost = reason }

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
	})
}
