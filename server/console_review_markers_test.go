package server

import (
	"testing"

	"opendata/catalog"
	"opendata/i18n"
	"opendata/ingest"
)

// The version page says which null markers a column's nulls came from.
func TestReportViewNullMarkers(t *testing.T) {
	q := &ingest.Report{RowsStored: 10, Columns: []ingest.ColumnQuality{
		{Name: "床位数", Type: "int", Nulls: 4, NullMarkers: []ingest.MarkerCount{{Value: "未填报", Count: 3}, {Value: "—", Count: 1}}},
		{Name: "机构", Type: "string"},
	}}
	for lang, want := range map[string]string{i18n.ZH: "3 × 未填报、1 × —", i18n.EN: "3 × 未填报, 1 × —"} {
		var v reviewView
		reportView(lang, &v, q, catalog.Version{})
		if v.Columns[0].Markers != want || v.Columns[1].Markers != "" {
			t.Errorf("%s: %q / %q, want %q", lang, v.Columns[0].Markers, v.Columns[1].Markers, want)
		}
	}
}
