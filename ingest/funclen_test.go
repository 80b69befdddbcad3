package ingest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is the longest a function in ingest/ may be (from its func
// line to its closing brace) without a reason: a line starting "long:" in
// its doc comment that says why it is not split.
const maxFuncLines = 80

// Issue 12: no function in ingest/ over maxFuncLines lines unless its
// comment says why, so the converter stays split by concern.
func TestNoLongFunctionsWithoutAReason(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("ingesttest/*.go")
	fs := token.NewFileSet()
	for _, name := range append(files, more...) {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fs, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			lines := fs.Position(fd.End()).Line - fs.Position(fd.Pos()).Line + 1
			if lines > maxFuncLines && !hasLongReason(fd.Doc) {
				t.Errorf("%s:%d: %s is %d lines (over %d): split it, or say why not in a \"// long:\" line of its comment",
					name, fs.Position(fd.Pos()).Line, fd.Name.Name, lines, maxFuncLines)
			}
		}
	}
}

func hasLongReason(doc *ast.CommentGroup) bool {
	if doc == nil {
		return false
	}
	for _, c := range doc.List {
		if strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(c.Text, "//")), "long:") {
			return true
		}
	}
	return false
}
