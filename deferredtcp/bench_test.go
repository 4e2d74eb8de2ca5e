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
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// The echo benchmarks run the server in this process and the clients in a
// child process (this test binary, running TestEchoClient), so that the CPU
// time measured with getrusage is the server's alone. Each reports msgs/s and
// server CPU ns/msg; allocs/op are the server's allocations per message.

type echoLoad struct {
	name  string
	conns int
	depth int // messages in flight per connection
	size  int // bytes per message
}

// echoLoads are the four scenarios of bench/cmd/compare.
var echoLoads = []echoLoad{
	{"50x64B-lockstep", 50, 1, 64},
	{"50x64B-pipelined16", 50, 16, 64},
	{"1000x64B-lockstep", 1000, 1, 64},
	{"20x16KiB-lockstep", 20, 1, 16 << 10},
}

type echoServer struct {
	name  string
	start func(tb testing.TB) (addr string, stop func())
}

var echoServers = []echoServer{
	{"net", startNetEcho},
	{"epoll-chain", func(tb testing.TB) (string, func()) { return startReactorEcho(tb, reactor.Epoll, echo) }},
	{"epoll-chain-recycle", func(tb testing.TB) (string, func()) { return startReactorEcho(tb, reactor.Epoll, recyclingEcho) }},
	{"epoll-ondata", func(tb testing.TB) (string, func()) { return startReactorEcho(tb, reactor.Epoll, onDataEcho) }},
	{"portable-chain-recycle", func(tb testing.TB) (string, func()) { return startReactorEcho(tb, reactor.Portable, recyclingEcho) }},
	{"portable-ondata", func(tb testing.TB) (string, func()) { return startReactorEcho(tb, reactor.Portable, onDataEcho) }},
	{"epoll-group2-ondata", func(tb testing.TB) (string, func()) { return startGroupEcho(tb, 2, onDataEcho) }},
}

// recyclingEcho is echo, recycling each chunk once written (Write copies
// what the socket does not take at once).
func recyclingEcho(c *deferredtcp.Conn) {
	write := func(p []byte) *deferred.Deferred[int] {
		d := c.Write(p)
		deferredtcp.Recycle(p)
		return d
	}
	var next func(int, *failure.Failure) (int, error)
	next = func(_ int, f *failure.Failure) (int, error) {
		if f != nil {
			c.Close()
			return 0, nil
		}
		deferred.ThenDeferred(c.Read(), write).AddBoth(next)
		return 0, nil
	}
	next(0, nil)
}

func onDataEcho(c *deferredtcp.Conn) {
	c.OnData(func(p []byte) { c.Send(p) })
	c.OnEOF(func() { c.Close() })
}

func BenchmarkEcho(b *testing.B) {
	for _, load := range echoLoads {
		for _, srv := range echoServers {
			b.Run(load.name+"/"+srv.name, func(b *testing.B) {
				addr, stop := srv.start(b)
				defer stop()
				runEchoClients(b, addr, load)
			})
		}
	}
}

func runEchoClients(b *testing.B, addr string, load echoLoad) {
	msgs := max(b.N, load.conns*load.depth)
	cmd := exec.Command(os.Args[0], "-test.run=^TestEchoClient$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"ECHO_CLIENT_ADDR="+addr,
		"ECHO_CLIENT_CONNS="+strconv.Itoa(load.conns),
		"ECHO_CLIENT_DEPTH="+strconv.Itoa(load.depth),
		"ECHO_CLIENT_SIZE="+strconv.Itoa(load.size),
		"ECHO_CLIENT_MSGS="+strconv.Itoa(msgs))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); err != nil || line != "connected\n" {
		cmd.Process.Kill()
		cmd.Wait()
		b.Fatalf("client: %q, %v", line, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	io.WriteString(stdin, "go\n")
	line, err := out.ReadString('\n')
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	stdin.Close()
	cmd.Wait()
	if err != nil || line != "done\n" {
		b.Fatalf("client: %q, %v", line, err)
	}
	b.ReportMetric(float64(msgs)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(msgs), "cpu-ns/msg")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startNetEcho(tb testing.TB) (string, func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	return l.Addr().String(), func() {
		l.Close()
		wg.Wait()
	}
}

func startReactorEcho(tb testing.TB, b reactor.Backend, serve func(*deferredtcp.Conn)) (string, func()) {
	r := reactor.New(reactor.WithBackend(b))
	l, err := deferredtcp.Listen(r, "tcp", "127.0.0.1:0", deferredtcp.WithBacklog(1024)).Wait(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	l.Serve(serve)
	done := make(chan struct{})
	go func() {
		r.Run()
		close(done)
	}()
	return l.Addr().String(), func() {
		r.Stop()
		<-done
	}
}

func startGroupEcho(tb testing.TB, n int, serve func(*deferredtcp.Conn)) (string, func()) {
	g := reactor.NewGroup(n, reactor.WithBackend(reactor.Epoll))
	gl, err := deferredtcp.ListenGroup(g, "tcp", "127.0.0.1:0", serve, deferredtcp.WithBacklog(1024))
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		g.Run()
		close(done)
	}()
	return gl.Addr().String(), func() {
		g.Stop()
		<-done
	}
}

// TestEchoClient is the benchmarks' client process; it does nothing unless
// run by runEchoClients.
func TestEchoClient(t *testing.T) {
	addr := os.Getenv("ECHO_CLIENT_ADDR")
	if addr == "" {
		t.Skip("run by BenchmarkEcho")
	}
	conns, _ := strconv.Atoi(os.Getenv("ECHO_CLIENT_CONNS"))
	depth, _ := strconv.Atoi(os.Getenv("ECHO_CLIENT_DEPTH"))
	msgs, _ := strconv.Atoi(os.Getenv("ECHO_CLIENT_MSGS"))
	size, _ := strconv.Atoi(os.Getenv("ECHO_CLIENT_SIZE"))
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Println("dial:", err)
			os.Exit(1)
		}
		cs[i] = c
	}
	fmt.Println("connected")
	in := bufio.NewReader(os.Stdin)
	in.ReadString('\n')
	var wg sync.WaitGroup
	for i, c := range cs {
		rounds := msgs / conns / depth
		if i < msgs/depth%conns {
			rounds++
		}
		wg.Go(func() {
			out := make([]byte, size*depth)
			back := make([]byte, size*depth)
			for range rounds {
				if _, err := c.Write(out); err != nil {
					panic(err)
				}
				if _, err := io.ReadFull(c, back); err != nil {
					panic(err)
				}
			}
			c.Close()
		})
	}
	wg.Wait()
	fmt.Println("done")
	os.Exit(0)
}

// BenchmarkLineLoops runs the client of the backpressure idiom against an
// OnData echo server on the same loop: it writes b.N lines, each once the
// previous Write fired, and reads the echoes, each line asked for in the
// previous one's callback (chain); the same as two Inline bodies (inline);
// and, for reference, with Send and OnData, no Deferred per line (ondata).
// One op is a line out and back; allocations are the client's and the
// server's.
func BenchmarkLineLoops(b *testing.B) {
	for _, style := range []struct {
		name   string
		client func(c *deferredtcp.Conn, lines int) *deferred.Deferred[struct{}]
	}{{"chain", chainLines}, {"inline", inlineLines}, {"ondata", onDataLines}} {
		b.Run(style.name, func(b *testing.B) {
			r := reactor.New(reactor.WithBackend(reactor.Epoll))
			l := listen(b, r)
			l.Serve(onDataEcho)
			b.ReportAllocs()
			b.ResetTimer()
			deferred.ThenDeferred(deferredtcp.Connect(r, "tcp", l.Addr().String()), func(c *deferredtcp.Conn) *deferred.Deferred[struct{}] {
				return style.client(c, b.N)
			}).AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
				if f != nil {
					b.Error(f)
				}
				r.Stop()
				return struct{}{}, nil
			})
			run(b, r)
		})
	}
}

var newline = []byte("\n")

func appendLine(b []byte, i int) []byte {
	return strconv.AppendInt(append(b, "line "...), int64(i), 10)
}

func chainLines(c *deferredtcp.Conn, lines int) *deferred.Deferred[struct{}] {
	done := deferred.New[struct{}]()
	fail := func(err error) {
		if !done.Called() {
			done.Errback(err)
		}
	}
	out := make([]byte, 0, 32)
	sent := 0
	var write func(int) (int, error)
	write = func(int) (int, error) {
		if sent == lines {
			return 0, nil
		}
		out = append(appendLine(out[:0], sent), '\n')
		sent++
		c.Write(out).AddCallbacks(write, func(f *failure.Failure) (int, error) {
			fail(f)
			return 0, nil
		})
		return 0, nil
	}
	write(0)
	want := make([]byte, 0, 32)
	got := 0
	var read func([]byte) ([]byte, error)
	onErr := func(f *failure.Failure) ([]byte, error) {
		fail(f)
		return nil, nil
	}
	read = func(p []byte) ([]byte, error) {
		if want = appendLine(want[:0], got); !bytes.Equal(p, want) {
			fail(fmt.Errorf("line %d: got %q", got, p))
			return nil, nil
		}
		if got++; got == lines {
			done.Callback(struct{}{})
			return nil, nil
		}
		c.ReadUntil(newline, 0).AddCallbacks(read, onErr)
		return nil, nil
	}
	c.ReadUntil(newline, 0).AddCallbacks(read, onErr)
	return done
}

func inlineLines(c *deferredtcp.Conn, lines int) *deferred.Deferred[struct{}] {
	writer := deferred.Inline(func(co *deferred.Co) (struct{}, error) {
		out := make([]byte, 0, 32)
		for i := range lines {
			out = append(appendLine(out[:0], i), '\n')
			if _, err := deferred.Await(co, c.Write(out)); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	reader := deferred.Inline(func(co *deferred.Co) (struct{}, error) {
		want := make([]byte, 0, 32)
		for i := range lines {
			p, err := deferred.Await(co, c.ReadUntil(newline, 0))
			if err != nil {
				return struct{}{}, err
			}
			if want = appendLine(want[:0], i); !bytes.Equal(p, want) {
				return struct{}{}, fmt.Errorf("line %d: got %q", i, p)
			}
		}
		return struct{}{}, nil
	})
	return deferred.Then(deferred.All(writer, reader), func([]struct{}) (struct{}, error) { return struct{}{}, nil })
}

// onDataLines writes with Send while the buffer is under the watermark,
// waiting for a drain (an empty Write) above it, and splits the echoes
// itself in OnData.
func onDataLines(c *deferredtcp.Conn, lines int) *deferred.Deferred[struct{}] {
	done := deferred.New[struct{}]()
	out := make([]byte, 0, 32)
	sent := 0
	var send func(int) (int, error)
	send = func(int) (int, error) {
		for sent < lines {
			out = append(appendLine(out[:0], sent), '\n')
			sent++
			if err := c.Send(out); err != nil {
				return 0, err
			}
			if c.Buffered() > deferredtcp.DefaultHighWatermark {
				c.Write(nil).AddCallback(send)
				return 0, nil
			}
		}
		return 0, nil
	}
	send(0)
	var pending, want []byte
	got := 0
	c.OnData(func(p []byte) {
		pending = append(pending, p...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			if want = appendLine(want[:0], got); !bytes.Equal(pending[:i], want) && !done.Called() {
				done.Errback(fmt.Errorf("line %d: got %q", got, pending[:i]))
			}
			pending = pending[i+1:]
			if got++; got == lines && !done.Called() {
				done.Callback(struct{}{})
			}
		}
		pending = append(pending[:0:0], pending...)
	})
	return done
}
