package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twistgo/twist/bench/internal/report"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sample is a run with round figures: CPU per message in µs and msgs/s per
// server for a 64-byte and a 16 KiB scenario, and idle KiB per connection.
func sample() *report.Report {
	us := func(v float64) time.Duration { return time.Duration(v * float64(time.Microsecond)) }
	small := map[string][2]float64{ // msgs/s, CPU µs
		"twist-chain": {90, 11}, "twist-ondata": {110, 10}, "net": {100, 12},
		"gnet": {100, 10.5}, "nbio": {95, 12.5}, "twisted": {60, 25},
	}
	large := map[string][2]float64{
		"twist-chain": {70, 15}, "twist-ondata": {90, 10}, "net": {100, 9},
		"gnet": {80, 11}, "nbio": {80, 12}, "twisted": {50, 20},
	}
	idle := map[string]float64{"twist-chain": 1.5, "twist-ondata": 0.75, "net": 8, "gnet": 1.25, "nbio": 0.5, "twisted": 2}
	r := &report.Report{
		Baseline: "net", Reps: 3,
		Servers: []string{"twist-chain", "twist-ondata", "net", "gnet", "nbio", "twisted"},
		Scenarios: []report.Scenario{
			{Name: "50x64", Title: "50 conns × 64 B, lockstep", Size: 64, Conns: 50, Depth: 1},
			{Name: "20x16k", Title: "20 conns × 16 KiB, lockstep", Size: 16 << 10, Conns: 20, Depth: 1},
			{Name: "idle", Title: "100 idle conns", Idle: true},
		},
		Results: map[string]map[string]report.Measure{},
		Setup:   []string{"machine: Test CPU, 2 CPUs, Linux 6.1; go1.26", "pinned"},
	}
	for _, s := range r.Servers {
		r.Results[s] = map[string]report.Measure{
			"50x64":  {Rate: small[s][0], CPUPerMsg: us(small[s][1])},
			"20x16k": {Rate: large[s][0], CPUPerMsg: us(large[s][1])},
			"idle":   {IdleConns: 100, PerConnRSS: idle[s] * 1024},
		}
	}
	return r
}

func TestBenchHeadline(t *testing.T) {
	got := benchHeadline(sample(), "results/2001-02-03.md")
	for _, want := range []string{
		"[results/2001-02-03.md](results/2001-02-03.md): one run of `go run ./cmd/compare` on Test CPU, 2 CPUs, Linux 6.1; go1.26, each figure the median of 3 interleaved repetitions.",
		"| scenario | twist-chain | twist-ondata | gnet | nbio | twisted |",
		"| 50 conns × 64 B, lockstep | 0.90x / 0.92x | 1.10x / 0.83x | 1.00x / 0.88x | 0.95x / 1.04x | 0.60x / 2.08x |",
		"| idle, KiB per connection (net: 8.00) | 1.50 | 0.75 | 1.25 | 0.50 | 2.00 |",
		"| scenario | twist-ondata ×gnet | twist-ondata ×nbio | twist-chain ×twist-ondata |",
		"| 20 conns × 16 KiB, lockstep | 0.91x | 0.83x | 1.50x |",
		"- `twist-ondata` (the `OnData` fast path) serves 1.10x the messages per second of `net` at 0.83x its CPU per message with 64-byte messages; 0.90x and 1.11x with 16 KiB ones.",
		"- Beside the Go event-loop libraries, its CPU per message is 0.91–0.95x gnet's and 0.80–0.83x nbio's across the load scenarios.",
		"- Chains (`twist-chain`, a Deferred per read and write) cost 1.10x `OnData`'s CPU per message with 64-byte messages and 1.50x with 16 KiB ones, and serve 0.70–0.90x the messages per second of `net`.",
		"- Against Twisted's epoll reactor, `twist-ondata` spends 2.00–2.50x less CPU per message and serves 1.80–1.83x the messages per second.",
		"- Idle connections cost 0.75 KiB of RSS each with `twist-ondata` (1.50 with chains), against 8.00 for `net`, 1.25 for `gnet` and 0.50 for `nbio`.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("bench headline lacks\n%s\n--- got:\n%s", want, got)
		}
	}
}

func TestReadmeHeadline(t *testing.T) {
	got := readmeHeadline(sample(), "bench/results/2001-02-03.md")
	for _, want := range []string{
		"One command compares twist with Go's `net` package, `gnet` v2, `nbio` and Twisted on your machine",
		"Headline of [one run on Test CPU, 2 CPUs](bench/results/2001-02-03.md) (medians of 3 interleaved repetitions), ratios measured side by side:",
		"- Echo, epoll backend with the `OnData` fast path: 1.10x the messages per second of a goroutine-per-connection `net` server at 0.83x its CPU per message with 64-byte messages (0.90x and 1.11x with 16 KiB ones), and 2.00–2.50x less CPU per message than Twisted's epoll reactor. Its CPU per message is 0.91–0.95x that of `gnet` v2 and 0.80–0.83x that of `nbio`, the strongest Go event-loop libraries. The chain API (a Deferred per read and write) costs 1.10x the CPU of `OnData` with 64-byte messages, 1.50x with 16 KiB ones.",
		"- Idle connections: 0.75 KiB of RSS each on epoll, against 8.00 KiB for Go's `net` package, 1.25 KiB for `gnet` v2 and 0.50 KiB for `nbio`.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("README headline lacks\n%s\n--- got:\n%s", want, got)
		}
	}
}

func TestFailedAndMissingServers(t *testing.T) {
	r := sample()
	r.Results["gnet"]["50x64"] = report.Measure{Err: "refused"}
	r.Servers = []string{"twist-ondata", "net", "gnet"}
	got := benchHeadline(r, "x.md")
	for _, want := range []string{
		"| 50 conns × 64 B, lockstep | 1.10x / 0.83x | failed |",
		"| 50 conns × 64 B, lockstep | failed |",
		"its CPU per message is 0.91x gnet's across the load scenarios.", // the 16 KiB scenario only
	} {
		if !strings.Contains(got, want) {
			t.Errorf("headline lacks %q:\n%s", want, got)
		}
	}
	for _, absent := range []string{"nbio", "Chains", "Twisted"} {
		if strings.Contains(got, absent) {
			t.Errorf("headline speaks of %s, which the run did not measure:\n%s", absent, got)
		}
	}
}

func TestWriteReplacesOnlyTheBlocks(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "bench", "results", "2001-02-03.json")
	if err := os.MkdirAll(filepath.Dir(results), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(results, data, 0o644); err != nil {
		t.Fatal(err)
	}
	readme := filepath.Join(dir, "README.md")
	before := "# twist\n\nProse may quote `<!-- headline:readme begin -->`.\n\n## Performance\n\n<!-- headline:readme begin -->\nold figures\n<!-- headline:readme end -->\n- micro: kept\n"
	if err := os.WriteFile(readme, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(results, []string{readme}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	want := "# twist\n\nProse may quote `<!-- headline:readme begin -->`.\n\n## Performance\n\n<!-- headline:readme begin -->\n" +
		readmeHeadline(sample(), "bench/results/2001-02-03.md") + "\n<!-- headline:readme end -->\n- micro: kept\n"
	if string(got) != want {
		t.Errorf("README after -w:\n%s\nwant:\n%s", got, want)
	}
	// Running it again changes nothing.
	if err := run(results, []string{readme}); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(readme); string(again) != want {
		t.Errorf("a second -w changed the README:\n%s", again)
	}

	plain := filepath.Join(dir, "plain.md")
	if err := os.WriteFile(plain, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(results, []string{plain}); !errors.Is(err, errNoBlock) {
		t.Errorf("-w on a file without markers: %v; want errNoBlock", err)
	}
}
