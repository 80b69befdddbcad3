package publish

import (
	"testing"

	"opendata/catalog"
)

func TestExampleFilter(t *testing.T) {
	cols := []catalog.VersionColumn{
		{Name: "编号", Type: "int", Open: catalog.TreatKept},
		{Name: "负责人", Type: "string", Open: catalog.TreatMasked},
		{Name: "备注", Type: "string", Open: catalog.TreatKept},
		{Name: "站点名称", Type: "string", Open: catalog.TreatKept},
	}
	header := []string{"编号", "负责人", "备注", "站点名称"}
	cases := []struct {
		name     string
		row      []string
		col, val string
		ok       bool
	}{
		{"first kept text", []string{"1", "张*", "", "舞阳坝"}, "站点名称", "舞阳坝", true},
		{"note filled", []string{"1", "张*", "临时站", "舞阳坝"}, "备注", "临时站", true},
		{"quote skipped", []string{"1", "张*", "O'Neil", "舞阳坝"}, "站点名称", "舞阳坝", true},
		{"dollar skipped", []string{"1", "张*", "$HOME", "a\"b"}, "", "", false},
		{"short row", []string{"1"}, "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			col, val, ok := ExampleFilter(cols, header, c.row)
			if col != c.col || val != c.val || ok != c.ok {
				t.Errorf("got %q %q %v, want %q %q %v", col, val, ok, c.col, c.val, c.ok)
			}
		})
	}
}
