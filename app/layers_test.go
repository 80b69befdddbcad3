package app

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The layers of the module, top to bottom, as the README's Layout section
// draws them. A package may import packages of its own layer or of a layer
// below it, never one above; the view layer may import only the foundation.
// TestLayers reads every non-test Go file's imports and fails on a package
// that is in no layer or on an import against this order, so the picture in
// the README stays true.
type layer struct {
	name     string
	packages []string // import paths under the module; a trailing "/..." takes the subtree
}

var layers = []layer{ // top first
	{"wiring", []string{"cmd/...", "app", "server", "demo", "backup", "bench/...", "search/relevance", "e2e"}},
	{"domain", []string{"catalog", "access", "sharing", "publish", "ingest", "ingest/ingesttest", "query", "synonyms"}},
	{"service", []string{"audit", "auth", "calendar", "notify", "notify/notifytest", "workflow", "jobs", "refcache"}},
	{"view", []string{"frontend", "openapi"}},
	{"backend", []string{"db", "db/dbtest", "blob", "blob/blobtest", "search", "search/searchtest", "ratelimit", "ratelimit/ratelimittest"}},
	{"foundation", []string{"errs", "i18n", "config", "csvsafe", "logs", "metrics", "deploy"}},
}

// Imports against the order that are known and named, each with the reason
// it is still there. Removing the reason removes the exception.
var layerExceptions = map[string]string{
	"config -> ratelimit": "config parses rate-limit tiers into ratelimit.Rate, the type the limiter takes",
}

const modulePath = "opendata"

func layerOf(pkg string) (int, bool) {
	for i, l := range layers {
		for _, p := range l.packages {
			if p == pkg || (strings.HasSuffix(p, "/...") && (pkg == strings.TrimSuffix(p, "/...") || strings.HasPrefix(pkg, strings.TrimSuffix(p, "...")))) {
				return i, true
			}
		}
	}
	return 0, false
}

func allowed(from, to string) bool {
	fi, _ := layerOf(from)
	ti, ok := layerOf(to)
	if !ok {
		return false
	}
	if layers[fi].name == "view" {
		return layers[ti].name == "foundation" || from == to
	}
	return ti >= fi
}

// moduleImports maps each package directory (relative to the module root) to
// the module packages its non-test files import.
func moduleImports(t *testing.T, root string) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		if strings.Contains(f.Name.Name, "_test") {
			return nil
		}
		for _, c := range f.Comments {
			if c.Pos() < f.Package && strings.Contains(c.Text(), "go:build ignore") {
				return nil
			}
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if out[rel] == nil {
			out[rel] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == modulePath || strings.HasPrefix(p, modulePath+"/") {
				out[rel][strings.TrimPrefix(strings.TrimPrefix(p, modulePath), "/")] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLayers(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found from app/: %v", err)
	}
	imports := moduleImports(t, root)
	if len(imports) < 20 {
		t.Fatalf("found only %d packages under %s", len(imports), root)
	}
	used := map[string]bool{}
	var pkgs []string
	for p := range imports {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, p := range pkgs {
		if _, ok := layerOf(p); !ok {
			t.Errorf("package %s is in no layer: add it to the layers in app/layers_test.go and to the README's Layout", p)
			continue
		}
		for dep := range imports[p] {
			if allowed(p, dep) {
				continue
			}
			key := p + " -> " + dep
			if _, ok := layerExceptions[key]; ok {
				used[key] = true
				continue
			}
			fi, _ := layerOf(p)
			ti, ok := layerOf(dep)
			to := "no layer"
			if ok {
				to = layers[ti].name
			}
			t.Errorf("%s (%s) imports %s (%s): against the layers", p, layers[fi].name, dep, to)
		}
	}
	for key := range layerExceptions {
		if !used[key] {
			t.Errorf("exception %q is no longer needed: remove it", key)
		}
	}
}

// The rule itself, on cases that must pass and fail.
func TestLayerRule(t *testing.T) {
	cases := []struct {
		from, to string
		ok       bool
	}{
		{"server", "sharing", true},
		{"sharing", "catalog", true},
		{"sharing", "audit", true},
		{"catalog", "server", false},
		{"db", "catalog", false},
		{"audit", "publish", false},
		{"frontend", "i18n", true},
		{"frontend", "catalog", false},
		{"frontend", "db", false},
		{"errs", "db", false},
		{"bench/portal", "server", true},
		{"cmd/opendata", "app", true},
		{"search", "nowhere", false},
	}
	for _, c := range cases {
		if got := allowed(c.from, c.to); got != c.ok {
			t.Errorf("allowed(%s -> %s) = %v, want %v", c.from, c.to, got, c.ok)
		}
	}
}
