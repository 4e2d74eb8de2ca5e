package main

import (
	"context"
	"net"
	"testing"

	"github.com/panjf2000/gnet/v2"
	"github.com/twistgo/twist/bench/internal/echotest"
	"go.uber.org/goleak"
)

// gnet's package-level goroutine pool (pkg/pool/goroutine.DefaultWorkerPool,
// an ants pool made when the package is initialised) keeps its two
// housekeeping goroutines for the life of the process, whatever the engines
// do; anything else left running after a test is a leak.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"))
}

func start(t *testing.T) *echotest.Server {
	return echotest.Start(t, func(ctx context.Context, ready func(string)) error {
		return serve(ctx, "127.0.0.1:0", func(a net.Addr) { ready(a.String()) }, gnet.WithMulticore(true), gnet.WithLockOSThread(true))
	})
}

func TestEchoes(t *testing.T) {
	s := start(t)
	echotest.Echoes(t, s.Addr)
	echotest.ClosesAfterEOF(t, s.Addr)
	s.Stop(t)
}

func TestStopClosesConnections(t *testing.T) {
	s := start(t)
	closed := echotest.ClosedByStop(t, s.Addr)
	s.Stop(t)
	closed()
}

func TestListenError(t *testing.T) {
	s := start(t)
	err := serve(context.Background(), s.Addr, func(net.Addr) { t.Error("ready called for an address in use") })
	if err == nil {
		t.Error("serve on an address in use returned nil")
	}
	s.Stop(t)
}
