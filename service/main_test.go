package service_test

import (
	"net"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// childEnv names the test a re-executed test binary runs as a child
// process (see childMain).
const childEnv = "TWIST_SERVICE_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain(os.Getenv(childEnv)))
	}
	// Warm Go's own network poller up, so that its descriptors are not
	// counted as leaks by the first test that uses net.
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		l.Close()
	}
	goleak.VerifyTestMain(m)
}
