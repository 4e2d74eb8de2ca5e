// Command headline writes the performance headlines of bench/README.md and of
// the repository's README.md from one results file of cmd/compare
// (results/<date>.json), so that every figure the READMEs quote is a figure of
// the run they cite. Run it from bench/:
//
//	go run ./cmd/headline results/2026-12-10.json
//	go run ./cmd/headline -w README.md -w ../README.md results/2026-12-10.json
//
// Without -w it prints both headlines. With -w it rewrites, in each file
// named, the text between the lines
//
//	<!-- headline:bench begin -->   and   <!-- headline:bench end -->
//	<!-- headline:readme begin -->  and   <!-- headline:readme end -->
//
// (whichever pairs the file holds; a file with neither is an error) and
// leaves the rest of the file as it is. Links to the results are made
// relative to each file.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/twistgo/twist/bench/internal/report"
)

type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	var write files
	flag.Var(&write, "w", "rewrite the headline blocks of this Markdown file (repeatable)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: headline [-w FILE.md]... results/DATE.json")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), write); err != nil {
		fmt.Fprintln(os.Stderr, "headline:", err)
		os.Exit(1)
	}
}

func run(results string, write []string) error {
	rep, err := load(results)
	if err != nil {
		return err
	}
	// The Markdown tables of the same run sit beside the JSON.
	md := strings.TrimSuffix(results, filepath.Ext(results)) + ".md"
	if len(write) == 0 {
		link := filepath.ToSlash(md)
		fmt.Printf("%s\n%s\n%s\n\n%s\n%s\n%s\n",
			begin("bench"), benchHeadline(rep, link), end("bench"),
			begin("readme"), readmeHeadline(rep, link), end("readme"))
		return nil
	}
	for _, path := range write {
		if err := rewrite(path, rep, md); err != nil {
			return err
		}
	}
	return nil
}

func load(path string) (*report.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep report.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rep.Servers) == 0 || len(rep.Scenarios) == 0 {
		return nil, fmt.Errorf("%s: no servers or scenarios: not a results file of cmd/compare", path)
	}
	return &rep, nil
}

func begin(block string) string { return "<!-- headline:" + block + " begin -->" }
func end(block string) string   { return "<!-- headline:" + block + " end -->" }

// errNoBlock says a file given to -w holds no headline block.
var errNoBlock = errors.New("no headline block (<!-- headline:bench begin --> or <!-- headline:readme begin -->)")

// rewrite replaces the headline blocks of the Markdown file at path,
// linking to md relative to the file.
func rewrite(path string, rep *report.Report, md string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	link, err := relLink(path, md)
	if err != nil {
		return err
	}
	text := string(data)
	found := false
	for block, body := range map[string]string{"bench": benchHeadline(rep, link), "readme": readmeHeadline(rep, link)} {
		var ok bool
		text, ok, err = replaceBlock(text, block, body)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		found = found || ok
	}
	if !found {
		return fmt.Errorf("%s: %w", path, errNoBlock)
	}
	return os.WriteFile(path, []byte(text), 0o644)
}

// replaceBlock puts body between the begin and end lines of block in text.
// A marker counts only as a line of its own, so that prose quoting it (as
// bench/README.md does) is left alone. ok is false when text has no such
// block.
func replaceBlock(text, block, body string) (out string, ok bool, err error) {
	b, e := begin(block), end(block)
	i := markerLine(text, b)
	if i < 0 {
		return text, false, nil
	}
	j := markerLine(text[i:], e)
	if j < 0 {
		return text, false, fmt.Errorf("%q without %q after it", b, e)
	}
	return text[:i] + b + "\n" + body + "\n" + text[i+j:], true, nil
}

// markerLine returns the offset of the first line of text that is marker,
// or -1.
func markerLine(text, marker string) int {
	for off := 0; off < len(text); {
		line, _, _ := strings.Cut(text[off:], "\n")
		if strings.TrimSpace(line) == marker {
			return off
		}
		off += len(line) + 1
	}
	return -1
}

// relLink is target's path relative to the directory of the file at from,
// with forward slashes, for a Markdown link.
func relLink(from, target string) (string, error) {
	absFrom, err := filepath.Abs(filepath.Dir(from))
	if err != nil {
		return "", err
	}
	absTarget, err := filepath.Abs(target)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(absFrom, absTarget)
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(rel), nil
}
