package deferredtcp_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/deferredtcp/deferredtcptest"
)

// cut splits in into chunks whose sizes come from cuts (0 counts as 1).
func cut(in, cuts []byte) [][]byte {
	var out [][]byte
	for i := 0; len(in) > 0; i++ {
		n := 1
		if len(cuts) > 0 {
			n = max(int(cuts[i%len(cuts)]), 1)
		}
		n = min(n, len(in))
		out = append(out, in[:n])
		in = in[n:]
	}
	return out
}

// feed makes a connection for p and feeds it chunks; it returns the
// transport.
func feed(p deferredtcp.Protocol, chunks [][]byte) *deferredtcptest.StringTransport {
	tr := deferredtcptest.NewStringTransport()
	deferredtcp.MakeConnection(p, tr)
	for _, c := range chunks {
		p.DataReceived(c)
	}
	return tr
}

func FuzzLineReceiver(f *testing.F) {
	f.Add([]byte("hello\r\nworld\r\n"), []byte{1, 3})
	f.Add([]byte("BEGIN\r\n12\r\n4after\r\n"), []byte{2})
	f.Add([]byte("0123456789012345678\r\n"), []byte{5})
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		mk := func() *lines { l := &lines{rawAfter: "BEGIN", lineBack: 5}; l.MaxLength = 16; return l }
		whole, chunked := mk(), mk()
		wt := feed(whole, [][]byte{in})
		ct := feed(chunked, cut(in, cuts))
		require.Equal(t, joinRaw(whole.got), joinRaw(chunked.got))
		require.Equal(t, wt.Closed, ct.Closed)
		require.Equal(t, wt.Reason, ct.Reason)
	})
}

func FuzzIntNStringReceiver(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x05hello\x00\x00\x00\x00"), []byte{3})
	f.Add([]byte("\x00\x00\x01\x00"), []byte{1})
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		whole, chunked := &int32Strings{}, &int32Strings{}
		whole.MaxLength, chunked.MaxLength = 100, 100
		wt := feed(whole, [][]byte{in})
		ct := feed(chunked, cut(in, cuts))
		require.Equal(t, whole.got, chunked.got)
		require.Equal(t, wt.Closed, ct.Closed)
		if ct.Closed {
			require.ErrorIs(t, ct.Reason, deferredtcp.ErrLengthLimitExceeded)
		}
	})
}

func FuzzNetstringReceiver(f *testing.F) {
	f.Add([]byte("5:hello,0:,"), []byte{1})
	f.Add([]byte("01:a,"), []byte{2})
	f.Add([]byte("3:abc;"), []byte{4})
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		whole, chunked := &netstrings{}, &netstrings{}
		wt := feed(whole, [][]byte{in})
		ct := feed(chunked, cut(in, cuts))
		require.Equal(t, whole.got, chunked.got)
		require.Equal(t, whole.BrokenPeer, chunked.BrokenPeer)
		if chunked.BrokenPeer {
			require.ErrorIs(t, ct.Reason, deferredtcp.ErrNetstringParse)
			require.Equal(t, wt.Reason.Error(), ct.Reason.Error())
		}
	})
}

// FuzzEndpointStrings checks that parsing never panics, and that every
// error is an *EndpointError naming a field.
func FuzzEndpointStrings(f *testing.F) {
	for _, s := range []string{
		"tcp:8007:interface=127.0.0.1:backlog=50",
		`tcp6:8007:interface=\:\:1`,
		"unix:/var/run/finger:mode=660:lockfile=1",
		"tcp:host=example.org:port=80:timeout=10",
		"tcp:example.org:80:bindAddress=192.0.2.1",
		"unix:path=/a\\=b:timeout=9",
		"ssl:443:privateKey=k.pem",
		"tls:example.org:443",
		"tcp:80\\", "::=:", "=", "tcp:=:=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, desc string) {
		check := func(err error) {
			if err == nil {
				return
			}
			var ee *deferredtcp.EndpointError
			require.True(t, errors.As(err, &ee), "%v", err)
			require.NotEmpty(t, ee.Field)
			require.ErrorIs(t, err, deferredtcp.ErrBadEndpoint)
		}
		se, err := deferredtcp.ServerFromString(nil, desc)
		check(err)
		if err == nil {
			require.NotEmpty(t, se.Address)
		}
		ce, err := deferredtcp.ClientFromString(nil, desc)
		check(err)
		if err == nil {
			require.NotEmpty(t, ce.Address)
		}
	})
}
