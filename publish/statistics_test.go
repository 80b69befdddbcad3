package publish_test

import (
	"strings"
	"testing"

	"opendata/auth"
	"opendata/catalog"
	"opendata/ingest"
	"opendata/publish"
)

// statsFixture: a report with a kept text column (names, one of them rare),
// a kept number, a dropped income column and a masked personal one.
func statsFixture() (ingest.Report, catalog.Version) {
	bounds := []string{"1200.5", "5140.475", "9080.45", "13020.425", "16960.4", "20900.375"}
	rep := ingest.Report{Score: 97, RowsStored: 40, Columns: []ingest.ColumnQuality{
		{Name: "name", Type: catalog.ColString, Min: "Alice", Max: "Zed", DistinctEstimate: 3,
			TopValues: []ingest.TopValue{{Value: "舞阳坝", Count: 30}, {Value: "土桥坝", Count: 8}, {Value: "张三丰", Count: 2}}},
		{Name: "flow", Type: catalog.ColDecimal, Min: "1200.5", Max: "20900.375",
			Histogram: &ingest.Histogram{Bounds: bounds, Counts: []int64{1, 10, 20, 7, 2}}},
		{Name: "income", Type: catalog.ColInt, Min: "3001", Max: "98765",
			Histogram: &ingest.Histogram{Bounds: []string{"3001", "50883", "98765"}, Counts: []int64{20, 20}}},
		{Name: "id_number", Type: catalog.ColString, TopValues: []ingest.TopValue{{Value: "11010519491231002X", Count: 40}}},
		{Name: "unknown", Type: catalog.ColString, TopValues: []ingest.TopValue{{Value: "x", Count: 40}}},
	}}
	v := catalog.Version{Number: 1, Columns: []catalog.VersionColumn{
		{Name: "name", Type: "string", Open: "kept"},
		{Name: "flow", Type: "decimal", Open: "kept"},
		{Name: "income", Type: "int", Open: "dropped"},
		{Name: "id_number", Type: "string", Personal: true, Open: "masked"},
	}}
	return rep, v
}

func TestPublicStatistics(t *testing.T) {
	const dept = 7
	open := catalog.Resource{ID: 1, Entry: catalog.Entry{DepartmentID: dept, OpenType: catalog.OpenUnconditional}, PublishedVersion: 1}
	onApp := open
	onApp.OpenType = "on_application"
	anon := auth.Actor{}
	other := auth.Actor{ID: 2, Role: auth.RoleDeptStaff, DepartmentID: dept + 1}
	own := auth.Actor{ID: 3, Role: auth.RoleDeptStaff, DepartmentID: dept}
	bureau := auth.Actor{ID: 4, Role: auth.RoleBureauAdmin}
	office := auth.Actor{ID: 5, Role: auth.RoleOffice}
	developer := auth.Actor{ID: 6, Role: auth.RoleDeveloper}

	cases := []struct {
		name    string
		r       catalog.Resource
		viewer  auth.Actor
		full    bool
		columns []string
	}{
		{"anonymous, open data: kept columns only", open, anon, false, []string{"name", "flow"}},
		{"developer, open data", open, developer, false, []string{"name", "flow"}},
		{"staff of another department is the public", open, other, false, []string{"name", "flow"}},
		{"anonymous, on-application data: no columns", onApp, anon, false, nil},
		{"developer, on-application data: no columns", onApp, developer, false, nil},
		{"other department, on-application data", onApp, other, false, nil},
		{"own department sees everything", onApp, own, true, []string{"name", "flow", "income", "id_number", "unknown"}},
		{"bureau sees everything", onApp, bureau, true, []string{"name", "flow", "income", "id_number", "unknown"}},
		{"office sees everything", open, office, true, []string{"name", "flow", "income", "id_number", "unknown"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, v := statsFixture()
			st := publish.PublicStatistics(rep, tc.r, v, tc.viewer, 5)
			if st.Full != tc.full || st.RowsStored != 40 || st.Score != 97 {
				t.Fatalf("full %v rows %d score %v", st.Full, st.RowsStored, st.Score)
			}
			var names []string
			for _, c := range st.Columns {
				names = append(names, c.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.columns, ",") {
				t.Fatalf("columns %v, want %v", names, tc.columns)
			}
			if tc.full {
				if st.Columns[0].Min != "Alice" || len(st.Columns[0].Top) != 3 || st.Columns[2].Max != "98765" {
					t.Fatalf("full view trimmed: %+v", st.Columns)
				}
				return
			}
			for _, c := range st.Columns {
				if c.Min != "" || c.Max != "" {
					t.Errorf("%s: exact extremes %q–%q shown", c.Name, c.Min, c.Max)
				}
				for _, tv := range c.Top {
					if tv.Count < 5 {
						t.Errorf("%s: top value %q counted %d < k", c.Name, tv.Value, tv.Count)
					}
				}
				if c.Hist != nil {
					for i, n := range c.Hist.Counts {
						if n < 5 {
							t.Errorf("%s: bar %d holds %d rows < k", c.Name, i, n)
						}
					}
					for _, b := range c.Hist.Bounds {
						if b == "1200.5" || b == "20900.375" {
							t.Errorf("%s: exact extreme %s is a bound: %v", c.Name, b, c.Hist.Bounds)
						}
					}
				}
			}
		})
	}
}

func TestPublicStatisticsAggregates(t *testing.T) {
	rep, v := statsFixture()
	r := catalog.Resource{Entry: catalog.Entry{DepartmentID: 1, OpenType: catalog.OpenUnconditional}, PublishedVersion: 1}
	st := publish.PublicStatistics(rep, r, v, auth.Actor{}, 5)
	name, flow := st.Columns[0], st.Columns[1]
	if len(name.Top) != 2 || name.Top[1].Value != "土桥坝" || name.Withheld != 1 {
		t.Fatalf("top values %+v withheld %d: want the two counted ≥ 5", name.Top, name.Withheld)
	}
	// Bars 1+10 | 20 | 7+2; the bounds on a grid of 1000, outer ones outward.
	h := flow.Hist
	if got := strings.Join(h.Bounds, " "); got != "1000 9000 13000 21000" {
		t.Fatalf("bounds %s", got)
	}
	var total int64
	for _, n := range h.Counts {
		total += n
	}
	if total != 40 || len(h.Counts) != 3 || h.Counts[0] != 11 || h.Counts[2] != 9 {
		t.Fatalf("counts %v", h.Counts)
	}
	if flow.Range != [2]string{"1000", "21000"} {
		t.Fatalf("range %v", flow.Range)
	}
	// k larger than the column: no histogram at all.
	if st := publish.PublicStatistics(rep, r, v, auth.Actor{}, 41); st.Columns[1].Hist != nil || len(st.Columns[0].Top) != 0 {
		t.Fatalf("k=41 shows %+v", st.Columns)
	}
}

func TestPublicStatisticsDates(t *testing.T) {
	rep := ingest.Report{Columns: []ingest.ColumnQuality{{Name: "born", Type: catalog.ColDate, Min: "1949-12-31", Max: "2001-03-07",
		Histogram: &ingest.Histogram{Bounds: []string{"1949-12-31", "1975-08-04", "2001-03-07"}, Counts: []int64{6, 6}}}}}
	v := catalog.Version{Columns: []catalog.VersionColumn{{Name: "born", Type: "date", Open: "kept"}}}
	r := catalog.Resource{Entry: catalog.Entry{OpenType: catalog.OpenUnconditional}, PublishedVersion: 1}
	h := publish.PublicStatistics(rep, r, v, auth.Actor{}, 5).Columns[0].Hist
	if h == nil || len(h.Bounds) != 3 {
		t.Fatalf("histogram %+v", h)
	}
	for _, b := range h.Bounds {
		if b == "1949-12-31" || b == "2001-03-07" {
			t.Fatalf("exact date extreme %s in %v", b, h.Bounds)
		}
	}
	if !(h.Bounds[0] < "1949-12-31" && h.Bounds[2] > "2001-03-07") {
		t.Fatalf("outer bounds not rounded outward: %v", h.Bounds)
	}
}
