package report

import (
	"encoding/xml"
	"errors"
	"io"
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
		"| net | 100,000 | 1.00x | 400 µs | 900 µs | 4.00 | 1.00x | 40% | 0% | 8.0 |",
		"| twist-ondata | 150,000 | 1.50x | 300 µs | 20.0 ms | 2.00 | 0.50x | 30% | 0% | 6.0 |",
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
