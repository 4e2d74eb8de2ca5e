//go:build interop

// Interop tests: real Twisted programs (testdata/twisted/*.py, run with a
// Python that has Twisted, such as Debian's python3-twisted) talk to twist
// over loopback. Run them with
//
//	go test -tags interop -run Interop ./deferredtcp/
//
// TWIST_PYTHON names the interpreter; by default the first of
// /usr/bin/python3 and python3 that imports twisted.

package deferredtcp_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// python returns an interpreter that can import twisted.
func python(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3", "python3"}
	if p := os.Getenv("TWIST_PYTHON"); p != "" {
		candidates = []string{p}
	}
	for _, c := range candidates {
		if exec.Command(c, "-c", "import twisted").Run() == nil {
			return c
		}
	}
	t.Fatalf("no Python with Twisted among %v: install it (apt-get install -y python3-twisted) or set TWIST_PYTHON", candidates)
	return ""
}

// twistedProgram is a running Python script; its output is gathered.
type twistedProgram struct {
	cmd   *exec.Cmd
	lines chan string
	mu    sync.Mutex
	out   []string
	done  chan struct{}
}

// startTwisted runs testdata/twisted/script with args, killing it (after
// 20 s at most) when the test ends.
func startTwisted(t *testing.T, script string, args ...string) *twistedProgram {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	cmd := exec.CommandContext(ctx, python(t), append([]string{filepath.Join("testdata", "twisted", script)}, args...)...)
	cmd.Stderr = &testWriter{t: t, prefix: script + ": "}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &twistedProgram{cmd: cmd, lines: make(chan string, 100), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			t.Logf("%s: %s", script, sc.Text())
			p.mu.Lock()
			p.out = append(p.out, sc.Text())
			p.mu.Unlock()
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
		cmd.Wait()
	})
	return p
}

// port waits for the program's "PORT n" line.
func (p *twistedProgram) port(t *testing.T) string {
	t.Helper()
	for line := range p.lines {
		if n, ok := strings.CutPrefix(line, "PORT "); ok {
			return n
		}
	}
	t.Fatal("the Twisted program printed no port")
	return ""
}

// wait waits for the program to exit and returns its exit code and output.
func (p *twistedProgram) wait(t *testing.T) (int, string) {
	t.Helper()
	<-p.done
	err := p.cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return code, strings.Join(p.out, "\n")
}

type testWriter struct {
	t      *testing.T
	prefix string
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s%s", w.prefix, bytes.TrimRight(p, "\n"))
	return len(p), nil
}

var _ io.Writer = (*testWriter)(nil)

func TestInteropTwistedLineClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := record(deferredtcp.ListenTCP(r, "127.0.0.1:0", deferredtcp.FactoryFunc(func(net.Addr) deferredtcp.Protocol {
			return &upperUntilLost{r: r}
		})))
		require.NoError(t, l.err)
		prog := startTwisted(t, "line_client.py", portOf(l.value.Addr()), "hello", "twisted", "from go")
		run(t, r)
		code, out := prog.wait(t)
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "GOT FROM GO")
	})
}

// upperUntilLost answers lines upper-cased and stops the reactor when its
// connection is lost.
type upperUntilLost struct {
	upper
	r *reactor.Reactor
}

func (u *upperUntilLost) ConnectionLost(*failure.Failure) { u.r.Stop() }

// int32Client sends strings and checks Twisted's answers.
type int32Client struct {
	deferredtcp.Int32StringReceiver
	send [][]byte
	got  [][]byte
}

func (c *int32Client) ConnectionMade(deferredtcp.Transport) {
	for _, s := range c.send {
		if err := c.SendString(s); err != nil {
			panic(err)
		}
	}
}

func (c *int32Client) StringReceived(s []byte) {
	c.got = append(c.got, bytes.Clone(s))
	if len(c.got) == len(c.send) {
		c.Transport.LoseConnection()
	}
}

func TestInteropTwistedInt32Server(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		prog := startTwisted(t, "int32_server.py")
		port := prog.port(t)
		r := newReactor()
		client := &int32Client{send: [][]byte{[]byte("a"), bytes.Repeat([]byte("0123456789"), 9000), {}}}
		cf := &clientEvents{build: func() deferredtcp.Protocol { return client }}
		cf.onEnd = func(*deferredtcp.Connector) { r.Stop() }
		r.CallWhenRunning(func() { deferredtcp.ConnectTCP(r, "127.0.0.1:"+port, cf) })
		run(t, r)
		require.Len(t, client.got, len(client.send))
		for i, s := range client.send {
			assert.Equal(t, append([]byte("twisted:"), s...), client.got[i])
		}
		require.Len(t, cf.lostR, 1)
		assert.ErrorIs(t, cf.lostR[0], deferredtcp.ErrConnectionDone)
		code, out := prog.wait(t)
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "GOT 90000")
	})
}

func TestInteropTwistedNetstringServer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		prog := startTwisted(t, "netstring_server.py")
		port := prog.port(t)
		r := newReactor()
		var got []string
		var end error
		r.CallWhenRunning(func() {
			deferred.ThenDeferred(deferredtcp.Connect(r, "tcp", "127.0.0.1:"+port), func(c *deferredtcp.Conn) *deferred.Deferred[struct{}] {
				return deferred.Inline(func(co *deferred.Co) (struct{}, error) {
					for _, s := range []string{"hello", "", "twisted, netstrings"} {
						deferredtcp.WriteNetstring(c, []byte(s))
						p, err := deferred.Await(co, deferredtcp.ReadNetstring(c, 0))
						if err != nil {
							return struct{}{}, err
						}
						got = append(got, string(p))
					}
					// A leading zero: Twisted drops the connection.
					c.Write([]byte("01:x,"))
					_, end = deferred.Await(co, c.Read())
					c.Close()
					return struct{}{}, nil
				})
			}).AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
				assert.Nil(t, f)
				r.Stop()
				return struct{}{}, nil
			})
		})
		run(t, r)
		assert.Equal(t, []string{"olleh", "", "sgnirtsten ,detsiwt"}, got)
		assert.ErrorIs(t, end, io.EOF)
		code, out := prog.wait(t)
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "BROKEN")
	})
}

// reverser answers each netstring reversed, and stops the reactor when its
// connection is lost.
type reverser struct {
	deferredtcp.NetstringReceiver
	r *reactor.Reactor
}

func (v *reverser) StringReceived(s []byte) {
	out := make([]byte, len(s))
	for i, b := range s {
		out[len(s)-1-i] = b
	}
	v.SendString(out)
}

func (v *reverser) ConnectionLost(*failure.Failure) { v.r.Stop() }

func TestInteropTwistedNetstringClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := record(deferredtcp.ListenTCP(r, "127.0.0.1:0", deferredtcp.FactoryFunc(func(net.Addr) deferredtcp.Protocol {
			return &reverser{r: r}
		})))
		require.NoError(t, l.err)
		prog := startTwisted(t, "netstring_client.py", portOf(l.value.Addr()), "abc", "", "netstrings: 3:abc,")
		run(t, r)
		code, out := prog.wait(t)
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "GOT 3")
	})
}

// restartable is the server of the reconnection test: on "hello N" it
// answers "bye" when N is the last connection expected, and otherwise
// stops its reactor, dropping the connection (a server going down).
type restartable struct {
	deferredtcp.LineReceiver
	r    *reactor.Reactor
	last int
	seen *[]string
}

func (s *restartable) LineReceived(line []byte) {
	*s.seen = append(*s.seen, string(line))
	n, _ := strconv.Atoi(strings.TrimPrefix(string(line), "hello "))
	if n == s.last {
		s.SendLine([]byte("bye"))
		return
	}
	s.r.Stop()
}

func (s *restartable) ConnectionLost(*failure.Failure) { s.r.Stop() }

func TestInteropTwistedReconnectingClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		const restarts = 2
		var seen []string
		var addr string
		var prog *twistedProgram
		for i := 1; i <= restarts+1; i++ {
			r := newReactor()
			address := "127.0.0.1:0"
			if addr != "" {
				address = addr // the same port again: the server is back
			}
			l := record(deferredtcp.ListenTCP(r, address, deferredtcp.FactoryFunc(func(net.Addr) deferredtcp.Protocol {
				return &restartable{r: r, last: restarts + 1, seen: &seen}
			})))
			require.NoError(t, l.err, "restart %d", i)
			if prog == nil {
				addr = l.value.Addr().String()
				prog = startTwisted(t, "reconnect_client.py", portOf(l.value.Addr()), fmt.Sprint(restarts+1))
			}
			run(t, r)
		}
		code, out := prog.wait(t)
		assert.Equal(t, 0, code, out)
		assert.Equal(t, []string{"hello 1", "hello 2", "hello 3"}, seen)
		assert.Contains(t, out, "CONNECTED 3")
	})
}
