package publish

import (
	"math"
	"strconv"
	"time"

	"opendata/catalog"
	"opendata/ingest"
	"opendata/query"
)

// What changes for the public if a draft is approved: the comparison of a
// version with the one the open catalog shows (or, before the first
// publication, the version before it). Schema changes come from the
// versions' columns, value ranges from their quality reports, row
// differences from the query engine (query.Engine.Diff).

// Side is one version of the comparison.
type Side struct {
	Version catalog.Version
	Report  *ingest.Report // nil when it could not be read
}

// Comparison is a draft against its base.
type Comparison struct {
	Base          int  // the version compared with
	BasePublished bool // the base is the published version (else the previous one)
	RowsBefore    int64
	RowsAfter     int64
	// Rows is the row-by-row difference; nil when it was not computed
	// (RowsProblem says why, as a message key).
	Rows        *query.RowDiff
	RowsProblem string
	// ShowKeys: the sample keys may be shown (no key column is personal).
	ShowKeys  bool
	Added     []catalog.VersionColumn
	Removed   []catalog.VersionColumn
	Changed   []ColumnChange
	Reordered bool
	Ranges    []RangeChange
}

// ColumnChange is a column both versions have whose type, personal flag
// or treatment in the open variant differs.
type ColumnChange struct {
	Name                     string
	FromType, ToType         catalog.ColumnType
	FromOpen, ToOpen         catalog.Treatment
	FromPersonal, ToPersonal bool
}

// RangeChange compares one column's statistics.
type RangeChange struct {
	Name                     string
	Type                     catalog.ColumnType
	FromMin, FromMax         string
	ToMin, ToMax             string
	FromNulls, ToNulls       float64 // share of rows, 0–1
	FromDistinct, ToDistinct uint64
	RangeChanged             bool
	// Warnings are message keys: what a reviewer should look at.
	Warnings []string
}

// Warnings a range comparison raises.
const (
	WarnRangeWider = "review.warn.range_wider" // the new range reaches far beyond the old one
	WarnNullsUp    = "review.warn.nulls_up"    // many more empty values
	WarnDistinct   = "review.warn.distinct"    // far fewer distinct values
)

// BaseFor picks the version a draft n is compared with: the published
// version when it is another one, else the newest ready version before n.
// It returns 0 when there is none.
func BaseFor(r catalog.Resource, n int, versions []catalog.Version) (base int, published bool) {
	if r.PublishedVersion > 0 && r.PublishedVersion != n {
		return r.PublishedVersion, true
	}
	for _, v := range versions {
		if v.Number < n && v.Number > base {
			base = v.Number
		}
	}
	return base, false
}

// Compare compares draft with base; rows is the engine's row difference
// (nil when not computed).
func Compare(base, draft Side, rows *query.RowDiff) Comparison {
	c := Comparison{Base: base.Version.Number, RowsBefore: base.Version.RowsStored, RowsAfter: draft.Version.RowsStored, Rows: rows}
	old := map[string]catalog.VersionColumn{}
	for _, col := range base.Version.Columns {
		old[col.Name] = col
	}
	now := map[string]bool{}
	var oldOrder, newOrder []string
	for _, col := range draft.Version.Columns {
		now[col.Name] = true
		o, ok := old[col.Name]
		if !ok {
			c.Added = append(c.Added, col)
			continue
		}
		newOrder = append(newOrder, col.Name)
		if o.Type != col.Type || o.Open != col.Open || o.Personal != col.Personal {
			c.Changed = append(c.Changed, ColumnChange{Name: col.Name, FromType: o.Type, ToType: col.Type, FromOpen: o.Open, ToOpen: col.Open,
				FromPersonal: o.Personal, ToPersonal: col.Personal})
		}
	}
	for _, col := range base.Version.Columns {
		if !now[col.Name] {
			c.Removed = append(c.Removed, col)
		} else {
			oldOrder = append(oldOrder, col.Name)
		}
	}
	for i := range oldOrder {
		c.Reordered = c.Reordered || oldOrder[i] != newOrder[i]
	}
	if rows != nil {
		c.ShowKeys = len(rows.Keys) > 0
		for _, k := range rows.Keys {
			for _, col := range draft.Version.Columns {
				if col.Name == k && col.Personal {
					c.ShowKeys = false
				}
			}
		}
	}
	if base.Report != nil && draft.Report != nil {
		c.Ranges = compareRanges(base.Report, draft.Report)
	}
	return c
}

func compareRanges(base, draft *ingest.Report) []RangeChange {
	old := map[string]ingest.ColumnQuality{}
	for _, q := range base.Columns {
		old[q.Name] = q
	}
	share := func(n, of int64) float64 {
		if of <= 0 {
			return 0
		}
		return float64(n) / float64(of)
	}
	var out []RangeChange
	for _, q := range draft.Columns {
		o, ok := old[q.Name]
		if !ok {
			continue
		}
		rc := RangeChange{Name: q.Name, Type: q.Type, FromMin: o.Min, FromMax: o.Max, ToMin: q.Min, ToMax: q.Max,
			FromNulls: share(o.Nulls, base.RowsStored), ToNulls: share(q.Nulls, draft.RowsStored),
			FromDistinct: o.DistinctEstimate, ToDistinct: q.DistinctEstimate}
		rc.RangeChanged = o.Min != q.Min || o.Max != q.Max
		if q.Type == o.Type && farWider(q.Type, o.Min, o.Max, q.Min, q.Max) {
			rc.Warnings = append(rc.Warnings, WarnRangeWider)
		}
		if rc.ToNulls-rc.FromNulls >= 0.10 {
			rc.Warnings = append(rc.Warnings, WarnNullsUp)
		}
		if o.DistinctEstimate >= 20 && float64(q.DistinctEstimate) < 0.5*float64(o.DistinctEstimate) {
			rc.Warnings = append(rc.Warnings, WarnDistinct)
		}
		out = append(out, rc)
	}
	return out
}

// farWider reports whether the new range [min2, max2] reaches beyond the
// old one [min1, max1] by more than the old range's own width (a longitude
// of 10948 where the city's lie between 109.3 and 109.6), for numbers and
// dates.
func farWider(typ catalog.ColumnType, min1, max1, min2, max2 string) bool {
	parse := func(s string) (float64, bool) {
		switch typ {
		case "int", "decimal":
			f, err := strconv.ParseFloat(s, 64)
			return f, err == nil
		case "date", "timestamp":
			for _, layout := range []string{"2006-01-02", time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
				if t, err := time.Parse(layout, s); err == nil {
					return float64(t.Unix()) / 86400, true
				}
			}
		}
		return 0, false
	}
	a, ok1 := parse(min1)
	b, ok2 := parse(max1)
	x, ok3 := parse(min2)
	y, ok4 := parse(max2)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return false
	}
	width := math.Max(b-a, math.Max(math.Abs(a), math.Abs(b))*0.01)
	if width == 0 {
		width = 1
	}
	return x < a-width || y > b+width
}
