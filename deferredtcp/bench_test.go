package deferredtcp_test

import (
	"bufio"
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

	"github.com/twistgo/twist/deferredtcp"
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
}

var echoLoads = []echoLoad{
	{"50x64B-lockstep", 50, 1},
	{"50x64B-pipelined16", 50, 16},
	{"1000x64B-lockstep", 1000, 1},
}

type echoServer struct {
	name  string
	start func(tb testing.TB) (addr string, stop func())
}

var echoServers = []echoServer{
	{"net", startNetEcho},
	{"epoll-chain", func(tb testing.TB) (string, func()) { return startReactorEcho(tb, reactor.Epoll, echo) }},
	{"epoll-ondata", func(tb testing.TB) (string, func()) { return startReactorEcho(tb, reactor.Epoll, onDataEcho) }},
	{"portable-ondata", func(tb testing.TB) (string, func()) { return startReactorEcho(tb, reactor.Portable, onDataEcho) }},
	{"epoll-group2-ondata", func(tb testing.TB) (string, func()) { return startGroupEcho(tb, 2, onDataEcho) }},
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
				buf := make([]byte, 4096)
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
			out := make([]byte, 64*depth)
			back := make([]byte, 64*depth)
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
