// Command soak holds many concurrent echo connections against one server of
// the comparison for a while and checks that nothing goes wrong: every
// connection keeps echoing in lockstep, every byte is verified, and the
// server's RSS is sampled every few seconds to show it stays flat. It is the
// long load run of the reliability suite; CI runs a small version in its
// tests instead.
//
//	go run ./cmd/soak                                  # twist-ondata, 5000 conns, 60 s
//	go run ./cmd/soak -server twist-chain -conns 5000 -duration 60s -every 5s
//
// It exits 0 when there was no error and the RSS at the end is within
// -rss-growth of the first sample after warm-up; 1 otherwise.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twistgo/twist/bench/internal/benchenv"
	"github.com/twistgo/twist/bench/internal/loadgen"
	"github.com/twistgo/twist/bench/internal/report"
	"github.com/twistgo/twist/bench/internal/server"
	"golang.org/x/sys/unix"
)

func main() {
	name := flag.String("server", "twist-ondata", "server to soak (one of compare's)")
	conns := flag.Int("conns", 5000, "concurrent connections")
	size := flag.Int("size", 64, "bytes per message")
	duration := flag.Duration("duration", 60*time.Second, "how long to hold the load")
	warmup := flag.Duration("warmup", 5*time.Second, "load before the first RSS sample that later ones are compared with")
	every := flag.Duration("every", 5*time.Second, "RSS sampling interval")
	growth := flag.Float64("rss-growth", 0.2, "largest accepted RSS growth from the first sample to the last (0.2 = 20%)")
	python := flag.String("python", "", "python3 with Twisted, for -server twisted")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, *name, *conns, *size, *duration, *warmup, *every, *growth, *python)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, name string, conns, size int, duration, warmup, every time.Duration, growth float64, python string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 1
	}
	root, err := benchenv.FindRoot()
	if err != nil {
		return fail(err)
	}
	var spec server.Spec
	for _, s := range server.Known() {
		if s.Name == name {
			spec = s
		}
	}
	if spec.Name == "" {
		return fail(fmt.Errorf("unknown server %q", name))
	}
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err == nil {
		l.Cur = l.Max
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &l) // the server inherits it
	}
	tmp, err := os.MkdirTemp("", "twist-soak-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	py, _ := benchenv.FindPython(ctx, python)
	b, skip, err := server.Build(ctx, spec, root, tmp, py)
	if err != nil {
		return fail(err)
	}
	if skip != "" {
		return fail(fmt.Errorf("%s: %s", name, skip))
	}
	p, err := server.Start(ctx, name, b.Argv, server.Options{CPU: -1})
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err := p.Stop(5 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
		} else {
			fmt.Printf("stopped %s (pid %d), clean exit\n", name, p.PID)
		}
	}()
	fmt.Printf("soaking %s (pid %d on %s): %d connections × %d B lockstep for %v\n", name, p.PID, p.Addr, conns, size, duration)
	t0 := time.Now()
	pool, err := loadgen.Dial(ctx, p.Addr, conns)
	if err != nil {
		return fail(err)
	}
	defer pool.Close()
	fmt.Printf("opened %d connections in %v\n", conns, time.Since(t0).Round(time.Millisecond))

	var samples []int64
	start := time.Now()
	last, lastAt := uint64(0), start
	res, runErr := pool.Run(ctx, loadgen.Load{
		Size: size, Depth: 1, Duration: duration, ProgressEvery: every,
		OnProgress: func(msgs uint64) {
			st, err := p.Stat()
			if err != nil {
				fmt.Fprintln(os.Stderr, "soak: sampling the server:", err)
				return
			}
			now := time.Now()
			rate := float64(msgs-last) / now.Sub(lastAt).Seconds()
			last, lastAt = msgs, now
			mark := ""
			if now.Sub(start) >= warmup {
				samples = append(samples, st.RSS)
				mark = " (sampled)"
			}
			fmt.Printf("%6.0fs  %12s msgs  %10s msgs/s  RSS %.1f MiB  CPU %.1fs%s\n", now.Sub(start).Seconds(),
				report.Thousands(float64(msgs)), report.Thousands(rate), float64(st.RSS)/(1<<20), st.CPU.Seconds(), mark)
		},
	})
	if runErr != nil {
		fmt.Printf("ERROR after %v: %v\n", time.Since(start).Round(time.Millisecond), runErr)
		return 1
	}
	fmt.Printf("%s messages echoed and verified in %v on %d connections (%s msgs/s), 0 errors; p50 %s, p99 %s\n",
		report.Thousands(float64(res.Messages)), res.Window.Round(time.Millisecond), conns, report.Thousands(res.Rate()),
		report.Latency(res.Latency.Quantile(0.5)), report.Latency(res.Latency.Quantile(0.99)))
	if len(samples) < 2 {
		fmt.Println("too few RSS samples after warm-up to judge growth")
		return 0
	}
	first, final := samples[0], samples[len(samples)-1]
	g := float64(final-first) / float64(first)
	fmt.Printf("RSS %.1f MiB after warm-up, %.1f MiB at the end: %+.1f%% (limit %+.0f%%)\n",
		float64(first)/(1<<20), float64(final)/(1<<20), 100*g, 100*growth)
	if g > growth {
		fmt.Println("RSS is not flat")
		return 1
	}
	return 0
}
