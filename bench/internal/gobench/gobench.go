// Package gobench runs `go test -bench` and parses its result lines.
package gobench

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// A Result is one benchmark line: its name without the -GOMAXPROCS suffix,
// the iteration count, and every value by unit ("ns/op", "B/op",
// "allocs/op", and custom metrics such as "ns/step").
type Result struct {
	Pkg     string
	Name    string
	N       int64
	Metrics map[string]float64
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// Parse reads `go test -bench` output; results take their package from the
// "pkg:" line before them.
func Parse(out string) []Result {
	var rs []Result
	pkg := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		r := Result{Pkg: pkg, Name: procsSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), ""), N: n, Metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			r.Metrics[f[i+1]] = v
		}
		rs = append(rs, r)
	}
	return rs
}

// Run runs `go test -run ^$ -bench pattern -benchmem -benchtime benchtime
// pkgs...` in dir and returns the parsed results and the raw output.
func Run(ctx context.Context, dir, pattern, benchtime string, pkgs ...string) ([]Result, string, error) {
	args := append([]string{"test", "-run", "^$", "-bench", pattern, "-benchmem", "-benchtime", benchtime}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, string(out), fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return Parse(string(out)), string(out), nil
}

// Find returns the result named name, if any.
func Find(rs []Result, name string) (Result, bool) {
	for _, r := range rs {
		if r.Name == name {
			return r, true
		}
	}
	return Result{}, false
}
