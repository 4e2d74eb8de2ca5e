package main

import (
	"testing"

	"github.com/twistgo/twist/examples/internal/echotest"
	"github.com/twistgo/twist/examples/internal/extest"
)

func TestMain(m *testing.M) { extest.Main(m, main) }

func TestEchoServer(t *testing.T) {
	echotest.Server(t, "Connection lost (deferredtcp: connection was closed cleanly): 1 open")
}

func TestListenFailure(t *testing.T) { echotest.ListenFailure(t) }
