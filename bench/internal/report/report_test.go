package report

import (
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func sample() *Report {
	return &Report{
		Date:     time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		Baseline: "net",
		Servers:  []string{"net", "twist-ondata", "a<b&c"},
		Skipped:  map[string]string{"twisted": "python3 cannot import twisted"},
		Scenarios: []Scenario{
			{Name: "50x64", Title: "50 conns × 64 B lockstep"},
			{Name: "idle", Title: "idle conns", Idle: true},
		},
		Results: map[string]map[string]Measure{
			"net": {
				"50x64": {Rate: 100000, P50: 400 * time.Microsecond, P99: 900 * time.Microsecond, CPUPerMsg: 4 * time.Microsecond, CPUUtil: 0.4, RSS: 8 << 20},
				"idle":  {IdleConns: 100, BaseRSS: 4 << 20, RSS: 5 << 20, PerConnRSS: 10486},
			},
			"twist-ondata": {
				"50x64": {Rate: 150000, P50: 300 * time.Microsecond, P99: 20 * time.Millisecond, CPUPerMsg: 2 * time.Microsecond, CPUUtil: 0.3, RSS: 6 << 20},
				"idle":  {Err: "boom | with a pipe"},
			},
		},
	}
}

func TestMarkdown(t *testing.T) {
	md := sample().Markdown()
	for _, want := range []string{
		"| net | 100,000 | 1.00x | 400 µs | 900 µs | 4.00 | 1.00x | – | 40% | 0% | 8.0 |",
		"| twist-ondata | 150,000 | 1.50x | 300 µs | 20.0 ms | 2.00 | 0.50x | – | 30% | 0% | 6.0 |",
		"| net | 100 | 4.0 | 5.0 | 10.24 | 1.00x |",
		"| twist-ondata | failed: boom / with a pipe |",
		"- `twisted`: python3 cannot import twisted",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestSVGIsWellFormed(t *testing.T) {
	svg, err := sample().SVG()
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(string(svg)))
	rects := 0
	for {
		tok, err := d.Token()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	if rects < 5 {
		t.Errorf("SVG has %d rects; want bars", rects)
	}
	if !strings.Contains(string(svg), "a&lt;b&amp;c") {
		t.Errorf("server name not escaped:\n%s", svg)
	}
}

func TestThousands(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567.4, "1,234,567"}, {-12345, "-12,345"}} {
		if got := Thousands(tc.v); got != tc.want {
			t.Errorf("Thousands(%v) = %q; want %q", tc.v, got, tc.want)
		}
	}
}

func TestMedianAndSpread(t *testing.T) {
	runs := []Measure{
		{Rate: 300, CPUPerMsg: 9 * time.Microsecond, RSS: 30, P99: 3 * time.Millisecond},
		{Rate: 100, CPUPerMsg: 5 * time.Microsecond, RSS: 10, P99: 1 * time.Millisecond},
		{Rate: 200, CPUPerMsg: 6 * time.Microsecond, RSS: 20, P99: 2 * time.Millisecond},
	}
	got := Median(runs)
	want := Measure{Rate: 200, CPUPerMsg: 6 * time.Microsecond, RSS: 20, P99: 2 * time.Millisecond}
	if got != want {
		t.Errorf("Median of 3 = %+v; want %+v", got, want)
	}
	if got := Median(runs[:2]); got.Rate != 200 || got.CPUPerMsg != 7*time.Microsecond {
		t.Errorf("Median of 2 = %+v; want the means of the two: rate 200, CPU 7µs", got)
	}
	failed := append(slices.Clone(runs), Measure{Err: "refused"})
	if got := Median(failed); got.Err != "rep 4 of 4: refused" {
		t.Errorf("Median with a failed rep = %+v; want its error", got)
	}

	r := sample()
	r.Reps = 3
	r.Runs = map[string]map[string][]Measure{"net": {"50x64": runs}}
	r.Results["net"]["50x64"] = Median(runs)
	if v, ok := r.Spread("net", "50x64"); !ok || v != 4.0/6 {
		t.Errorf("Spread = %v, %v; want (9-5)/6, true", v, ok)
	}
	if _, ok := r.Spread("twist-ondata", "50x64"); ok {
		t.Error("Spread with no reps recorded reports ok")
	}
	md := r.Markdown()
	for _, want := range []string{
		"| net | 200 | 1.00x | 0 µs | 2000 µs | 6.00 | 1.00x | 67% | 0% | 0% | 0.0 |",
		"median of 3 repetitions",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestCPU(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{456 * time.Nanosecond, "0.456"}, {7214 * time.Nanosecond, "7.21"}, {13480 * time.Nanosecond, "13.48"}} {
		if got := CPU(tc.d); got != tc.want {
			t.Errorf("CPU(%v) = %q; want %q", tc.d, got, tc.want)
		}
	}
}
