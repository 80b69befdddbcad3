package query

import (
	"strings"
	"testing"
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

func TestParseFilterErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
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
	} {
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
