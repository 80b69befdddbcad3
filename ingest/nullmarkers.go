package ingest

import (
	"sort"
	"strings"

	"opendata/catalog"
)

// DefaultNullMarkers are the values departments write for "nothing" in a
// number or date column (config null_markers).
var DefaultNullMarkers = []string{"未填报", "—", "-", "/", "无", "暂无", "不详", "N/A", "#N/A", "NULL"}

// nullMarkers is the list a conversion reads as null in typed columns. It
// is consulted only when a value fails its column's type, so clean cells
// never pay for it.
type nullMarkers struct {
	list   []string
	maxLen int
}

func newNullMarkers(list []string) *nullMarkers {
	nm := &nullMarkers{}
	for _, m := range list {
		if m = trimCell(m); m != "" {
			nm.list = append(nm.list, m)
			nm.maxLen = max(nm.maxLen, len(m))
		}
	}
	return nm
}

// match is the index of the marker v is (ASCII letters in any case: n/a,
// null), or -1.
func (nm *nullMarkers) match(v string) int {
	if nm == nil || len(v) > nm.maxLen {
		return -1
	}
	for i, m := range nm.list {
		if len(m) == len(v) && (m == v || strings.EqualFold(m, v)) {
			return i
		}
	}
	return -1
}

// nullMarkerTyped reports whether a column of type t reads null markers:
// numbers and dates (a yes/no column takes 无 as "no").
func nullMarkerTyped(t catalog.ColumnType) bool {
	return t == catalog.ColInt || t == catalog.ColDecimal || t == catalog.ColDate || t == catalog.ColTimestamp
}

// MarkerCount is how many cells of a column held one null marker.
type MarkerCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// markerCounts lists a column's null markers by count, most frequent first.
func markerCounts(nm *nullMarkers, counts []int64) []MarkerCount {
	var out []MarkerCount
	for i, n := range counts {
		if n > 0 {
			out = append(out, MarkerCount{Value: nm.list[i], Count: n})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	return out
}
