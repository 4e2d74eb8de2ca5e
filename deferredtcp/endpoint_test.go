package deferredtcp_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/reactor"
)

func TestServerFromStringGood(t *testing.T) {
	deferredtest.NoUnhandled(t)
	tests := []struct {
		desc    string
		network string
		address string
		backlog int
		mode    os.FileMode
	}{
		{"tcp:8007", "tcp4", ":8007", 50, 0},
		{"tcp:8007:interface=127.0.0.1:backlog=10", "tcp4", "127.0.0.1:8007", 10, 0},
		{"tcp:port=80:interface=127.0.0.1", "tcp4", "127.0.0.1:80", 50, 0},
		{"TCP:80:127.0.0.1:7", "tcp4", "127.0.0.1:80", 7, 0},
		{`tcp6:8007:interface=\:\:1`, "tcp6", "[::1]:8007", 50, 0},
		{"unix:/var/run/finger", "unix", "/var/run/finger", 50, 0o666},
		{"unix:/var/run/finger:mode=660:backlog=5:lockfile=1", "unix", "/var/run/finger", 5, 0o660},
		{`unix:address=/tmp/a\:b=c`, "unix", "/tmp/a:b=c", 50, 0o666},
		{"tcp:0:backlog=1:backlog=2", "tcp4", ":0", 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			e, err := deferredtcp.ServerFromString(nil, tt.desc)
			require.NoError(t, err)
			assert.Equal(t, tt.network, e.Network)
			assert.Equal(t, tt.address, e.Address)
			assert.Equal(t, tt.backlog, e.Backlog)
			assert.Equal(t, tt.mode, e.Mode)
			assert.Nil(t, e.TLS)
		})
	}
}

func TestServerFromStringBad(t *testing.T) {
	deferredtest.NoUnhandled(t)
	tests := []struct{ desc, field string }{
		{"", "type"},
		{":80", "type"},
		{"udp:80", "type"},
		{"tcp", "port"},
		{"tcp:http", "port"},
		{"tcp:65536", "port"},
		{"tcp:-1", "port"},
		{"tcp:80:interface=localhost", "interface"},
		{"tcp:80:backlog=many", "backlog"},
		{"tcp:80:backlog=-3", "backlog"},
		{"tcp:80:colour=red", "colour"},
		{"tcp:80:port=81", "port"},
		{"tcp:80:127.0.0.1:50:extra", "argument 5"},
		{`tcp:80\`, "description"},
		{"unix:", "address"},
		{"unix:/x:mode=999", "mode"},
		{"unix:/x:lockfile=yes", "lockfile"},
		{"unix:/tmp/x=y", "/tmp/x"}, // '=' must be escaped, as in Twisted
		{"ssl:443", "privateKey"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := deferredtcp.ServerFromString(nil, tt.desc)
			require.Error(t, err)
			assert.ErrorIs(t, err, deferredtcp.ErrBadEndpoint)
			var ee *deferredtcp.EndpointError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, tt.field, ee.Field, "error: %v", err)
			assert.Equal(t, tt.desc, ee.Description)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestClientFromStringGood(t *testing.T) {
	deferredtest.NoUnhandled(t)
	tests := []struct {
		desc    string
		network string
		address string
		timeout time.Duration
		bind    string
	}{
		{"tcp:host=example.org:port=80:timeout=10", "tcp", "example.org:80", 10 * time.Second, ""},
		{"tcp:example.org:80", "tcp", "example.org:80", 30 * time.Second, ""},
		{"tcp:host=example.org:80", "tcp", "example.org:80", 30 * time.Second, ""},
		{"tcp:example.org:port=80", "tcp", "example.org:80", 30 * time.Second, ""},
		{"tcp:example.org:80:bindAddress=192.0.2.100:timeout=2.5", "tcp", "example.org:80", 2500 * time.Millisecond, "192.0.2.100:0"},
		{`tcp:\:\:1:80`, "tcp", "[::1]:80", 30 * time.Second, ""},
		{"unix:path=/var/foo/bar:lockfile=1:timeout=9", "unix", "/var/foo/bar", 9 * time.Second, ""},
		{"unix:/var/foo/bar", "unix", "/var/foo/bar", 30 * time.Second, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			e, err := deferredtcp.ClientFromString(nil, tt.desc)
			require.NoError(t, err)
			assert.Equal(t, tt.network, e.Network)
			assert.Equal(t, tt.address, e.Address)
			assert.Equal(t, tt.timeout, e.Timeout)
			if tt.bind != "" {
				require.NotNil(t, e.BindAddress)
				assert.Equal(t, tt.bind, e.BindAddress.String())
			} else {
				assert.Nil(t, e.BindAddress)
			}
		})
	}
	e, err := deferredtcp.ClientFromString(nil, "tls:example.org:443")
	require.NoError(t, err)
	require.NotNil(t, e.TLS)
	assert.Equal(t, "example.org", e.TLS.ServerName)
}

func TestClientFromStringBad(t *testing.T) {
	deferredtest.NoUnhandled(t)
	tests := []struct{ desc, field string }{
		{"tcp", "host"},
		{"tcp:example.org", "port"},
		{"tcp:example.org:http", "port"},
		{"tcp:host=example.org:port=80:timeout=soon", "timeout"},
		{"tcp:host=example.org:port=80:timeout=-1", "timeout"},
		{"tcp:example.org:80:bindAddress=me", "bindAddress"},
		{"tcp:example.org:80:proxy=x", "proxy"},
		{"tcp:a:80:b", "argument 4"},
		{"unix:", "path"},
		{"unix:/x:lockfile=maybe", "lockfile"},
		{"unix:/x:mode=600", "mode"},
		{"gopher:example.org:70", "type"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := deferredtcp.ClientFromString(nil, tt.desc)
			require.Error(t, err)
			var ee *deferredtcp.EndpointError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, tt.field, ee.Field, "error: %v", err)
			assert.True(t, errors.Is(err, deferredtcp.ErrBadEndpoint))
		})
	}
}

func TestEndpointsListenAndConnect(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		dir := t.TempDir()
		path := filepath.Join(dir, "echo.sock")
		se, err := deferredtcp.ServerFromString(r, "unix:"+path+":mode=600")
		require.NoError(t, err)
		server := &countingFactory{}
		l := record(se.Listen(server))
		require.True(t, l.done)
		require.NoError(t, l.err)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

		ce, err := deferredtcp.ClientFromString(r, "unix:path="+path+":timeout=5")
		require.NoError(t, err)
		msg := []byte("over a unix socket")
		client := &sayClient{msg: msg, want: len(msg)}
		var connected *outcome[deferredtcp.Protocol]
		var none *outcome[deferredtcp.Protocol]
		lost := 0
		server.onLostProtocol = func() {
			if lost++; lost == 2 {
				l.value.Close()
				r.Stop()
			}
		}
		r.CallWhenRunning(func() {
			connected = record(ce.Connect(deferredtcp.FactoryFunc(func(net.Addr) deferredtcp.Protocol { return client })))
			none = record(ce.Connect(deferredtcp.FactoryFunc(func(net.Addr) deferredtcp.Protocol { return nil })))
		})
		run(t, r)
		require.NoError(t, connected.err)
		assert.Same(t, client, connected.value)
		assert.Equal(t, msg, client.got)
		assert.ErrorIs(t, none.err, deferredtcp.ErrNoProtocol)
	})
}
