// Package docs_test checks that the Go names the documentation speaks of
// exist: every qualified name (deferredtcp.Conn, reactor.Reactor.Schedule,
// r.Schedule, ...) in the files listed in docFiles must resolve as `go doc`
// resolves it. The check reads the packages' sources with go/parser, so it
// runs in milliseconds; -godoc runs `go doc` itself on each name as well:
//
//	go test ./docs -args -godoc
package docs_test

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var runGoDoc = flag.Bool("godoc", false, "also run `go doc` on every name (slow)")

// docFiles are the documents checked, relative to this directory. In
// twistedOnLeft, a table's first column holds Twisted's names and is not
// checked.
var (
	docFiles      = []string{"twisted-to-twist.md", "concepts.md", "../README.md"}
	twistedOnLeft = map[string]bool{"twisted-to-twist.md": true}
)

// packages maps the names the documents qualify names with to the
// packages' directories, relative to this directory.
var packages = map[string]string{
	"failure":         "../failure",
	"deferred":        "../defer",
	"deferredtest":    "../defer/deferredtest",
	"reactor":         "../reactor",
	"deferredtcp":     "../deferredtcp",
	"deferredtcptest": "../deferredtcp/deferredtcptest",
	"service":         "../service",
}

// receivers maps the variable names the documents use for values (as
// twisted-to-twist.md says in its introduction) to their types.
var receivers = map[string]string{
	"r":    "reactor.Reactor",
	"lc":   "reactor.LoopingCall",
	"dc":   "reactor.DelayedCall",
	"coop": "reactor.Cooperator",
	"ct":   "reactor.CooperativeTask",
	"d":    "deferred.Deferred",
	"f":    "failure.Failure",
	"c":    "deferredtcp.Conn",
	"l":    "deferredtcp.Listener",
	"t":    "deferredtcp.Transport",
}

// pending lists names that work in progress adds to existing packages:
// while one does not resolve it is only logged. Once it resolves, the test
// fails until it is taken off this list, which is to be empty once that
// work is merged. (The names of a package whose directory does not exist
// yet are pending too, with no need to be listed.)
var pending = map[string]bool{}

// qualified matches pkg.Name and pkg.Type.Member, and var.Member for the
// variables of receivers; Go names start with a capital letter, which
// keeps Twisted's (reactor.callLater, d.addCallback) out.
var qualified = regexp.MustCompile(`\b([a-z]+)\.([A-Z][A-Za-z0-9_]*)(?:\.([A-Z][A-Za-z0-9_]*))?`)

var codeSpan = regexp.MustCompile("`[^`]+`")

func TestDocumentedNamesResolve(t *testing.T) {
	index := map[string]*pkgIndex{}
	for name, dir := range packages {
		index[name] = loadPackage(t, dir)
	}
	names := map[string][]string{} // name -> where it appears
	for _, file := range docFiles {
		for _, n := range documentedNames(t, file) {
			names[n.name] = append(names[n.name], n.where)
		}
	}
	if len(names) < 20 {
		t.Fatalf("found only %d names: is the extraction broken?", len(names))
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	unresolved := 0
	for _, n := range sorted {
		ok := resolves(index, n)
		pkg, _, _ := strings.Cut(n, ".")
		switch {
		case !ok && index[pkg].missing:
			t.Logf("package %s does not exist yet: %s (%s)", pkg, n, names[n][0])
			unresolved++
		case ok && pending[n]:
			t.Errorf("%s resolves now: take it off the pending list", n)
		case !ok && pending[n]:
			t.Logf("pending, does not resolve yet: %s (%s)", n, names[n][0])
			unresolved++
		case !ok:
			t.Errorf("%s does not resolve (%s)", n, strings.Join(names[n], ", "))
		}
		if ok && *runGoDoc {
			goDoc(t, n)
		}
	}
	t.Logf("%d names checked, %d pending", len(sorted), unresolved)
}

type docName struct{ name, where string }

// documentedNames returns the qualified names in file's code spans.
func documentedNames(t *testing.T, file string) []docName {
	t.Helper()
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []docName
	for i, line := range strings.Split(string(text), "\n") {
		if twistedOnLeft[file] && strings.HasPrefix(line, "|") {
			cells := strings.SplitN(line, "|", 3)
			if len(cells) == 3 {
				line = cells[2] // the twist and notes columns
			}
		}
		for _, span := range codeSpan.FindAllString(line, -1) {
			for _, m := range qualified.FindAllStringSubmatch(span, -1) {
				name := qualify(m[1], m[2], m[3])
				if name != "" {
					out = append(out, docName{name, filepath.Base(file) + ":" + strconv.Itoa(i+1)})
				}
			}
		}
	}
	return out
}

// qualify turns a match into pkg.Name or pkg.Type.Member, or "" if its
// qualifier is neither a package nor a receiver.
func qualify(q, a, b string) string {
	if typ, ok := receivers[q]; ok {
		return typ + "." + a // b, if any, is a member of what a returns: unchecked
	}
	if _, ok := packages[q]; !ok {
		return ""
	}
	if b != "" {
		return q + "." + a + "." + b
	}
	return q + "." + a
}

// pkgIndex is what go doc finds in a package: its exported top-level
// names, and the exported methods and fields of each type.
type pkgIndex struct {
	missing bool // the package's directory does not exist
	top     map[string]bool
	members map[string]map[string]bool
}

func loadPackage(t *testing.T, dir string) *pkgIndex {
	t.Helper()
	idx := &pkgIndex{top: map[string]bool{}, members: map[string]map[string]bool{}}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		idx.missing = true // a package still to be written: its names are pending
		return idx
	}
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		idx.add(f)
	}
	return idx
}

func (idx *pkgIndex) member(typ, name string) {
	if !ast.IsExported(name) {
		return
	}
	if idx.members[typ] == nil {
		idx.members[typ] = map[string]bool{}
	}
	idx.members[typ][name] = true
}

func (idx *pkgIndex) add(f *ast.File) {
	for _, decl := range f.Decls {
		switch decl := decl.(type) {
		case *ast.FuncDecl:
			if decl.Recv == nil {
				if decl.Name.IsExported() {
					idx.top[decl.Name.Name] = true
				}
				continue
			}
			idx.member(receiverType(decl.Recv.List[0].Type), decl.Name.Name)
		case *ast.GenDecl:
			for _, spec := range decl.Specs {
				switch spec := spec.(type) {
				case *ast.TypeSpec:
					if spec.Name.IsExported() {
						idx.top[spec.Name.Name] = true
					}
					idx.addTypeMembers(spec.Name.Name, spec.Type)
				case *ast.ValueSpec:
					for _, n := range spec.Names {
						if n.IsExported() {
							idx.top[n.Name] = true
						}
					}
				}
			}
		}
	}
}

func (idx *pkgIndex) addTypeMembers(typ string, expr ast.Expr) {
	var fields *ast.FieldList
	switch e := expr.(type) {
	case *ast.StructType:
		fields = e.Fields
	case *ast.InterfaceType:
		fields = e.Methods
	default:
		return
	}
	for _, field := range fields.List {
		if len(field.Names) == 0 { // embedded: its type's name is the field's
			idx.member(typ, receiverType(field.Type))
		}
		for _, n := range field.Names {
			idx.member(typ, n.Name)
		}
	}
}

// receiverType returns the name of the type in a receiver or an embedded
// field: T, *T, T[P], pkg.T.
func receiverType(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.SelectorExpr:
			return x.Sel.Name
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

// resolves reports whether go doc finds name: pkg.Name or pkg.Type.Member.
func resolves(index map[string]*pkgIndex, name string) bool {
	parts := strings.Split(name, ".")
	idx := index[parts[0]]
	if !idx.top[parts[1]] {
		return false
	}
	return len(parts) == 2 || idx.members[parts[1]][parts[2]]
}

// goDoc runs go doc on name, failing t if it finds nothing.
func goDoc(t *testing.T, name string) {
	t.Helper()
	pkg, sym, _ := strings.Cut(name, ".")
	path := "github.com/twistgo/twist/" + strings.TrimPrefix(packages[pkg], "../")
	out, err := exec.Command("go", "doc", "-short", path, sym).CombinedOutput()
	if err != nil {
		t.Errorf("go doc %s %s: %v\n%s", path, sym, err, out)
	}
}
