package server

import (
	"context"
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/twistgo/twist/bench/internal/benchenv"
)

// A Spec is one echo server of the comparison.
type Spec struct {
	Name   string
	About  string
	Script string   // a Python script under the bench module; empty for a Go server
	Pkg    string   // a Go server's package under servers/; empty means Name
	Args   []string // the Go server's arguments
	Module string   // the library a Go server is built on, whose version [Build] reports
}

// All lists the comparison's servers, in display order.
var All = []Spec{
	{Name: "twist-chain", About: "twist, epoll backend: Conn.Read → Conn.Write Deferred chain per message", Pkg: "twist", Args: []string{"-api", "chain"}},
	{Name: "twist-ondata", About: "twist, epoll backend: Conn.OnData → Conn.Send (Write without the Deferred)", Pkg: "twist", Args: []string{"-api", "ondata"}},
	{Name: "twist-portable", About: "twist, portable backend (Go's net package under the loop): OnData → Send", Pkg: "twist", Args: []string{"-api", "ondata", "-backend", "portable"}},
	{Name: "twist-adapter", About: "twist, epoll backend: Twisted-style Protocol/Factory adapter (ListenTCP)", Pkg: "twist", Args: []string{"-api", "adapter"}},
	{Name: "net", About: "standard library: goroutine per connection, 64 KiB buffer copy loop"},
	{Name: "netpoll", About: "cloudwego/netpoll EventLoop, as in its guide", Module: "github.com/cloudwego/netpoll"},
	{Name: "gnet", About: "gnet v2 as its echo example: OnTraffic → c.Next(-1) → c.Write; multicore and locked OS thread, as its benchmark server", Module: "github.com/panjf2000/gnet/v2"},
	{Name: "nbio", About: "nbio as its Quick Start echo: OnData → Conn.Write; nbio's defaults (level-triggered epoll, NumCPU/4 pollers)", Module: "github.com/lesismal/nbio"},
	{Name: "twisted", About: "Twisted's epoll reactor (python3), Protocol echo", Script: "twisted/echo_server.py"},
}

// Variants are servers of [All] run another way, measured only when named:
// they show what the options chosen for the comparison are worth.
var Variants = []Spec{
	{Name: "gnet-defaults", About: "gnet as its echo example with gnet's defaults: one event loop, no locked OS thread", Pkg: "gnet", Args: []string{"-multicore=false", "-lock-os-thread=false"}, Module: "github.com/panjf2000/gnet/v2"},
	{Name: "nbio-copy", About: "nbio writing back a copy of each chunk, as its Quick Start does", Pkg: "nbio", Args: []string{"-copy"}, Module: "github.com/lesismal/nbio"},
}

// Known is every server a command can be asked for by name: [All], then
// [Variants].
func Known() []Spec { return append(slices.Clone(All), Variants...) }

// Built is a server ready to [Start]: Argv runs it.
type Built struct {
	Spec
	Argv    []string
	Version string // the version of Spec.Module the binary holds, if any
}

// Build readies spec: a Go server is compiled into dir; the Twisted one needs
// a python3 that imports twisted. skip is why it cannot run (not an error of
// the harness); err is a harness failure.
func Build(ctx context.Context, spec Spec, root, dir, python string) (b Built, skip string, err error) {
	b.Spec = spec
	if spec.Script != "" {
		if python == "" {
			return b, benchenv.MissingTwisted, nil
		}
		b.Argv = []string{python, filepath.Join(root, spec.Script)}
		return b, "", nil
	}
	name := spec.Pkg
	if name == "" {
		name = spec.Name
	}
	if _, err := os.Stat(filepath.Join(root, "servers", name)); err != nil {
		return b, "not yet available: bench/servers/" + name + " does not exist", nil
	}
	bin := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./servers/"+name)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return b, "", ctx.Err()
	}
	if err != nil {
		return b, "not yet available: it does not build: " + FirstLines(string(out), 3), nil
	}
	b.Argv = append([]string{bin}, spec.Args...)
	if spec.Module != "" {
		info, err := buildinfo.ReadFile(bin)
		if err != nil {
			return b, "", err
		}
		for _, dep := range info.Deps {
			if dep.Path == spec.Module {
				b.Version = dep.Version
			}
		}
	}
	return b, "", nil
}

// FirstLines joins the first n lines of s with " / ", for one-line messages.
func FirstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, " / ")
}
