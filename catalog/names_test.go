package catalog

import "testing"

func TestNameIn(t *testing.T) {
	d := Department{Name: "交通运输局", NameEn: "Transport Bureau"}
	e := Entry{Name: "公交站点", NameEn: "Bus stops"}
	for _, c := range []struct{ lang, dept, entry string }{
		{"zh-CN", "交通运输局", "公交站点"},
		{"en", "Transport Bureau", "Bus stops"},
		{"en-US", "Transport Bureau", "Bus stops"},
	} {
		if got := d.NameIn(c.lang); got != c.dept {
			t.Errorf("%s: department %q, want %q", c.lang, got, c.dept)
		}
		if got := e.NameIn(c.lang); got != c.entry {
			t.Errorf("%s: entry %q, want %q", c.lang, got, c.entry)
		}
	}
	// No English name: the Chinese one, in English too.
	if got := (Department{Name: "卫健局"}).NameIn("en"); got != "卫健局" {
		t.Errorf("fallback: %q", got)
	}
	if got := (Entry{Name: "医院"}).NameIn("en"); got != "医院" {
		t.Errorf("fallback: %q", got)
	}
}
