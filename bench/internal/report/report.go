// Package report turns the comparison harness's measurements into a Markdown
// table (with ratios to a baseline server) and an SVG bar chart drawn from a
// text/template: bars are scaled rectangles, and text is placed with
// text-anchor so the SVG renderer lays it out (no font metrics here).
package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// A Scenario is one column group of the report.
type Scenario struct {
	Name  string // short key, e.g. "50x64"
	Title string // what it is, e.g. "50 conns × 64 B, lockstep"
	Idle  bool   // a memory scenario: only the idle fields of Measure apply

	Conns int // connections
	Size  int // bytes per message
	Depth int // messages in flight per connection (1: lockstep)
}

// Measure is one server's figures in one scenario.
type Measure struct {
	Err string // the scenario failed for this server; the figures are empty

	Rate      float64       // messages per second
	P50, P99  time.Duration // round-trip latency
	CPUPerMsg time.Duration // server CPU (user+system) per message
	CPUUtil   float64       // server CPU seconds per wall second in the window
	RSS       int64         // server RSS at the end of the window, bytes
	GenUtil   float64       // the load generator's CPU seconds per wall second
	OtherUtil float64       // share of the server's CPU busy with anything but the server (noise)

	IdleConns  int     // idle scenario: connections held
	BaseRSS    int64   // idle scenario: RSS before connecting
	PerConnRSS float64 // idle scenario: (RSS - BaseRSS) / IdleConns, bytes
}

// Report is a whole run. It is also the results file's JSON form, from
// which the tables, the chart and the READMEs' headlines are made again.
type Report struct {
	Date      time.Time
	Baseline  string            // the server ratios are taken to ("net")
	Servers   []string          // measured servers, in display order
	Skipped   map[string]string // server -> why it was not measured
	Scenarios []Scenario
	Results   map[string]map[string]Measure // server -> scenario name -> figures (the median of Runs)
	// Runs holds every repetition's figures when a scenario ran more than
	// once: server -> scenario name -> one Measure per rep, in run order.
	Runs  map[string]map[string][]Measure `json:",omitempty"`
	Reps  int                             // repetitions of each load scenario (0 or 1: one)
	Setup []string                        // lines describing the machine and the run
	Notes []string                        // anything the run had to change or report
}

// Median combines the repetitions of one server in one scenario: each
// figure is the median of its values (the mean of the middle two for an
// even count). If any repetition failed, the result is that failure.
func Median(runs []Measure) Measure {
	for i, m := range runs {
		if m.Err != "" {
			if len(runs) > 1 {
				return Measure{Err: fmt.Sprintf("rep %d of %d: %s", i+1, len(runs), m.Err)}
			}
			return m
		}
	}
	if len(runs) == 0 {
		return Measure{Err: "not measured"}
	}
	med := func(f func(Measure) float64) float64 {
		v := make([]float64, len(runs))
		for i, m := range runs {
			v[i] = f(m)
		}
		slices.Sort(v)
		n := len(v)
		if n%2 == 1 {
			return v[n/2]
		}
		return (v[n/2-1] + v[n/2]) / 2
	}
	dur := func(f func(Measure) time.Duration) time.Duration {
		return time.Duration(med(func(m Measure) float64 { return float64(f(m)) }))
	}
	i64 := func(f func(Measure) int64) int64 {
		return int64(med(func(m Measure) float64 { return float64(f(m)) }))
	}
	return Measure{
		Rate:       med(func(m Measure) float64 { return m.Rate }),
		P50:        dur(func(m Measure) time.Duration { return m.P50 }),
		P99:        dur(func(m Measure) time.Duration { return m.P99 }),
		CPUPerMsg:  dur(func(m Measure) time.Duration { return m.CPUPerMsg }),
		CPUUtil:    med(func(m Measure) float64 { return m.CPUUtil }),
		RSS:        i64(func(m Measure) int64 { return m.RSS }),
		GenUtil:    med(func(m Measure) float64 { return m.GenUtil }),
		OtherUtil:  med(func(m Measure) float64 { return m.OtherUtil }),
		IdleConns:  int(med(func(m Measure) float64 { return float64(m.IdleConns) })),
		BaseRSS:    i64(func(m Measure) int64 { return m.BaseRSS }),
		PerConnRSS: med(func(m Measure) float64 { return m.PerConnRSS }),
	}
}

// Spread is how far apart the repetitions of server in scenario put its CPU
// per message: (max − min) / median. ok is false with fewer than two
// successful repetitions.
func (r *Report) Spread(server, scenario string) (spread float64, ok bool) {
	runs := r.Runs[server][scenario]
	if len(runs) < 2 {
		return 0, false
	}
	lo, hi := runs[0].CPUPerMsg, runs[0].CPUPerMsg
	for _, m := range runs {
		if m.Err != "" {
			return 0, false
		}
		lo, hi = min(lo, m.CPUPerMsg), max(hi, m.CPUPerMsg)
	}
	med := Median(runs).CPUPerMsg
	if med <= 0 {
		return 0, false
	}
	return float64(hi-lo) / float64(med), true
}

func (r *Report) get(server, scenario string) (Measure, bool) {
	m, ok := r.Results[server][scenario]
	return m, ok
}

// ratio formats a/b as "1.23x", or "" when either is missing.
func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// Markdown renders the report: one table per scenario, the skipped servers,
// and the setup and notes.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# twist echo comparison, %s\n\n", r.Date.Format("2006-01-02"))
	fmt.Fprintf(&b, "Ratios are to the `%s` server in the same run (×%s): above 1 is more messages per second, "+
		"below 1 is less CPU or memory. CPU is the server's user+system time per echoed message, from /proc/PID/stat; "+
		"CPU%% is its CPU seconds per wall second (100%% = the one core it is pinned to); "+
		"other%% is the share of that core busy with anything else in the window (other processes, interrupts): "+
		"a high figure marks a noisy row.\n\n", r.Baseline, r.Baseline)
	if r.Reps > 1 {
		fmt.Fprintf(&b, "Each load figure is the median of %d repetitions, run interleaved (every server once, in a rotating "+
			"order, then again); CPU spread is how far apart the repetitions put the CPU per message, (max − min) / median.\n\n", r.Reps)
	}
	for _, sc := range r.Scenarios {
		fmt.Fprintf(&b, "## %s — %s\n\n", sc.Name, sc.Title)
		if sc.Idle {
			r.idleTable(&b, sc)
		} else {
			r.loadTable(&b, sc)
		}
		b.WriteString("\n")
	}
	if len(r.Skipped) > 0 {
		b.WriteString("## Not measured\n\n")
		for _, name := range slices.Sorted(maps.Keys(r.Skipped)) {
			fmt.Fprintf(&b, "- `%s`: %s\n", name, r.Skipped[name])
		}
		b.WriteString("\n")
	}
	if len(r.Setup) > 0 {
		b.WriteString("## Setup\n\n")
		for _, s := range r.Setup {
			fmt.Fprintf(&b, "- %s\n", s)
		}
		b.WriteString("\n")
	}
	if len(r.Notes) > 0 {
		b.WriteString("## Notes\n\n")
		for _, s := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", s)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (r *Report) loadTable(b *strings.Builder, sc Scenario) {
	fmt.Fprintf(b, "| server | msgs/s | ×%s | p50 | p99 | CPU µs/msg | ×%s | CPU spread | CPU%% | other%% | RSS MiB |\n", r.Baseline, r.Baseline)
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	base, _ := r.get(r.Baseline, sc.Name)
	for _, s := range r.Servers {
		m, ok := r.get(s, sc.Name)
		switch {
		case !ok:
			continue
		case m.Err != "":
			fmt.Fprintf(b, "| %s | failed: %s | | | | | | | | | |\n", s, oneLine(m.Err))
			continue
		}
		spread := "–"
		if v, ok := r.Spread(s, sc.Name); ok {
			spread = fmt.Sprintf("%.0f%%", 100*v)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %.0f%% | %.0f%% | %.1f |\n", s,
			Thousands(m.Rate), ratio(m.Rate, base.Rate), Latency(m.P50), Latency(m.P99),
			CPU(m.CPUPerMsg), ratio(micros(m.CPUPerMsg), micros(base.CPUPerMsg)), spread,
			100*m.CPUUtil, 100*m.OtherUtil, float64(m.RSS)/(1<<20))
	}
}

func (r *Report) idleTable(b *strings.Builder, sc Scenario) {
	fmt.Fprintf(b, "| server | idle conns | RSS before MiB | RSS with them MiB | KiB/conn | ×%s |\n", r.Baseline)
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: |\n")
	base, _ := r.get(r.Baseline, sc.Name)
	for _, s := range r.Servers {
		m, ok := r.get(s, sc.Name)
		switch {
		case !ok:
			continue
		case m.Err != "":
			fmt.Fprintf(b, "| %s | failed: %s | | | | |\n", s, oneLine(m.Err))
			continue
		}
		fmt.Fprintf(b, "| %s | %d | %.1f | %.1f | %.2f | %s |\n", s, m.IdleConns,
			float64(m.BaseRSS)/(1<<20), float64(m.RSS)/(1<<20), m.PerConnRSS/1024,
			ratio(m.PerConnRSS, base.PerConnRSS))
	}
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// CPU formats a CPU time per message in µs with three significant digits
// (two decimals from 1 µs up), so that ratios read off the table hold to
// about 1%.
func CPU(d time.Duration) string {
	if us := micros(d); us < 1 {
		return fmt.Sprintf("%.3f", us)
	}
	return fmt.Sprintf("%.2f", micros(d))
}

// Thousands formats v rounded, with commas between groups of three digits.
func Thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// Latency formats d in µs below 10 ms and in ms above.
func Latency(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.0f µs", micros(d))
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
