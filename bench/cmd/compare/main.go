// Command compare measures twist's echo servers side by side with the
// standard library, the Go event-loop libraries cloudwego/netpoll, gnet v2 and
// nbio, and Twisted, on this machine, in one run, and writes the tables and
// chart to results/<date>.md and .svg.
//
// Each server is built (or, for Twisted, found), then for every scenario a
// fresh server process is started, pinned to CPU 1 with taskset, driven by
// this process's load generator (pinned to CPU 0, GOMAXPROCS=1), and stopped
// by its PID. A load scenario runs -reps times, interleaved: every server
// once, in a rotating order, then again; the tables show each figure's median.
// Run it from bench/:
//
//	go run ./cmd/compare
//	go run ./cmd/compare -servers net,twist-ondata -scenarios 50x64 -duration 2s -reps 1
//
// Besides <date>.md and <date>.svg it writes <date>.json, the whole run with
// every repetition, from which cmd/headline makes the READMEs' headlines.
//
// A server that cannot run (Twisted not installed, a twist server not yet
// buildable) is skipped with the reason printed and written in the report.
// The exit status is 0 when every measurement succeeded, 1 when some failed
// (the report is still written), 2 when the run could not start.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/twistgo/twist/bench/internal/benchenv"
	"github.com/twistgo/twist/bench/internal/report"
	"github.com/twistgo/twist/bench/internal/server"
)

type config struct {
	servers, scenarios []string
	reps               int
	warmup, duration   time.Duration
	out, root, python  string
	pin                bool
	maxConns           int
	idleConns          int
	date               time.Time
}

func main() {
	var cfg config
	var servers, scenarios, date string
	flag.StringVar(&servers, "servers", names(server.All), "comma-separated servers to measure (also: "+names(server.Variants)+")")
	flag.StringVar(&scenarios, "scenarios", scenarioNames(), "comma-separated scenarios to run")
	flag.IntVar(&cfg.reps, "reps", 3, "repetitions of each load scenario, interleaved across the servers; the report shows medians")
	flag.DurationVar(&cfg.duration, "duration", 4*time.Second, "measured window per server and scenario (after -warmup)")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured load before each window")
	flag.StringVar(&cfg.out, "out", "", "directory for <date>.md, .svg and .json (default: results/ in the bench module)")
	flag.StringVar(&cfg.root, "root", "", "the bench module's directory (default: found from the working directory)")
	flag.StringVar(&cfg.python, "python", "", "python3 with Twisted (default: python3 on PATH, then /usr/bin/python3)")
	flag.BoolVar(&cfg.pin, "pin", true, "pin servers to CPU 1 and the load generator to CPU 0 (needs taskset and 2 CPUs)")
	flag.IntVar(&cfg.maxConns, "max-conns", 0, "cap on connections per load scenario (0: as the scenario says)")
	flag.IntVar(&cfg.idleConns, "idle-conns", 10000, "connections held in the idle scenario")
	flag.StringVar(&date, "date", time.Now().Format(time.DateOnly), "date naming the result files")
	flag.Parse()
	cfg.servers = split(servers)
	cfg.scenarios = split(scenarios)
	if cfg.reps < 1 {
		fmt.Fprintln(os.Stderr, "compare: -reps must be at least 1")
		os.Exit(2)
	}
	var err error
	if cfg.date, err = time.Parse(time.DateOnly, date); err != nil {
		fmt.Fprintln(os.Stderr, "compare: -date:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, cfg)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, cfg config) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "compare:", err)
		return 2
	}
	say := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	if cfg.root == "" {
		root, err := benchenv.FindRoot()
		if err != nil {
			return fail(err)
		}
		cfg.root = root
	}
	if cfg.out == "" {
		cfg.out = filepath.Join(cfg.root, "results")
	}
	specs, err := pick(server.Known(), cfg.servers, func(s server.Spec) string { return s.Name })
	if err != nil {
		return fail(err)
	}
	scs, err := pick(allScenarios, cfg.scenarios, func(s report.Scenario) string { return s.Name })
	if err != nil {
		return fail(err)
	}
	rep := &report.Report{
		Date: cfg.date, Baseline: "net", Skipped: map[string]string{}, Reps: cfg.reps,
		Results: map[string]map[string]report.Measure{}, Runs: map[string]map[string][]report.Measure{},
	}
	r := &runner{cfg: cfg, progress: say}

	// Setup: file descriptors, CPUs.
	if limit, err := raiseNoFile(); err != nil || limit < uint64(cfg.idleConns)+100 {
		n := max(0, int(limit)-100)
		r.notes = append(r.notes, fmt.Sprintf("RLIMIT_NOFILE allows %d descriptors: the idle scenario holds %d connections instead of %d", limit, n, cfg.idleConns))
		cfg.idleConns = n
		r.cfg.idleConns = n
	}
	pinned := "not pinned"
	if cfg.pin && !server.CanPin() {
		r.notes = append(r.notes, "taskset or a second CPU is missing: servers and load generator were not pinned")
		cfg.pin, r.cfg.pin = false, false
	}
	if cfg.pin {
		if err := pinSelf(0); err != nil {
			return fail(fmt.Errorf("pinning the load generator: %w", err))
		}
		runtime.GOMAXPROCS(1)
		pinned = "servers pinned to CPU 1 (taskset -c 1); load generator in this process pinned to CPU 0, GOMAXPROCS=1"
	}
	python, twistedVersion := benchenv.FindPython(ctx, cfg.python)
	rep.Setup = setupLines(cfg, pinned, python, twistedVersion)
	for _, line := range rep.Setup {
		say("# %s", line)
	}

	// Build.
	tmp, err := os.MkdirTemp("", "twist-compare-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	var built []server.Built
	for _, spec := range specs {
		say("building %s", spec.Name)
		b, skip, err := server.Build(ctx, spec, cfg.root, tmp, python)
		if err != nil {
			return fail(fmt.Errorf("building %s: %w", spec.Name, err))
		}
		if skip != "" {
			say("  skipping %s: %s", spec.Name, skip)
			rep.Skipped[spec.Name] = skip
			continue
		}
		built = append(built, b)
		about := fmt.Sprintf("`%s`: %s", spec.Name, spec.About)
		if b.Version != "" {
			about += fmt.Sprintf("; %s %s", spec.Module, b.Version)
		}
		rep.Setup = append(rep.Setup, about)
		rep.Servers = append(rep.Servers, spec.Name)
		rep.Results[spec.Name] = map[string]report.Measure{}
		rep.Runs[spec.Name] = map[string][]report.Measure{}
	}
	if len(built) == 0 {
		return fail(fmt.Errorf("no server to measure"))
	}

	// Measure: scenario by scenario, so the servers compared in one table
	// ran close together in time; within a scenario rep by rep, every server
	// once per rep, the order rotated by one each rep so that no server is
	// always measured first or last.
	failed := 0
	start := time.Now()
	for i, sc := range scs {
		reps := cfg.reps
		if sc.Idle {
			sc.Conns = cfg.idleConns
			sc.Title = fmt.Sprintf("%d idle conns", sc.Conns)
			reps = 1 // memory per connection does not depend on a neighbour's load
		}
		rep.Scenarios = append(rep.Scenarios, sc)
		say("== [%d/%d] %s: %s", i+1, len(scs), sc.Name, sc.Title)
		scStart := time.Now()
		for k := range reps {
			if reps > 1 {
				say("  -- rep %d of %d", k+1, reps)
			}
			for j := range built {
				srv := built[(j+k)%len(built)]
				var m report.Measure
				var err error
				if sc.Idle {
					m, err = r.idle(ctx, srv, sc.Conns)
				} else {
					m, err = r.load(ctx, srv, sc)
				}
				if ctx.Err() != nil {
					say("interrupted; every server started was stopped")
					return 130
				}
				if err != nil {
					failed++
					m = report.Measure{Err: err.Error()}
					say("    %-15s FAILED: %v", srv.Name, err)
				} else {
					say("    %-15s %s", srv.Name, summary(sc, m))
				}
				rep.Runs[srv.Name][sc.Name] = append(rep.Runs[srv.Name][sc.Name], m)
			}
		}
		for _, srv := range built {
			rep.Results[srv.Name][sc.Name] = report.Median(rep.Runs[srv.Name][sc.Name])
		}
		say("   %s took %v", sc.Name, time.Since(scStart).Round(100*time.Millisecond))
	}
	rep.Notes = r.notes
	say("measured in %v", time.Since(start).Round(time.Second))

	// Write.
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return fail(err)
	}
	base := filepath.Join(cfg.out, cfg.date.Format(time.DateOnly))
	svg, err := rep.SVG()
	if err != nil {
		return fail(err)
	}
	data, err := json.MarshalIndent(rep, "", "\t")
	if err != nil {
		return fail(err)
	}
	md := rep.Markdown()
	for ext, content := range map[string][]byte{".md": []byte(md), ".svg": svg, ".json": append(data, '\n')} {
		if err := os.WriteFile(base+ext, content, 0o644); err != nil {
			return fail(err)
		}
	}
	fmt.Print("\n" + md)
	say("wrote %[1]s.md, %[1]s.svg and %[1]s.json", base)
	if failed > 0 {
		return 1
	}
	return 0
}

func summary(sc report.Scenario, m report.Measure) string {
	if sc.Idle {
		return fmt.Sprintf("%d conns: RSS %.1f → %.1f MiB, %.2f KiB/conn",
			m.IdleConns, float64(m.BaseRSS)/(1<<20), float64(m.RSS)/(1<<20), m.PerConnRSS/1024)
	}
	return fmt.Sprintf("%12s msgs/s  p50 %-8s p99 %-8s CPU %.2f µs/msg (%3.0f%%, other %2.0f%%, generator %3.0f%%)  RSS %.1f MiB",
		report.Thousands(m.Rate), report.Latency(m.P50), report.Latency(m.P99),
		float64(m.CPUPerMsg)/float64(time.Microsecond), 100*m.CPUUtil, 100*m.OtherUtil, 100*m.GenUtil, float64(m.RSS)/(1<<20))
}

func setupLines(cfg config, pinned, python, twistedVersion string) []string {
	reps := "one rep of each scenario"
	if cfg.reps > 1 {
		reps = fmt.Sprintf("%d reps of each load scenario, interleaved across the servers in a rotating order; medians shown; the idle scenario runs once", cfg.reps)
	}
	lines := []string{
		fmt.Sprintf("machine: %s, %d CPUs, Linux %s; %s", cpuModel(), runtime.NumCPU(), kernel(), runtime.Version()),
		pinned,
		fmt.Sprintf("each server × scenario × rep: a fresh server process, %v warm-up, then a %v measured window", cfg.warmup, cfg.duration),
		reps,
		fmt.Sprintf("CPU from /proc/PID/stat utime+stime at %d ticks/s", server.ClockTicks()),
	}
	if python != "" {
		lines = append(lines, fmt.Sprintf("Twisted %s on %s", twistedVersion, python))
	}
	return lines
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func names(specs []server.Spec) string {
	var s []string
	for _, spec := range specs {
		s = append(s, spec.Name)
	}
	return strings.Join(s, ",")
}

func scenarioNames() string {
	var s []string
	for _, sc := range allScenarios {
		s = append(s, sc.Name)
	}
	return strings.Join(s, ",")
}

func split(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// pick returns the items named in want, in all's order.
func pick[T any](all []T, want []string, name func(T) string) ([]T, error) {
	var out []T
	for _, w := range want {
		if !slices.ContainsFunc(all, func(t T) bool { return name(t) == w }) {
			var known []string
			for _, t := range all {
				known = append(known, name(t))
			}
			return nil, fmt.Errorf("unknown %q (known: %s)", w, strings.Join(known, ", "))
		}
	}
	for _, t := range all {
		if slices.Contains(want, name(t)) {
			out = append(out, t)
		}
	}
	return out, nil
}
