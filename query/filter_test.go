package query

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"opendata/catalog"
	"opendata/i18n"
)

func TestParseFilter(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"town eq 舞阳坝", `"town" eq '舞阳坝'`},
		{"town eq '舞阳 坝'", `"town" eq '舞阳 坝'`},
		{`"站 名" ne 'it''s'`, `"站 名" ne 'it''s'`},
		{"age ge 60 and town eq a", `("age" ge '60') and ("town" eq 'a')`},
		{"a eq 1 or b eq 2 and c eq 3", `("a" eq '1') or (("b" eq '2') and ("c" eq '3'))`},
		{"(a eq 1 or b eq 2) and c eq 3", `(("a" eq '1') or ("b" eq '2')) and ("c" eq '3')`},
		{"a IN (1, '2',3)", `"a" in ('1', '2', '3')`},
		{"note is null", `"note" is null`},
		{"note IS NOT NULL", `"note" is not null`},
		{"name contains 站 and code prefix 42", `("name" contains '站') and ("code" prefix '42')`},
		{"d lt 2024-01-01", `"d" lt '2024-01-01'`},
	} {
		e, err := ParseFilter(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := e.String(); got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.in, got, tc.want)
		}
	}
}

// syntaxErrorCases are filters that do not parse, with a part of the
// English message.
var syntaxErrorCases = []struct{ in, want string }{
	{"", "empty"},
	{"town", "expected an operator"},
	{"town equals x", `unknown operator "equals"`},
	{"town eq", "expected a value"},
	{"town eq 'x", "never closed"},
	{"town eq x and", "expected a column name"},
	{"(town eq x", "expected )"},
	{"town eq x)", `unexpected ")"`},
	{"town in 1,2", "expected ("},
	{"town in (1 2)", "expected , or )"},
	{"town eq null", "is null"},
	{"town is nul", "expected null"},
	{"and eq 1", "needs a condition"},
	{"town eq '1'; DROP TABLE x", `unexpected ";"`},
	{"a in (" + strings.Repeat("1,", MaxInValues) + "1)", "more than 200 values"},
	{strings.Repeat("(", 40) + "a eq 1" + strings.Repeat(")", 40), "nest deeper"},
	{strings.Repeat("a eq 1 and ", 60) + "a eq 1", "more than 50 conditions"},
	{strings.Repeat("x", MaxFilterBytes+1), "at most 4000"},
	{"a eq \x01", "control characters"},
	{"a eq 1 and (b eq 2", "expected ) to close the parenthesis at character 12"},
	{"town in (", "found the end of the filter; expected a value in the in list"},
	{"town in (1,", "expected a value in the in list"},
	{"\xff", "not valid UTF-8"},
}

func TestParseFilterErrors(t *testing.T) {
	for _, tc := range syntaxErrorCases {
		_, err := ParseFilter(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}

// FuzzParseFilter: any input either parses into an expression whose text
// parses back to the same text, or fails with a positioned error; it never
// panics. The seed corpus is in testdata/fuzz/FuzzParseFilter.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"town eq 舞阳坝", "a in (1,2) or b is not null", "(x lt '2024-01-01' and y ge 3)", `"a""b" contains 'c''d'`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseFilter(s)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("%q: error of type %T", s, err)
			}
			return
		}
		again, err := ParseFilter(e.String())
		if err != nil {
			t.Fatalf("%q printed as %q which does not parse: %v", s, e.String(), err)
		}
		if again.String() != e.String() {
			t.Fatalf("%q: round trip changed %q to %q", s, e.String(), again.String())
		}
	})
}

// Every error the query package shows a person is a catalog message about
// a named parameter, in both languages: every key written in the package
// is in both catalogs, every filter syntax error renders in Chinese and in
// English without a missing key, and no parameter error is English text
// (errs.FieldErrors with words, fmt.Errorf reaching a field).
func TestQueryErrorsAreInTheCatalog(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`"(err\.query\.[a-z_.]+)"`)
	english := regexp.MustCompile(`errs\.FieldErrors\{[^}]*"[^"]*[a-z]{3,}[^"]* [^"]*"`)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range key.FindAllStringSubmatch(string(b), -1) {
			k := m[1]
			if strings.HasSuffix(k, ".") { // a prefix: err.query.value.<column type>
				for _, typ := range catalog.ColumnTypes {
					checkKey(t, f, k+string(typ))
				}
				continue
			}
			n++
			checkKey(t, f, k)
		}
		if m := english.Find(b); m != nil {
			t.Errorf("%s: English text for a parameter: %s", f, m)
		}
	}
	if n < 50 {
		t.Fatalf("found only %d keys", n)
	}
	for _, in := range syntaxErrorCases {
		_, err := ParseFilter(in.in)
		se, ok := err.(*SyntaxError)
		if !ok {
			t.Errorf("%q: %T %v", in.in, err, err)
			continue
		}
		zh, en := se.Text("zh-CN"), se.Text("en")
		if strings.Contains(zh+en, i18n.Missing) || strings.Contains(zh+en, "{") || !hasHan(zh) || hasHan(en) {
			t.Errorf("%q: zh %q, en %q", in.in, zh, en)
		}
		if se.Public().Field != "filter" {
			t.Errorf("%q: the error is not about the filter parameter", in.in)
		}
	}
}

func checkKey(t *testing.T, file, k string) {
	t.Helper()
	for _, lang := range []string{i18n.ZH, i18n.EN} {
		if !slices.Contains(i18n.Keys(lang), k) {
			t.Errorf("%s: %s is not in the %s catalog", file, k, lang)
		}
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}
