package server_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestServerSpeaksOnlyHTTP keeps the layering of design §2: server/ calls
// domain functions and never talks SQL, Parquet or DuckDB itself.
func TestServerSpeaksOnlyHTTP(t *testing.T) {
	forbidden := []string{"opendata/db", "github.com/apache/arrow-go/", "github.com/duckdb/"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if path == bad || (strings.HasSuffix(bad, "/") && strings.HasPrefix(path, bad)) || strings.HasPrefix(path, bad+"/") {
					t.Errorf("%s imports %s: move that work into a domain package and call it", name, path)
				}
			}
		}
	}
}
