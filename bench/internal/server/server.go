package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// startTimeout bounds how long a server may take to print its address.
const startTimeout = 20 * time.Second

// A Process is a running server.
type Process struct {
	Name string
	PID  int
	Addr string // what the server printed: host:port it listens on

	cmd     *exec.Cmd
	exited  chan struct{} // closed once Wait returned
	waitErr error
	output  *tail
	drained chan struct{} // closed once stdout reached EOF
}

// Options say how [Start] runs a server.
type Options struct {
	// CPU pins the server to that CPU with `taskset -c CPU` when >= 0 and
	// taskset is on PATH (see [CanPin]).
	CPU int
	// Env is added to the harness's environment.
	Env []string
}

// CanPin reports whether taskset is available and the harness may use CPUs
// 0 and 1.
func CanPin() bool {
	if _, err := exec.LookPath("taskset"); err != nil {
		return false
	}
	cpus, err := allowedCPUs()
	return err == nil && cpus[0] && cpus[1]
}

// Start runs argv as a server named name, waits for the address on its
// first stdout line, and returns it running. ctx only bounds the start; the
// process runs until [Process.Stop].
func Start(ctx context.Context, name string, argv []string, opts Options) (*Process, error) {
	if opts.CPU >= 0 && CanPin() {
		argv = append([]string{"taskset", "-c", strconv.Itoa(opts.CPU)}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), opts.Env...)
	// Its own process group keeps a terminal's Ctrl-C away from it (the
	// harness stops it, by PID); Pdeathsig ends it if the harness dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out := &tail{max: 8 << 10}
	cmd.Stderr = out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("server %s: %w", name, err)
	}
	p := &Process{Name: name, PID: cmd.Process.Pid, cmd: cmd, exited: make(chan struct{}), output: out, drained: make(chan struct{})}
	first := make(chan string, 1)
	go func() {
		defer close(p.drained)
		br := bufio.NewReader(stdout)
		line, err := br.ReadString('\n')
		if err == nil {
			first <- strings.TrimSpace(line)
		}
		close(first)
		io.Copy(out, br)
	}()
	go func() {
		<-p.drained // Wait closes the pipe: read it all first
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case addr, ok := <-first:
		if ok {
			if _, _, err := net.SplitHostPort(addr); err == nil {
				p.Addr = addr
				return p, nil
			}
			err = fmt.Errorf("server %s: first line %q is not host:port", name, addr)
			return nil, errors.Join(err, p.Stop(time.Second))
		}
		<-p.exited
		return nil, fmt.Errorf("server %s exited before printing its address (%v): %s", name, p.waitErr, out)
	case <-timer.C:
		return nil, errors.Join(fmt.Errorf("server %s printed no address within %v", name, startTimeout), p.Stop(time.Second))
	case <-ctx.Done():
		return nil, errors.Join(ctx.Err(), p.Stop(time.Second))
	}
}

// Stat samples the server's CPU time and RSS.
func (p *Process) Stat() (Stat, error) { return ReadStat(p.PID) }

// Alive reports whether the process has not exited yet.
func (p *Process) Alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Output is the tail of what the server wrote after its address line.
func (p *Process) Output() string { return p.output.String() }

// Stop sends SIGTERM to the server's PID and waits up to grace for it to
// exit, then sends SIGKILL to its process group and waits for that. It
// returns nil when the server exited on its own after SIGTERM with status 0
// (or by that signal); otherwise an error saying how it ended. Stop is
// idempotent.
func (p *Process) Stop(grace time.Duration) error {
	if !p.Alive() {
		return p.exitErr("exited before it was stopped")
	}
	_ = syscall.Kill(p.PID, syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.exited:
		return p.exitErr("exited uncleanly on SIGTERM")
	case <-timer.C:
	}
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	_ = syscall.Kill(p.PID, syscall.SIGKILL)
	<-p.exited
	return fmt.Errorf("server %s (pid %d) ignored SIGTERM for %v and was killed", p.Name, p.PID, grace)
}

func (p *Process) exitErr(what string) error {
	err := p.waitErr
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			err = nil
		}
	}
	if err == nil {
		return nil
	}
	return fmt.Errorf("server %s (pid %d) %s: %v: %s", p.Name, p.PID, what, err, p.output)
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
