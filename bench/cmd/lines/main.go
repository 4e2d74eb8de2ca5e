// Command lines measures the client of the concepts guide's backpressure
// idiom, written twice as a user would write it: it writes N lines, each
// once the previous Write fired, and reads the echoes, each line asked for
// in the previous one's callback — once as chains of callbacks, once as two
// Inline bodies that Await each Write and ReadUntil. Both run against
// compare's twist-ondata echo server, each rep in a fresh client process,
// the two styles alternating; the table gives the medians of wall time,
// client CPU time and client peak RSS, and the chains' ratio to Inline.
//
//	go run ./cmd/lines                      # 200 000 lines, 5 reps of each
//	go run ./cmd/lines -lines 1000000 -reps 3
//
// The server runs on CPU 1 and the clients on CPU 0 when taskset is there.
// The exit status is 1 when a client failed.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"

	"github.com/twistgo/twist/bench/internal/benchenv"
	"github.com/twistgo/twist/bench/internal/server"
)

func main() {
	lines := flag.Int("lines", 200_000, "lines each client writes and reads back")
	reps := flag.Int("reps", 5, "client runs of each style")
	client := flag.String("client", "", "run one client (chain or inline) against -addr and print its figures (used by the harness)")
	addr := flag.String("addr", "", "the echo server, for -client")
	flag.Parse()
	if *client != "" {
		if err := runClient(*client, *addr, *lines); err != nil {
			fmt.Fprintln(os.Stderr, "lines:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := harness(ctx, *lines, *reps)
	stop()
	os.Exit(code)
}

// The clients.

// appendLine appends line i, without its newline.
func appendLine(b []byte, i int) []byte {
	return strconv.AppendInt(append(b, "line "...), int64(i), 10)
}

var newline = []byte("\n")

// chainClient is the clients as chains: the writer's callback writes the
// next line, the reader's callback asks for the next line. It fires once
// every line came back as sent.
func chainClient(c *deferredtcp.Conn, lines int) *deferred.Deferred[struct{}] {
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
	read = func(p []byte) ([]byte, error) {
		if want = appendLine(want[:0], got); !bytes.Equal(p, want) {
			fail(fmt.Errorf("line %d: got %q", got, p))
			return nil, nil
		}
		if got++; got == lines {
			done.Callback(struct{}{})
			return nil, nil
		}
		c.ReadUntil(newline, 0).AddCallbacks(read, func(f *failure.Failure) ([]byte, error) {
			fail(f)
			return nil, nil
		})
		return nil, nil
	}
	c.ReadUntil(newline, 0).AddCallbacks(read, func(f *failure.Failure) ([]byte, error) {
		fail(f)
		return nil, nil
	})
	return done
}

// inlineClient is the same client as two Inline bodies.
func inlineClient(c *deferredtcp.Conn, lines int) *deferred.Deferred[struct{}] {
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

// runClient connects to addr, runs the client of the style asked for, and
// prints its wall time, CPU time and peak RSS.
func runClient(style, addr string, lines int) error {
	clients := map[string]func(*deferredtcp.Conn, int) *deferred.Deferred[struct{}]{
		"chain": chainClient, "inline": inlineClient,
	}
	client, ok := clients[style]
	if !ok {
		return fmt.Errorf("unknown client %q", style)
	}
	r := reactor.New()
	var result error
	start := time.Now()
	deferred.ThenDeferred(deferredtcp.Connect(r, "tcp", addr), func(c *deferredtcp.Conn) *deferred.Deferred[struct{}] {
		return deferred.ThenDeferred(client(c, lines), func(struct{}) *deferred.Deferred[struct{}] { return c.Close() })
	}).AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
		if f != nil {
			result = f
		}
		r.Stop()
		return struct{}{}, nil
	})
	if err := r.Run(); err != nil {
		return err
	}
	wall := time.Since(start)
	if result != nil {
		return result
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Println(wall.Nanoseconds(), cpu.Nanoseconds(), ru.Maxrss) // Maxrss in KiB
	return nil
}

// The harness.

type figures struct {
	wall, cpu time.Duration
	rssKiB    int64
}

func harness(ctx context.Context, lines, reps int) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "lines:", err)
		return 1
	}
	root, err := benchenv.FindRoot()
	if err != nil {
		return fail(err)
	}
	self, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	tmp, err := os.MkdirTemp("", "twist-lines-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	var spec server.Spec
	for _, s := range server.All {
		if s.Name == "twist-ondata" {
			spec = s
		}
	}
	b, skip, err := server.Build(ctx, spec, root, tmp, "")
	if err == nil && skip != "" {
		err = fmt.Errorf("twist-ondata: %s", skip)
	}
	if err != nil {
		return fail(err)
	}
	p, err := server.Start(ctx, spec.Name, b.Argv, server.Options{CPU: 1})
	if err != nil {
		return fail(err)
	}
	defer p.Stop(5 * time.Second)
	pin := server.CanPin()
	fmt.Printf("%d lines per client, %d reps of each style, against %s (pid %d on %s); pinned: %v\n",
		lines, reps, spec.Name, p.PID, p.Addr, pin)

	styles := []string{"chain", "inline"}
	got := map[string][]figures{}
	for rep := range reps {
		order := slices.Clone(styles)
		if rep%2 == 1 {
			slices.Reverse(order)
		}
		for _, style := range order {
			f, err := client(ctx, self, style, p.Addr, lines, pin)
			if err != nil {
				return fail(fmt.Errorf("%s client, rep %d: %w", style, rep+1, err))
			}
			fmt.Printf("  rep %d %-6s wall %7.3fs  cpu %7.3fs  peak RSS %6.1f MiB\n",
				rep+1, style, f.wall.Seconds(), f.cpu.Seconds(), float64(f.rssKiB)/1024)
			got[style] = append(got[style], f)
		}
	}

	med := map[string]figures{}
	for _, style := range styles {
		med[style] = median(got[style])
	}
	c, in := med["chain"], med["inline"]
	fmt.Printf("\n| client | wall | CPU | peak RSS |\n| --- | ---: | ---: | ---: |\n")
	for _, style := range styles {
		m := med[style]
		fmt.Printf("| %s | %.3f s | %.3f s | %.1f MiB |\n", style, m.wall.Seconds(), m.cpu.Seconds(), float64(m.rssKiB)/1024)
	}
	fmt.Printf("| chain ÷ inline | %.2fx | %.2fx | %.2fx |\n",
		c.wall.Seconds()/in.wall.Seconds(), c.cpu.Seconds()/in.cpu.Seconds(), float64(c.rssKiB)/float64(in.rssKiB))
	fmt.Println("\nmedians of", reps, "reps; bars: chains' peak RSS ≤ 1.5x, time ≤ 1.25x")
	return 0
}

func client(ctx context.Context, self, style, addr string, lines int, pin bool) (figures, error) {
	argv := []string{self, "-client", style, "-addr", addr, "-lines", strconv.Itoa(lines)}
	if pin {
		argv = append([]string{"taskset", "-c", "0"}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return figures{}, err
	}
	var wall, cpu, rss int64
	if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &wall, &cpu, &rss); err != nil {
		return figures{}, fmt.Errorf("client printed %q: %w", out, err)
	}
	return figures{time.Duration(wall), time.Duration(cpu), rss}, nil
}

// median takes the median of each figure separately.
func median(fs []figures) figures {
	pick := func(v []int64) int64 {
		slices.Sort(v)
		return v[len(v)/2]
	}
	var wall, cpu, rss []int64
	for _, f := range fs {
		wall, cpu, rss = append(wall, int64(f.wall)), append(cpu, int64(f.cpu)), append(rss, f.rssKiB)
	}
	return figures{time.Duration(pick(wall)), time.Duration(pick(cpu)), pick(rss)}
}
