package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twistgo/twist/bench/internal/report"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var twistServers = []string{"twist-chain", "twist-ondata", "twist-portable", "twist-adapter"}

// TestCompareShort builds the harness and runs it, as a user would, against
// the twist servers, net, gnet and nbio, two short reps each with a few
// connections, then checks the table, the chart, the JSON results, that
// every server exited cleanly on SIGTERM and that no server process remains.
func TestCompareShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "compare")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "results")
	servers := append(append([]string{}, twistServers...), "net", "gnet", "nbio")
	cmd := exec.CommandContext(ctx, bin,
		"-servers", strings.Join(servers, ","), "-scenarios", "50x64,idle", "-reps", "2",
		"-warmup", "100ms", "-duration", "400ms", "-max-conns", "4", "-idle-conns", "100",
		"-out", out, "-date", "2001-02-03")
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	err := cmd.Run()
	log := stdout.String()
	if err != nil {
		t.Fatalf("compare: %v\n%s", err, log)
	}
	checkNoServerLeft(t, log)
	checkCleanExits(t, log)

	md, err := os.ReadFile(filepath.Join(out, "2001-02-03.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\| ([a-z-]+) \| ([\d,]+) \| [\d.]+x \| \d+ µs \| [\d.]+ (?:µs|ms) \| [\d.]+ \| [\d.]+x \| \d+% \| \d+% \| \d+% \| [\d.]+ \|$`)
	idleRow := regexp.MustCompile(`(?m)^\| ([a-z-]+) \| 100 \| [\d.]+ \| [\d.]+ \| -?[\d.]+ \| -?[\d.]+x \|$`)
	rows := map[string]int{}
	for _, m := range row.FindAllStringSubmatch(string(md), -1) {
		rows[m[1]]++
	}
	idle := map[string]bool{}
	for _, m := range idleRow.FindAllStringSubmatch(string(md), -1) {
		idle[m[1]] = true
	}
	for _, s := range servers {
		if rows[s] != 1 || !idle[s] {
			t.Errorf("%s: %d load rows and idle row %v in the table; want 1 and true\n%s\n%s", s, rows[s], idle[s], md, log)
		}
	}

	data, err := os.ReadFile(filepath.Join(out, "2001-02-03.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("the JSON results: %v", err)
	}
	if !slices.Equal(rep.Servers, servers) || rep.Reps != 2 {
		t.Errorf("JSON: servers %v, reps %d; want %v, 2", rep.Servers, rep.Reps, servers)
	}
	for _, s := range servers {
		for sc, want := range map[string]int{"50x64": 2, "idle": 1} {
			runs := rep.Runs[s][sc]
			if len(runs) != want {
				t.Errorf("JSON: %s %s has %d runs; want %d", s, sc, len(runs), want)
				continue
			}
			if got := rep.Results[s][sc]; got != report.Median(runs) {
				t.Errorf("JSON: %s %s result %+v is not the median of its runs %+v", s, sc, got, runs)
			}
		}
	}

	svg, err := os.ReadFile(filepath.Join(out, "2001-02-03.svg"))
	if err != nil {
		t.Fatal(err)
	}
	bars := 0
	d := xml.NewDecoder(bytes.NewReader(svg))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			for _, a := range se.Attr {
				if a.Name.Local == "fill" && strings.HasPrefix(a.Value, "#") && a.Value != "#ffffff" && a.Value != "#fafafa" {
					bars++
				}
			}
		}
	}
	if want := len(servers) * 3; bars != want { // a load scenario's 2 panels + idle
		t.Errorf("SVG has %d bars; want %d", bars, want)
	}
}

// checkCleanExits checks that the harness reported a clean exit on SIGTERM
// for every server it started.
func checkCleanExits(t *testing.T, log string) {
	t.Helper()
	clean := map[string]bool{}
	for _, m := range regexp.MustCompile(`stopped pid (\d+) \(clean exit\)`).FindAllStringSubmatch(log, -1) {
		clean[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`(\S+)\s+started pid (\d+)`).FindAllStringSubmatch(log, -1) {
		if !clean[m[2]] {
			t.Errorf("server %s (pid %s) did not exit cleanly on SIGTERM:\n%s", m[1], m[2], log)
		}
	}
}

// checkNoServerLeft finds every PID the harness reported starting and checks
// that no such process is alive (a PID reused by another program is told
// apart by its command line, which would not name a server binary).
func checkNoServerLeft(t *testing.T, log string) {
	t.Helper()
	started := regexp.MustCompile(`(\S+)\s+started pid (\d+)`).FindAllStringSubmatch(log, -1)
	if len(started) == 0 {
		t.Fatalf("the harness reported no server started:\n%s", log)
	}
	for _, m := range started {
		pid, _ := strconv.Atoi(m[2])
		cmdline, err := os.ReadFile("/proc/" + m[2] + "/cmdline")
		if err != nil {
			continue // gone
		}
		if strings.Contains(string(cmdline), m[1]) {
			t.Errorf("server %s (pid %d) is still running: %q", m[1], pid, cmdline)
		}
	}
}
