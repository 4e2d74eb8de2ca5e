//go:build linux

package deferredtcp_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/reactor"
)

// emfileChildEnv names the backend an EMFILE child process serves with.
const emfileChildEnv = "TWIST_EMFILE_CHILD"

// emfileSlots is how many connections the child has descriptors for, at
// least.
const emfileSlots = 3

const pausedLog = "pausing accepts"

// TestAcceptEMFILEChildProcess runs an echo server in a child process
// whose RLIMIT_NOFILE leaves it descriptors for three connections, and
// connects clients one by one until the server runs out. Then, while
// clients wait in the backlog through a quarter of a second of retries,
// the server logs the shortage once; when the served clients leave, it
// accepts and echoes the waiting ones. A second shortage is logged once
// more: once per burst.
func TestAcceptEMFILEChildProcess(t *testing.T) {
	deferredtest.NoUnhandled(t)
	if b := os.Getenv(emfileChildEnv); b != "" {
		emfileChild(t, b)
		return
	}
	for _, b := range []reactor.Backend{reactor.Epoll, reactor.Portable} {
		t.Run(b.String(), func(t *testing.T) {
			checkFDs(t)
			child := startEMFILEChild(t, b)
			// Burst 1: fill the child's descriptors, and then some.
			served, waiting := child.fill(t)
			// (Holes in the child's descriptor table may give it a slot
			// more than asked for.)
			require.GreaterOrEqual(t, len(served), emfileSlots)
			waiting = append(waiting, child.dial(t)) // one more in the backlog
			// Let the child retry a few times (pauses of 10, 20, 40, 80 ms).
			time.Sleep(250 * time.Millisecond)
			require.Equal(t, 1, child.paused(), "one log line for the whole burst")
			for _, c := range served {
				c.Close()
			}
			for _, c := range waiting {
				child.echo(t, c) // accepted once descriptors were free
			}
			require.Equal(t, 1, child.paused())
			// Burst 2: out of descriptors again, and logged again.
			served2, waiting2 := child.fill(t)
			require.Len(t, served2, len(served)-len(waiting))
			require.Equal(t, 2, child.paused(), "a new burst, a new line")
			for _, c := range append(append(waiting, served2...), waiting2...) {
				c.Close()
			}
			child.stop(t)
			t.Logf("child served %d connections over two bursts, logging each once", child.accepted)
		})
	}
}

// emfileProcess is the parent's view of the child.
type emfileProcess struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	lines    chan string
	addr     string
	pauses   int
	accepted int
	next     int // the next client's number
}

func startEMFILEChild(t *testing.T, b reactor.Backend) *emfileProcess {
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptEMFILEChildProcess$", "-test.count=1")
	// Under the race detector a process sleeps a second before it exits (for
	// late race reports: the child's run is over by then, and a race it
	// found already makes it exit with an error).
	cmd.Env = append(os.Environ(), emfileChildEnv+"="+b.String(),
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.Stderr = t.Output()
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &emfileProcess{cmd: cmd, stdin: stdin, lines: make(chan string, 100)}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	p.addr = strings.TrimPrefix(p.expect(t, "listening "), "listening ")
	return p
}

// expect returns the child's next line that contains s, counting the
// lines it passes.
func (p *emfileProcess) expect(t *testing.T, s string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("the child exited before printing %q", s)
			}
			p.count(line)
			if strings.Contains(line, s) {
				return line
			}
		case <-timeout:
			t.Fatalf("the child did not print %q in 10s", s)
		}
	}
}

func (p *emfileProcess) count(line string) {
	switch {
	case strings.Contains(line, pausedLog):
		p.pauses++
	case strings.HasPrefix(line, "accepted "):
		p.accepted++
	}
}

// paused returns how many shortages the child has logged so far.
func (p *emfileProcess) paused() int {
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				return p.pauses
			}
			p.count(line)
		default:
			return p.pauses
		}
	}
}

// dial connects a client, which says its number.
func (p *emfileProcess) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "client %03d\n", p.next)
	p.next++
	return c
}

// fill connects clients until one is not accepted because the child is out
// of descriptors: it returns the ones served and the one left waiting.
func (p *emfileProcess) fill(t *testing.T) (served, waiting []net.Conn) {
	t.Helper()
	for {
		before := p.pauses
		c := p.dial(t)
		// The child prints either that it accepted the client, or that it
		// pauses: wait for one of them.
		me := fmt.Sprintf("accepted %d", c.LocalAddr().(*net.TCPAddr).Port)
		line := p.expectAny(t, me, pausedLog)
		if strings.Contains(line, pausedLog) && p.pauses > before {
			return served, []net.Conn{c}
		}
		p.echo(t, c)
		served = append(served, c)
	}
}

func (p *emfileProcess) expectAny(t *testing.T, ss ...string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("the child exited before printing any of %q", ss)
			}
			p.count(line)
			for _, s := range ss {
				if strings.Contains(line, s) {
					return line
				}
			}
		case <-timeout:
			t.Fatalf("the child printed none of %q in 10s", ss)
		}
	}
}

// echo checks that the child echoes c's first line back.
func (p *emfileProcess) echo(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "client "), "echoed %q", line)
}

// stop closes the child's stdin, which makes it stop its reactor and exit.
func (p *emfileProcess) stop(t *testing.T) {
	t.Helper()
	p.stdin.Close()
	for line := range p.lines {
		p.count(line)
	}
	require.NoError(t, p.cmd.Wait())
}

// emfileChild is the child process: an echo server whose descriptor limit
// leaves room for emfileSlots connections. It prints "listening ADDR",
// "accepted PORT" for each connection, and its log, all on stdout, and
// stops when its stdin closes.
func emfileChild(t *testing.T, backend string) {
	b := reactor.Epoll
	if backend == reactor.Portable.String() {
		b = reactor.Portable
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stdout, nil)))
	r := reactor.New(reactor.WithBackend(b))
	l := listen(t, r)
	l.Serve(func(c *deferredtcp.Conn) {
		fmt.Printf("accepted %d\n", c.RemoteAddr().(*net.TCPAddr).Port)
		echo(c)
	})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		r.Stop()
	}()
	r.CallWhenRunning(func() {
		var lim unix.Rlimit
		require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &lim))
		lim.Cur = uint64(countFDs(t) - 1 + emfileSlots) // (ReadDir counted its own descriptor)
		require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &lim))
		fmt.Printf("listening %s\n", l.Addr())
	})
	require.NoError(t, r.Run())
}
