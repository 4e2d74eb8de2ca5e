// Package extest runs an example program's real main function in a child
// process of its own test binary, so that tests see exactly what `go run`
// would print, and can send it signals.
//
// In the example's test:
//
//	func TestMain(m *testing.M) { extest.Main(m, main) }
//
//	func TestEcho(t *testing.T) {
//		p := extest.Start(t, "-addr", "127.0.0.1:0")
//		line := p.Expect(t, "listening on ")
//		...
//	}
package extest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

const childEnv = "TWIST_EXAMPLE_CHILD"

// Timeout bounds every wait of a test on its child.
const Timeout = 20 * time.Second

// Main runs main instead of the tests when the binary was started by
// [Start], and the tests (checked for leaked goroutines) otherwise.
func Main(m *testing.M, main func()) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// Proc is a running example program.
type Proc struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	err   error
}

// Start runs the example's main with args in a child process; it is killed
// when the test ends if it is still running. Its standard input is empty.
func Start(t testing.TB, args ...string) *Proc {
	t.Helper()
	return StartWithInput(t, nil, args...)
}

// StartWithInput is [Start] with stdin as the program's standard input.
func StartWithInput(t testing.TB, stdin io.Reader, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stdin = stdin
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Proc{cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Line returns the next line the program printed, failing the test if
// there is none within [Timeout].
func (p *Proc) Line(t testing.TB) string {
	t.Helper()
	select {
	case line, ok := <-p.lines:
		if !ok {
			t.Fatalf("the program exited (%v) before printing the next line", p.wait())
		}
		return line
	case <-time.After(Timeout):
		t.Fatalf("no output within %v", Timeout)
	}
	return ""
}

// Expect reads lines until one contains substr and returns it; the lines
// skipped are logged.
func (p *Proc) Expect(t testing.TB, substr string) string {
	t.Helper()
	for {
		line := p.Line(t)
		if strings.Contains(line, substr) {
			return line
		}
		t.Logf("skipped output: %s", line)
	}
}

// Signal sends sig to the program.
func (p *Proc) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// Wait waits for the program to exit and returns the rest of its output and
// its exit error (nil for status 0).
func (p *Proc) Wait(t testing.TB) (rest []string, err error) {
	t.Helper()
	timeout := time.After(Timeout)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				return rest, p.wait()
			}
			rest = append(rest, line)
		case <-timeout:
			t.Fatalf("the program did not exit within %v", Timeout)
		}
	}
}

func (p *Proc) wait() error {
	<-p.done
	return p.err
}
