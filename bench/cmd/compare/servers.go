package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/twistgo/twist/bench/internal/benchenv"
)

// A serverSpec is one echo server of the comparison.
type serverSpec struct {
	name   string
	about  string
	script string // a Python script under the bench module; empty for a Go server in servers/NAME
}

// allServers is the default set, in display order.
var allServers = []serverSpec{
	{name: "twist-chain", about: "twist, epoll backend: Conn.Read → Conn.Write Deferred chain per message"},
	{name: "twist-ondata", about: "twist, epoll backend: Conn.OnData → Conn.Write"},
	{name: "twist-portable", about: "twist, portable backend (Go's net package): OnData → Write"},
	{name: "twist-adapter", about: "twist, epoll backend: Twisted-style Protocol/Factory adapter (ListenTCP)"},
	{name: "net", about: "standard library: goroutine per connection, 64 KiB buffer copy loop"},
	{name: "netpoll", about: "github.com/cloudwego/netpoll EventLoop, as in its guide"},
	{name: "twisted", about: "Twisted's epoll reactor (python3), Protocol echo", script: "twisted/echo_server.py"},
}

// A builtServer is ready to start: argv runs it.
type builtServer struct {
	serverSpec
	argv []string
}

// build readies spec: a Go server is compiled into dir; the Twisted one needs
// a python3 that imports twisted. skip is why it cannot run (not an error of
// the harness); err is a harness failure.
func build(ctx context.Context, spec serverSpec, root, dir, python string) (b builtServer, skip string, err error) {
	b.serverSpec = spec
	if spec.script != "" {
		if python == "" {
			return b, benchenv.MissingTwisted, nil
		}
		b.argv = []string{python, filepath.Join(root, spec.script)}
		return b, "", nil
	}
	pkg := filepath.Join(root, "servers", spec.name)
	if _, err := os.Stat(pkg); err != nil {
		return b, "not yet available: bench/servers/" + spec.name + " does not exist yet (waiting for the deferredtcp API)", nil
	}
	bin := filepath.Join(dir, spec.name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./servers/"+spec.name)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return b, "", ctx.Err()
	}
	if err != nil {
		return b, "not yet available: it does not build: " + firstLines(string(out), 3), nil
	}
	b.argv = []string{bin}
	return b, "", nil
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, " / ")
}
