package publish_test

import (
	"reflect"
	"testing"

	"opendata/catalog"
	"opendata/ingest"
	"opendata/publish"
	"opendata/query"
)

func TestBaseFor(t *testing.T) {
	vs := []catalog.Version{{Number: 4}, {Number: 3}, {Number: 1}}
	cases := []struct {
		published, n int
		base         int
		isPublished  bool
	}{
		{2, 4, 2, true},  // the published version
		{4, 4, 3, false}, // reviewing the published one: the one before
		{0, 3, 1, false}, // nothing published yet: the previous version
		{0, 1, 0, false}, // the first version: nothing to compare with
	}
	for _, c := range cases {
		r := catalog.Resource{PublishedVersion: c.published}
		if b, p := publish.BaseFor(r, c.n, vs); b != c.base || p != c.isPublished {
			t.Errorf("published %d, draft %d: %d %v", c.published, c.n, b, p)
		}
	}
}

func TestCompare(t *testing.T) {
	base := publish.Side{
		Version: catalog.Version{Number: 1, RowsStored: 100, Columns: []catalog.VersionColumn{
			{Name: "code", Type: "int", Open: "kept"}, {Name: "name", Type: "string", Open: "kept"},
			{Name: "lng", Type: "decimal", Open: "kept"}, {Name: "phone", Type: "string", Open: "kept"}, {Name: "memo", Type: "string", Open: "kept"}}},
		Report: &ingest.Report{RowsStored: 100, Columns: []ingest.ColumnQuality{
			{Name: "code", Type: "int", Min: "1", Max: "100", DistinctEstimate: 100},
			{Name: "name", Type: "string", DistinctEstimate: 100},
			{Name: "lng", Type: "decimal", Min: "109.3", Max: "109.6", Nulls: 0, DistinctEstimate: 90},
			{Name: "phone", Type: "string", Nulls: 5}}},
	}
	draft := publish.Side{
		Version: catalog.Version{Number: 2, RowsStored: 102, Columns: []catalog.VersionColumn{
			{Name: "name", Type: "string", Open: "kept"}, {Name: "code", Type: "int", Open: "kept"},
			{Name: "lng", Type: "decimal", Open: "kept"}, {Name: "phone", Type: "string", Personal: true, Open: "masked"}, {Name: "town", Type: "string", Open: "kept"}}},
		Report: &ingest.Report{RowsStored: 102, Columns: []ingest.ColumnQuality{
			{Name: "code", Type: "int", Min: "1", Max: "104", DistinctEstimate: 102},
			{Name: "name", Type: "string", DistinctEstimate: 30},
			{Name: "lng", Type: "decimal", Min: "109.3", Max: "10948.3003", DistinctEstimate: 92},
			{Name: "phone", Type: "string", Nulls: 25}}},
	}
	rows := &query.RowDiff{Keys: []string{"code"}, Added: 4, Removed: 2, Changed: 1}
	c := publish.Compare(base, draft, rows)
	if c.Base != 1 || c.RowsBefore != 100 || c.RowsAfter != 102 || c.Rows != rows || !c.ShowKeys {
		t.Fatalf("summary: %+v", c)
	}
	if len(c.Added) != 1 || c.Added[0].Name != "town" || len(c.Removed) != 1 || c.Removed[0].Name != "memo" || !c.Reordered {
		t.Fatalf("schema: added %v removed %v reordered %v", c.Added, c.Removed, c.Reordered)
	}
	if !reflect.DeepEqual(c.Changed, []publish.ColumnChange{{Name: "phone", FromType: "string", ToType: "string", FromOpen: "kept", ToOpen: "masked", ToPersonal: true}}) {
		t.Fatalf("changed: %+v", c.Changed)
	}
	warn := map[string][]string{}
	for _, r := range c.Ranges {
		warn[r.Name] = r.Warnings
	}
	if !reflect.DeepEqual(warn, map[string][]string{"code": nil, "name": {publish.WarnDistinct}, "lng": {publish.WarnRangeWider}, "phone": {publish.WarnNullsUp}}) {
		t.Fatalf("warnings: %v", warn)
	}
	// A personal key column: its values are not shown as samples.
	rows.Keys = []string{"phone"}
	if publish.Compare(base, draft, rows).ShowKeys {
		t.Fatal("sample keys of a personal column would be shown")
	}
	// Without reports or rows: the schema still compares.
	c = publish.Compare(publish.Side{Version: base.Version}, publish.Side{Version: draft.Version}, nil)
	if c.Ranges != nil || c.Rows != nil || len(c.Added) != 1 {
		t.Fatalf("without reports: %+v", c)
	}
}
