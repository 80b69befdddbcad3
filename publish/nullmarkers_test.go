package publish_test

import (
	"testing"

	"opendata/auth"
	"opendata/catalog"
	"opendata/ingest"
	"opendata/publish"
)

// The public sees a column's null-marker counts where it sees the column's
// statistics: readable columns of open data only.
func TestPublicStatisticsNullMarkers(t *testing.T) {
	marks := []ingest.MarkerCount{{Value: "无", Count: 3}, {Value: "-", Count: 1}}
	rep := ingest.Report{Columns: []ingest.ColumnQuality{{Name: "床位数", Type: catalog.ColInt, Nulls: 4, NullMarkers: marks},
		{Name: "电话", Type: catalog.ColString, Nulls: 2, NullMarkers: marks}}}
	v := catalog.Version{Columns: []catalog.VersionColumn{{Name: "床位数", Type: catalog.ColInt, Open: catalog.TreatKept},
		{Name: "电话", Type: catalog.ColString, Open: catalog.TreatMasked}}}
	for _, tc := range []struct {
		name string
		open catalog.OpenType
		want map[string]int // column → markers shown
	}{
		{"open data", catalog.OpenUnconditional, map[string]int{"床位数": 2}},
		{"on application", catalog.OpenOnApplication, map[string]int{}},
	} {
		r := catalog.Resource{ID: 1, Entry: catalog.Entry{OpenType: tc.open, DepartmentID: 9}, PublishedVersion: 1}
		st := publish.PublicStatistics(rep, r, v, auth.Actor{}, 3)
		got := map[string]int{}
		for _, c := range st.Columns {
			got[c.Name] = len(c.NullMarkers)
			if c.Name == "床位数" && (c.NullMarkers[0] != marks[0] || c.Nulls != 4) {
				t.Errorf("%s: %+v", tc.name, c)
			}
		}
		if len(got) != len(tc.want) || got["床位数"] != tc.want["床位数"] {
			t.Errorf("%s: markers by column %v, want %v", tc.name, got, tc.want)
		}
	}
}
