// Command micro compares twist's Deferred and timers with Twisted's and with
// time.AfterFunc, on the same workloads, in one run:
//
//   - the library's Deferred benchmarks (defer/bench_test.go, ns/step) next
//     to bench/twisted/deferred_bench.py timing Twisted's Deferred;
//   - 100 000 timers at distinct delays, scheduled and fired, on twist's
//     reactor and with time.AfterFunc (bench/micro) and with Twisted's
//     callLater on its epoll reactor (bench/twisted/timers_bench.py), plus any
//     timer benchmark of the reactor package.
//
// It prints ns/op (per callback step, per timer) and the ratios, checks them
// against the project's performance bars, and with -out writes the tables as Markdown.
// Run it from bench/:
//
//	go run ./cmd/micro
//	go run ./cmd/micro -out results/$(date +%F)-micro.md
//
// Without Twisted the Twisted columns are empty and the reason is printed.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/twistgo/twist/bench/internal/benchenv"
	"github.com/twistgo/twist/bench/internal/gobench"
)

// deferredWorkloads pairs defer/bench_test.go's benchmarks with the
// workloads of the same name in deferred_bench.py.
var deferredWorkloads = []struct{ name, about string }{
	{"CallbacksFiredAtEnd", "10 callbacks added, then fired"},
	{"CallbacksFiredAtStart", "10 callbacks added to a fired Deferred"},
	{"ErrbackChain", "failing step, 8 errbacks passing it on, 1 recovering"},
	{"StepsReturningFiredDeferred", "10 steps each returning a fired Deferred"},
	{"All/fired-100", "gatherResults / All of 100 fired Deferreds"},
}

// reactorTimerBench finds the reactor package's own timer benchmarks.
var reactorTimerBench = regexp.MustCompile(`(?i)timer|schedule|calllater|afterfunc`)

const (
	deferredBar  = 100.0 // twist ≥ 100x Twisted per callback step
	afterFuncBar = 10.0  // reactor timers ≥ 10x time.AfterFunc
	callLaterBar = 40.0  // reactor timers ≥ 40x Twisted's callLater
)

func main() {
	var root, python, out, benchtime string
	var timeout time.Duration
	flag.StringVar(&root, "root", "", "the bench module's directory (default: found from the working directory)")
	flag.StringVar(&python, "python", "", "python3 with Twisted (default: python3 on PATH, then /usr/bin/python3)")
	flag.StringVar(&out, "out", "", "also write the tables as Markdown to this file")
	flag.StringVar(&benchtime, "benchtime", "300ms", "-benchtime for the library's Deferred and reactor benchmarks")
	flag.DurationVar(&timeout, "timeout", 4*time.Minute, "bound on the whole run")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	code := run(ctx, root, python, out, benchtime)
	cancel()
	stop()
	os.Exit(code)
}

func run(ctx context.Context, root, python, out, benchtime string) int {
	if root == "" {
		var err error
		if root, err = benchenv.FindRoot(); err != nil {
			fmt.Fprintln(os.Stderr, "micro:", err)
			return 2
		}
	}
	lib := filepath.Dir(root) // the twist module: bench's replace target
	var md strings.Builder
	say := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	var notes []string
	note := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		notes = append(notes, s)
		say("note: %s", s)
	}

	say("running the library's Deferred benchmarks (go test -bench . ./defer, -benchtime %s)", benchtime)
	deferRes, _, err := gobench.Run(ctx, lib, ".", benchtime, "./defer")
	if err != nil {
		fmt.Fprintln(os.Stderr, "micro:", err)
		return 2
	}
	say("running the library's reactor benchmarks (go test -bench . ./reactor)")
	reactorRes, _, err := gobench.Run(ctx, lib, ".", benchtime, "./reactor")
	if err != nil {
		fmt.Fprintln(os.Stderr, "micro:", err)
		return 2
	}
	say("running bench/micro's timer benchmarks (100 000 timers per op)")
	timerRes, _, err := gobench.Run(ctx, root, "Timers", "10x", "./micro")
	if err != nil {
		fmt.Fprintln(os.Stderr, "micro:", err)
		return 2
	}

	py, twistedVersion := benchenv.FindPython(ctx, python)
	var twistedDeferred map[string]float64
	var callLater float64
	if py == "" {
		note("%s; the Twisted columns are empty", benchenv.MissingTwisted)
	} else {
		say("running Twisted %s's Deferred and callLater workloads with %s", twistedVersion, py)
		rows, err := runPython(ctx, py, filepath.Join(root, "twisted", "deferred_bench.py"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "micro:", err)
			return 2
		}
		twistedDeferred = map[string]float64{}
		for _, r := range rows {
			twistedDeferred[r.Name] = r.NsPerStep
		}
		rows, err = runPython(ctx, py, filepath.Join(root, "twisted", "timers_bench.py"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "micro:", err)
			return 2
		}
		if len(rows) > 0 {
			callLater = rows[0].NsPerTimer
		}
	}

	// Deferred table.
	met, missed := 0, 0
	fmt.Fprintf(&md, "## Deferred: ns per callback step\n\n")
	fmt.Fprintf(&md, "| workload | twist ns/step | allocs/op | Twisted ns/step | Twisted ÷ twist | bar ≥ %.0fx |\n| --- | ---: | ---: | ---: | ---: | --- |\n", deferredBar)
	for _, w := range deferredWorkloads {
		r, ok := gobench.Find(deferRes, w.name)
		if !ok {
			note("defer/bench_test.go has no Benchmark%s: the %q workload is not compared", w.name, w.about)
			continue
		}
		twist := r.Metrics["ns/step"]
		tw, hasTw := twistedDeferred[w.name]
		ratio, verdict := "", "no Twisted figure"
		if hasTw && twist > 0 {
			ratio = fmt.Sprintf("%.0fx", tw/twist)
			verdict = "met"
			met++
			if tw/twist < deferredBar {
				verdict = "**not met**"
				met--
				missed++
			}
		}
		fmt.Fprintf(&md, "| %s (%s) | %.1f | %.0f | %s | %s | %s |\n", w.name, w.about, twist, r.Metrics["allocs/op"], num(tw, hasTw), ratio, verdict)
	}

	// Timer table.
	fmt.Fprintf(&md, "\n## Timers: 100 000 at distinct delays (≤ 1 ms), schedule + fire, ns per timer\n\n")
	fmt.Fprintf(&md, "| timers | ns/timer | B/timer | ÷ twist reactor | bar |\n| --- | ---: | ---: | ---: | --- |\n")
	reactorT, okR := gobench.Find(timerRes, "Timers/reactor")
	afterT, okA := gobench.Find(timerRes, "Timers/afterfunc")
	if !okR || !okA {
		fmt.Fprintln(os.Stderr, "micro: bench/micro's BenchmarkTimers gave no result")
		return 2
	}
	rt := reactorT.Metrics["ns/timer"]
	perTimerBytes := func(r gobench.Result) string { return fmt.Sprintf("%.0f", r.Metrics["B/op"]/100_000) }
	fmt.Fprintf(&md, "| twist reactor.Schedule | %.0f | %s | 1.0x | |\n", rt, perTimerBytes(reactorT))
	verdict := func(other, bar float64) string {
		if other/rt >= bar {
			met++
			return fmt.Sprintf("≥ %.0fx: met", bar)
		}
		missed++
		return fmt.Sprintf("≥ %.0fx: **not met**", bar)
	}
	at := afterT.Metrics["ns/timer"]
	fmt.Fprintf(&md, "| time.AfterFunc | %.0f | %s | %.1fx | %s |\n", at, perTimerBytes(afterT), at/rt, verdict(at, afterFuncBar))
	if callLater > 0 {
		fmt.Fprintf(&md, "| Twisted callLater (epoll reactor) | %.0f | | %.1fx | %s |\n", callLater, callLater/rt, verdict(callLater, callLaterBar))
	} else {
		fmt.Fprintf(&md, "| Twisted callLater (epoll reactor) | | | | no Twisted figure |\n")
	}
	var own []gobench.Result
	for _, r := range reactorRes {
		if reactorTimerBench.MatchString(r.Name) {
			own = append(own, r)
		}
	}
	if len(own) == 0 {
		note("the reactor package has no timer benchmark (no Benchmark matching %s in reactor/*_test.go); the reactor row is bench/micro's BenchmarkTimers/reactor", reactorTimerBench)
	}

	// Every library benchmark, for reference.
	fmt.Fprintf(&md, "\n## The library's benchmarks in this run\n\n| package | benchmark | ns/op | custom | B/op | allocs/op |\n| --- | --- | ---: | --- | ---: | ---: |\n")
	for _, r := range append(append(deferRes, reactorRes...), timerRes...) {
		var custom []string
		for unit, v := range r.Metrics {
			if unit != "ns/op" && unit != "B/op" && unit != "allocs/op" {
				custom = append(custom, fmt.Sprintf("%.1f %s", v, unit))
			}
		}
		slices.Sort(custom)
		fmt.Fprintf(&md, "| %s | %s | %.1f | %s | %.0f | %.0f |\n", filepath.Base(r.Pkg), r.Name, r.Metrics["ns/op"], strings.Join(custom, ", "), r.Metrics["B/op"], r.Metrics["allocs/op"])
	}
	if len(notes) > 0 {
		md.WriteString("\n## Notes\n\n")
		for _, n := range notes {
			fmt.Fprintf(&md, "- %s\n", n)
		}
	}
	fmt.Fprintf(&md, "\nBars: %d met, %d not met.\n", met, missed)
	text := fmt.Sprintf("# twist micro-comparisons, %s\n\n", time.Now().Format(time.DateOnly)) + md.String()
	fmt.Print("\n" + text)
	if out != "" {
		if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "micro:", err)
			return 2
		}
		say("wrote %s", out)
	}
	return 0
}

func num(v float64, ok bool) string {
	if !ok {
		return ""
	}
	return fmt.Sprintf("%.0f", v)
}

// pyRow is one JSON line of the Twisted scripts.
type pyRow struct {
	Name       string  `json:"name"`
	NsPerStep  float64 `json:"ns_per_step"`
	NsPerTimer float64 `json:"ns_per_timer"`
}

func runPython(ctx context.Context, py, script string) ([]pyRow, error) {
	out, err := exec.CommandContext(ctx, py, script).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, fmt.Errorf("%s: %w: %s", script, err, ee.Stderr)
		}
		return nil, fmt.Errorf("%s: %w", script, err)
	}
	var rows []pyRow
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var r pyRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: line %q: %w", script, sc.Text(), err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}
