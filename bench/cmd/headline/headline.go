package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/twistgo/twist/bench/internal/report"
)

// The servers the sentences speak of, by their names in the harness.
const (
	onData  = "twist-ondata"
	chain   = "twist-chain"
	adapter = "twist-adapter"
	netSrv  = "net"
	twisted = "twisted"
)

// peers are the event-loop libraries twist's fast path is set beside, in the
// order the sentences name them.
var peers = []string{"gnet", "nbio", "netpoll"}

// titles name the peers in prose.
var titles = map[string]string{
	"net":     "Go's `net` package",
	"netpoll": "`cloudwego/netpoll`",
	"gnet":    "`gnet` v2",
	"nbio":    "`nbio`",
	"twisted": "Twisted",
}

// figures reads one run's medians.
type figures struct{ *report.Report }

// get is server's measure in scenario sc, if the run measured that server
// and the measurement succeeded.
func (f figures) get(server, sc string) (report.Measure, bool) {
	m, ok := f.Results[server][sc]
	return m, ok && m.Err == "" && f.has(server)
}

func (f figures) has(server string) bool { return slices.Contains(f.Servers, server) }

type metric func(report.Measure) float64

func rate(m report.Measure) float64    { return m.Rate }
func cpu(m report.Measure) float64     { return float64(m.CPUPerMsg) }
func perConn(m report.Measure) float64 { return m.PerConnRSS }

// ratios is metric(a)/metric(b) in each of scs where both succeeded.
func (f figures) ratios(a, b string, scs []report.Scenario, of metric) []float64 {
	var out []float64
	for _, sc := range scs {
		ma, okA := f.get(a, sc.Name)
		mb, okB := f.get(b, sc.Name)
		if okA && okB && of(ma) > 0 && of(mb) > 0 {
			out = append(out, of(ma)/of(mb))
		}
	}
	return out
}

// scenarios returns the run's scenarios that keep says.
func (f figures) scenarios(keep func(report.Scenario) bool) []report.Scenario {
	var out []report.Scenario
	for _, sc := range f.Scenarios {
		if keep(sc) {
			out = append(out, sc)
		}
	}
	return out
}

func isLoad(sc report.Scenario) bool  { return !sc.Idle }
func isSmall(sc report.Scenario) bool { return !sc.Idle && sc.Size < 1024 }
func isLarge(sc report.Scenario) bool { return !sc.Idle && sc.Size >= 1024 }

// span formats ratios as "1.04x", or "0.92–1.17x" when they differ at two
// decimals; "" when there are none.
func span(v []float64) string {
	if len(v) == 0 {
		return ""
	}
	lo, hi := fmt.Sprintf("%.2f", slices.Min(v)), fmt.Sprintf("%.2f", slices.Max(v))
	if lo == hi {
		return lo + "x"
	}
	return lo + "–" + hi + "x"
}

// kib formats server's idle RSS per connection, "" when not measured.
func (f figures) kib(server string) string {
	for _, sc := range f.scenarios(func(sc report.Scenario) bool { return sc.Idle }) {
		if m, ok := f.get(server, sc.Name); ok {
			return fmt.Sprintf("%.2f", m.PerConnRSS/1024)
		}
	}
	return ""
}

// list joins clauses as prose: "a", "a and b", "a, b and c".
func list(clauses []string) string {
	switch len(clauses) {
	case 0:
		return ""
	case 1:
		return clauses[0]
	}
	return strings.Join(clauses[:len(clauses)-1], ", ") + " and " + clauses[len(clauses)-1]
}

// machine is the run's machine line: CPU, count, kernel, Go.
func (f figures) machine() string {
	for _, s := range f.Setup {
		if m, ok := strings.CutPrefix(s, "machine: "); ok {
			return m
		}
	}
	return "an unnamed machine"
}

// runLine says where the figures come from.
func (f figures) runLine() string {
	reps := "one repetition of each scenario"
	if f.Reps > 1 {
		reps = fmt.Sprintf("each figure the median of %d interleaved repetitions", f.Reps)
	}
	return fmt.Sprintf("one run of `go run ./cmd/compare` on %s, %s", f.machine(), reps)
}

// benchHeadline is bench/README.md's headline: the ratios of every server
// to net, twist's fast path against its peers, and the sentences that sum
// them up. link points at the run's Markdown tables.
func benchHeadline(rep *report.Report, link string) string {
	f := figures{rep}
	var b strings.Builder
	fmt.Fprintf(&b, "## Headline\n\n[%s](%s): %s.\n\n", strings.TrimPrefix(link, "./"), link, f.runLine())

	others := slices.DeleteFunc(slices.Clone(f.Servers), func(s string) bool { return s == rep.Baseline })
	fmt.Fprintf(&b, "Echo, ratios to `%s` in the same run (msgs/s ×%s / CPU per message ×%s; below 1 is cheaper):\n\n",
		rep.Baseline, rep.Baseline, rep.Baseline)
	b.WriteString("| scenario | " + strings.Join(others, " | ") + " |\n")
	b.WriteString("| --- |" + strings.Repeat(" --- |", len(others)) + "\n")
	for _, sc := range f.Scenarios {
		if sc.Idle {
			label := "idle, KiB per connection"
			if v := f.kib(rep.Baseline); v != "" {
				label += fmt.Sprintf(" (%s: %s)", rep.Baseline, v)
			}
			cells := []string{label}
			for _, s := range others {
				cells = append(cells, f.kib(s))
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
			continue
		}
		cells := []string{sc.Title}
		for _, s := range others {
			cells = append(cells, cell(f, s, rep.Baseline, sc))
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}

	// twist beside its peers, CPU per message.
	type pair struct{ a, b string }
	var pairs []pair
	for _, p := range peers {
		pairs = append(pairs, pair{onData, p})
	}
	pairs = append(pairs, pair{chain, onData}, pair{adapter, onData})
	pairs = slices.DeleteFunc(pairs, func(p pair) bool { return !f.has(p.a) || !f.has(p.b) })
	if len(pairs) > 0 {
		b.WriteString("\ntwist beside its peers: CPU per message, ratio of the first to the second (below 1: the first spends less):\n\n")
		b.WriteString("| scenario |")
		for _, p := range pairs {
			fmt.Fprintf(&b, " %s ×%s |", p.a, p.b)
		}
		b.WriteString("\n| --- |" + strings.Repeat(" --- |", len(pairs)) + "\n")
		for _, sc := range f.scenarios(isLoad) {
			b.WriteString("| " + sc.Title + " |")
			for _, p := range pairs {
				v := span(f.ratios(p.a, p.b, []report.Scenario{sc}, cpu))
				if v == "" {
					v = "failed"
				}
				fmt.Fprintf(&b, " %s |", v)
			}
			b.WriteString("\n")
		}
	}

	b.WriteString("\n")
	for _, s := range benchSentences(f) {
		b.WriteString("- " + s + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// cell is "msgs/s ratio / CPU ratio" of s to base in sc, or "failed".
func cell(f figures, s, base string, sc report.Scenario) string {
	one := []report.Scenario{sc}
	r, c := span(f.ratios(s, base, one, rate)), span(f.ratios(s, base, one, cpu))
	if r == "" || c == "" {
		if _, ok := f.Results[s][sc.Name]; ok {
			return "failed"
		}
		return ""
	}
	return r + " / " + c
}

func benchSentences(f figures) []string {
	small, large, load := f.scenarios(isSmall), f.scenarios(isLarge), f.scenarios(isLoad)
	var out []string
	if f.has(onData) && f.has(netSrv) {
		s := fmt.Sprintf("`%s` (the `OnData` fast path) serves %s the messages per second of `net` at %s its CPU per message with 64-byte messages",
			onData, span(f.ratios(onData, netSrv, small, rate)), span(f.ratios(onData, netSrv, small, cpu)))
		if len(large) > 0 {
			s += fmt.Sprintf("; %s and %s with 16 KiB ones", span(f.ratios(onData, netSrv, large, rate)), span(f.ratios(onData, netSrv, large, cpu)))
		}
		out = append(out, s+".")
	}
	if f.has(onData) {
		var clauses []string
		for _, p := range peers {
			if f.has(p) {
				clauses = append(clauses, fmt.Sprintf("%s %s's", span(f.ratios(onData, p, load, cpu)), p))
			}
		}
		if len(clauses) > 0 {
			out = append(out, fmt.Sprintf("Beside the Go event-loop libraries, its CPU per message is %s across the load scenarios.", list(clauses)))
		}
	}
	if f.has(chain) && f.has(onData) {
		s := fmt.Sprintf("Chains (`%s`, a Deferred per read and write) cost %s `OnData`'s CPU per message with 64-byte messages",
			chain, span(f.ratios(chain, onData, small, cpu)))
		if len(large) > 0 {
			s += fmt.Sprintf(" and %s with 16 KiB ones", span(f.ratios(chain, onData, large, cpu)))
		}
		if f.has(netSrv) {
			s += fmt.Sprintf(", and serve %s the messages per second of `net`", span(f.ratios(chain, netSrv, load, rate)))
		}
		out = append(out, s+".")
	}
	if f.has(onData) && f.has(twisted) {
		out = append(out, fmt.Sprintf("Against Twisted's epoll reactor, `%s` spends %s less CPU per message and serves %s the messages per second.",
			onData, span(f.ratios(twisted, onData, load, cpu)), span(f.ratios(onData, twisted, load, rate))))
	}
	if v := f.kib(onData); v != "" {
		s := fmt.Sprintf("Idle connections cost %s KiB of RSS each with `%s`", v, onData)
		if c := f.kib(chain); c != "" {
			s += fmt.Sprintf(" (%s with chains)", c)
		}
		var clauses []string
		for _, p := range append([]string{netSrv}, peers...) {
			if k := f.kib(p); k != "" {
				clauses = append(clauses, fmt.Sprintf("%s for `%s`", k, p))
			}
		}
		if len(clauses) > 0 {
			s += ", against " + list(clauses)
		}
		out = append(out, s+".")
	}
	return out
}

// readmeHeadline is the repository README's Performance paragraph and
// bullets; link points at the run's Markdown tables.
func readmeHeadline(rep *report.Report, link string) string {
	f := figures{rep}
	small, large, load := f.scenarios(isSmall), f.scenarios(isLarge), f.scenarios(isLoad)
	var named []string
	for _, s := range []string{"net", "netpoll", "gnet", "nbio", "twisted"} {
		if f.has(s) {
			named = append(named, titles[s])
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "One command compares twist with %s on your machine: `cd bench && go run ./cmd/compare` (see\n", list(named))
	machine, _, _ := strings.Cut(f.machine(), ", Linux")
	fmt.Fprintf(&b, "[bench/README.md](bench/README.md)). Headline of [one run on %s](%s)", machine, link)
	if f.Reps > 1 {
		fmt.Fprintf(&b, " (medians of %d interleaved repetitions)", f.Reps)
	}
	b.WriteString(", ratios measured side by side:\n\n")

	if f.has(onData) && f.has(netSrv) {
		s := fmt.Sprintf("- Echo, epoll backend with the `OnData` fast path: %s the messages per second of a goroutine-per-connection `net` server at %s its CPU per message with 64-byte messages",
			span(f.ratios(onData, netSrv, small, rate)), span(f.ratios(onData, netSrv, small, cpu)))
		if len(large) > 0 {
			s += fmt.Sprintf(" (%s and %s with 16 KiB ones)", span(f.ratios(onData, netSrv, large, rate)), span(f.ratios(onData, netSrv, large, cpu)))
		}
		if f.has(twisted) {
			s += fmt.Sprintf(", and %s less CPU per message than Twisted's epoll reactor", span(f.ratios(twisted, onData, load, cpu)))
		}
		s += "."
		var clauses []string
		for _, p := range []string{"gnet", "nbio"} {
			if f.has(p) {
				clauses = append(clauses, fmt.Sprintf("%s that of %s", span(f.ratios(onData, p, load, cpu)), titles[p]))
			}
		}
		if len(clauses) > 0 {
			s += fmt.Sprintf(" Its CPU per message is %s, the strongest Go event-loop libraries.", list(clauses))
		}
		if f.has(chain) {
			s += fmt.Sprintf(" The chain API (a Deferred per read and write) costs %s the CPU of `OnData` with 64-byte messages", span(f.ratios(chain, onData, small, cpu)))
			if len(large) > 0 {
				s += fmt.Sprintf(", %s with 16 KiB ones", span(f.ratios(chain, onData, large, cpu)))
			}
			s += "."
		}
		b.WriteString(s + "\n")
	}
	if v := f.kib(onData); v != "" {
		s := fmt.Sprintf("- Idle connections: %s KiB of RSS each on epoll", v)
		var clauses []string
		for _, p := range []string{"net", "gnet", "nbio"} {
			if k := f.kib(p); k != "" {
				clauses = append(clauses, fmt.Sprintf("%s KiB for %s", k, titles[p]))
			}
		}
		if len(clauses) > 0 {
			s += ", against " + list(clauses)
		}
		b.WriteString(s + ".\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
