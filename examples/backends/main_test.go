package main

import (
	"bufio"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/examples/internal/extest"
)

func TestMain(m *testing.M) { extest.Main(m, main) }

func TestEchoOnEachBackend(t *testing.T) {
	for _, backend := range []string{"epoll", "portable"} {
		t.Run(backend, func(t *testing.T) {
			p := extest.Start(t, "-backend", backend, "-addr", "127.0.0.1:0")
			assert.Equal(t, "Using the "+backend+" reactor backend", p.Line(t))
			addr := strings.TrimPrefix(p.Expect(t, "listening on "), "Echo server listening on ")

			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer conn.Close()
			r := bufio.NewReader(conn)
			for _, msg := range []string{"ping\n", strings.Repeat("y", 200_000) + "\n"} {
				_, err := conn.Write([]byte(msg))
				require.NoError(t, err)
				got, err := r.ReadString('\n')
				require.NoError(t, err)
				assert.Equal(t, msg, got)
			}
			p.Signal(t, syscall.SIGINT)
			_, err = p.Wait(t)
			require.NoError(t, err)
		})
	}
}

func TestUnknownBackend(t *testing.T) {
	p := extest.Start(t, "-backend", "kqueue")
	_, err := p.Wait(t)
	require.Error(t, err)
}
