package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/twistgo/twist/bench/internal/echotest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T) *echotest.Server {
	return startCopying(t, false)
}

func startCopying(t *testing.T, copyData bool) *echotest.Server {
	return echotest.Start(t, func(ctx context.Context, ready func(string)) error {
		return serve(ctx, "127.0.0.1:0", copyData, ready)
	})
}

func TestEchoes(t *testing.T) {
	for _, copyData := range []bool{false, true} {
		t.Run(fmt.Sprintf("copy=%v", copyData), func(t *testing.T) {
			s := startCopying(t, copyData)
			echotest.Echoes(t, s.Addr)
			echotest.ClosesAfterEOF(t, s.Addr)
			s.Stop(t)
		})
	}
}

func TestStopClosesConnections(t *testing.T) {
	s := start(t)
	closed := echotest.ClosedByStop(t, s.Addr)
	s.Stop(t)
	closed()
}

func TestListenError(t *testing.T) {
	s := start(t)
	err := serve(context.Background(), s.Addr, false, func(string) { t.Error("ready called for an address in use") })
	if err == nil {
		t.Error("serve on an address in use returned nil")
	}
	s.Stop(t)
}
