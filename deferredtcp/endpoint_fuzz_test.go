package deferredtcp_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/deferredtcp"
)

// FuzzEndpointStringLimits parses descriptions as a server and as a client
// and checks what the parsers promise beyond not panicking: an error is an
// *EndpointError about this description whose message stays under 1 KiB
// however long the description; a parsed endpoint has no NUL in its address, a
// Unix path that fits a socket address, a timeout that is not negative,
// and no key pair loaded (ServerFromString reads no file). The seeds in
// testdata/fuzz/FuzzEndpointStringLimits hold NULs, non-finite and
// sub-nanosecond timeouts, device and FIFO paths.
func FuzzEndpointStringLimits(f *testing.F) {
	for _, s := range []string{
		"unix:/tmp/a\x00b",
		"unix:@abstract:mode=0",
		"tcp:example.org:80:timeout=nan",
		"tcp:example.org:80:timeout=-Inf",
		"tcp:example.org:80:timeout=1e-12",
		"ssl:443:privateKey=/dev/zero",
		"tls:example.org:443:caCertsDir=/dev",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, desc string) {
		check := func(err error) {
			var ee *deferredtcp.EndpointError
			require.True(t, errors.As(err, &ee), "%v", err)
			require.Equal(t, desc, ee.Description)
			require.NotEmpty(t, ee.Field)
			require.ErrorIs(t, err, deferredtcp.ErrBadEndpoint)
			require.LessOrEqual(t, len(err.Error()), 1024, "%v", err)
		}
		address := func(network, a string) {
			require.NotContains(t, a, "\x00")
			if network == "unix" {
				require.NotEmpty(t, a)
				require.LessOrEqual(t, len(a), 107)
			}
		}
		if se, err := deferredtcp.ServerFromString(nil, desc); err != nil {
			check(err)
		} else {
			address(se.Network, se.Address)
			if se.TLS != nil {
				require.Empty(t, se.TLS.Certificates, "no file read")
				require.NotEmpty(t, se.KeyFile)
			}
		}
		if ce, err := deferredtcp.ClientFromString(nil, desc); err != nil {
			check(err)
		} else {
			address(ce.Network, ce.Address)
			require.GreaterOrEqual(t, ce.Timeout, time.Duration(0))
			if ce.TLS != nil {
				require.Nil(t, ce.TLS.RootCAs, "no file read")
			}
		}
	})
}
