package search_test

import (
	"html"
	"strings"
	"testing"
	"unicode/utf8"

	"opendata/search"
)

// Characters whose lower-case form has another length in UTF-8 once made
// Highlight slice the original text at offsets of its lower-cased copy:
// "Ⱥ" (2 bytes, lower "ⱥ" 3 bytes) panicked with a 500, "İ" (2 bytes,
// lower "i" 1 byte) marked the wrong characters and cut others in half.
func TestHighlightCaseFoldingChangesLength(t *testing.T) {
	cases := []struct{ text, q, want string }{
		{"ȺȺȺ公交站点", "站点", "ȺȺȺ公交<mark>站点</mark>"},
		{"ȺȺȺȺȺȺȺȺ", "ⱥⱥ", "<mark>ȺȺȺȺȺȺȺȺ</mark>"},
		{"İstanbul 站点", "站点", "İstanbul <mark>站点</mark>"},
		{"İİİİ bus stops", "bus", "İİİİ <mark>bus</mark> stops"},
		{"ＰＭ２.５ 监测", "pm2.5", "<mark>ＰＭ２.５</mark> 监测"},
		{"KELVIN \u212a", "k", "<mark>K</mark>ELVIN <mark>\u212a</mark>"},
	}
	for _, c := range cases {
		if got := string(search.Highlight(c.text, c.q)); got != c.want {
			t.Errorf("Highlight(%q, %q) = %q, want %q", c.text, c.q, got, c.want)
		}
	}
}

// FuzzHighlight checks what must hold for any text and query: no panic,
// valid UTF-8 out of valid UTF-8 in, balanced marks, and the text itself
// unchanged once the marks are removed and the escaping undone.
func FuzzHighlight(f *testing.F) {
	for _, s := range [][2]string{
		{"ȺȺȺ公交站点", "站点"}, {"İstanbul", "i"}, {"公交<script>站点", "站点"}, {"Hourly Air quality", "AIR"},
		{"出租车站点与停靠区", "公交站点"}, {"\xff\xfe公交", "公交"}, {"ǅǆǄ", "ǆ"}, {"ß ẞ", "ß"}, {"ＡＢＣ", "abc"}, {"", "x"}, {"x", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, text, query string) {
		out := string(search.Highlight(text, query))
		if utf8.ValidString(text) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q / %q: %q", text, query, out)
		}
		if strings.Count(out, "<mark>") != strings.Count(out, "</mark>") {
			t.Fatalf("unbalanced marks: %q", out)
		}
		plain := html.UnescapeString(strings.ReplaceAll(strings.ReplaceAll(out, "<mark>", ""), "</mark>", ""))
		if utf8.ValidString(text) && plain != text {
			t.Fatalf("text changed: %q → %q", text, plain)
		}
		if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(out, "<mark>", ""), "</mark>", ""), "<") {
			t.Fatalf("unescaped markup in %q", out)
		}
	})
}
