package publish

import (
	"math"
	"strconv"
	"time"

	"opendata/auth"
	"opendata/catalog"
	"opendata/ingest"
)

// Statistics is what a dataset page and the public API show of a version's
// quality report: counts for everyone, column statistics only as far as the
// viewer may read the column.
type Statistics struct {
	Score        float64            `json:"quality_score"`
	RowsStored   int64              `json:"rows"`
	RowsRejected int64              `json:"rows_rejected"`
	Full         bool               `json:"full"`      // the viewer sees the whole report (providing department, bureau, office)
	MinCount     int                `json:"min_count"` // k: the fewest rows a public top value or histogram bar stands for
	Columns      []ColumnStatistics `json:"columns"`
}

// ColumnStatistics is one column as the viewer may see it.
type ColumnStatistics struct {
	Name  string             `json:"name"`
	Type  catalog.ColumnType `json:"type"`
	Nulls int64              `json:"nulls"`
	// NullMarkers are how many of the nulls were read from each null
	// marker ("-", "NULL", "无"): the markers are the operator's list, not
	// record values.
	NullMarkers []ingest.MarkerCount `json:"null_markers,omitempty"`
	Invalid     int64                `json:"invalid"`
	Distinct    int64                `json:"distinct_estimate"`
	Min         string               `json:"min,omitempty"` // exact extremes: full view only
	Max         string               `json:"max,omitempty"`
	Range       [2]string            `json:"range,omitempty"` // public: the histogram's rounded outer bounds
	Hist        *ingest.Histogram    `json:"histogram,omitempty"`
	Top         []ingest.TopValue    `json:"top_values,omitempty"`
	Withheld    int                  `json:"withheld,omitempty"` // top values held back for being rarer than k
}

// PublicStatistics is the statistics rule every derived view calls (dataset
// page charts, the public API): the providing department, the bureau and the
// office see the whole report (catalog.QualityVisibleTo); everyone else sees
// column statistics only of unconditionally open data and only of columns
// the open variant holds as they are (not dropped, not masked, not
// personal), and only aggregates that stand for at least k rows: top values
// counted at least k times, histograms whose bars hold at least k rows
// (rarer edges merged inward) and whose bounds are rounded, so neither an
// exact minimum or maximum nor a single record's value shows.
func PublicStatistics(rep ingest.Report, r catalog.Resource, v catalog.Version, viewer auth.Actor, k int) Statistics {
	k = max(k, 1)
	out := Statistics{Score: rep.Score, RowsStored: rep.RowsStored, RowsRejected: rep.RowsRejected, MinCount: k, Columns: []ColumnStatistics{}}
	if catalog.QualityVisibleTo(viewer, r) {
		out.Full = true
		for _, c := range rep.Columns {
			out.Columns = append(out.Columns, ColumnStatistics{Name: c.Name, Type: c.Type, Nulls: c.Nulls, NullMarkers: c.NullMarkers, Invalid: c.Invalid,
				Distinct: int64(c.DistinctEstimate), Min: c.Min, Max: c.Max, Hist: c.Histogram, Top: c.TopValues})
		}
		return out
	}
	if r.OpenType != catalog.OpenUnconditional {
		return out
	}
	readable := map[string]bool{}
	for _, c := range v.Columns {
		if c.Open == catalog.TreatKept && !c.Personal {
			readable[c.Name] = true
		}
	}
	for _, c := range rep.Columns {
		if !readable[c.Name] {
			continue
		}
		cs := ColumnStatistics{Name: c.Name, Type: c.Type, Nulls: c.Nulls, NullMarkers: c.NullMarkers, Invalid: c.Invalid, Distinct: int64(c.DistinctEstimate)}
		for _, tv := range c.TopValues {
			if tv.Count >= int64(k) {
				cs.Top = append(cs.Top, tv)
			} else {
				cs.Withheld++
			}
		}
		if h := coarseHistogram(c.Histogram, c.Type, k); h != nil {
			cs.Hist = h
			cs.Range = [2]string{h.Bounds[0], h.Bounds[len(h.Bounds)-1]}
		}
		out.Columns = append(out.Columns, cs)
	}
	return out
}

// coarseHistogram is h with bounds rounded to a grid about as coarse as one
// original bar (the outer bounds outward, so the exact extremes are not
// shown) and every bar holding at least k rows: a rarer bar is merged into
// the next, a rare top edge into the bar before. Nil when fewer than k rows
// in all, or when the bounds cannot be read as the type's values.
func coarseHistogram(h *ingest.Histogram, typ catalog.ColumnType, k int) *ingest.Histogram {
	if h == nil || len(h.Counts) == 0 || len(h.Bounds) != len(h.Counts)+1 {
		return nil
	}
	b := make([]float64, len(h.Bounds))
	for i, s := range h.Bounds {
		f, ok := boundValue(s, typ)
		if !ok {
			return nil
		}
		b[i] = f
	}
	last := len(b) - 1
	grid := gridFor(typ, (b[last]-b[0])/float64(len(h.Counts)))
	for i := range b {
		switch i {
		case 0:
			b[i] = math.Floor(b[i]/grid) * grid
		case last:
			b[i] = math.Ceil(b[i]/grid) * grid
		default:
			b[i] = math.Round(b[i]/grid) * grid
		}
	}
	out := &ingest.Histogram{}
	edges := []float64{b[0]}
	var acc int64
	for i, c := range h.Counts {
		acc += c
		if acc >= int64(k) && b[i+1] > edges[len(edges)-1] {
			out.Counts = append(out.Counts, acc)
			edges = append(edges, b[i+1])
			acc = 0
		}
	}
	if len(out.Counts) == 0 {
		return nil
	}
	if acc > 0 || edges[len(edges)-1] < b[last] {
		out.Counts[len(out.Counts)-1] += acc
		edges[len(edges)-1] = b[last]
	}
	for _, e := range edges {
		out.Bounds = append(out.Bounds, boundString(e, typ, grid))
	}
	return out
}

const dayMicros = 86400e6

// boundValue reads a histogram bound (as ingest displays it) as a number:
// days since 1970 for dates, microseconds for timestamps.
func boundValue(s string, typ catalog.ColumnType) (float64, bool) {
	switch typ {
	case catalog.ColInt, catalog.ColDecimal:
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil
	case catalog.ColDate:
		t, err := time.Parse("2006-01-02", s)
		return float64(t.Unix() / 86400), err == nil
	case catalog.ColTimestamp:
		t, err := time.Parse("2006-01-02 15:04:05", s)
		return float64(t.UnixMicro()), err == nil
	}
	return 0, false
}

// gridFor is the rounding step for bars of the given width: a power of ten
// no finer than a tenth of a bar (whole numbers for int), whole days for
// dates and timestamps — coarse enough that no bound is a record's value.
func gridFor(typ catalog.ColumnType, width float64) float64 {
	switch typ {
	case catalog.ColDate:
		return math.Max(1, math.Pow(10, math.Floor(math.Log10(math.Max(width, 1)))))
	case catalog.ColTimestamp:
		days := math.Max(1, math.Pow(10, math.Floor(math.Log10(math.Max(width/dayMicros, 1)))))
		return days * dayMicros
	}
	g := math.Pow(10, math.Floor(math.Log10(width)))
	if typ == catalog.ColInt {
		g = math.Max(g, 1)
	}
	if math.IsInf(g, 0) || math.IsNaN(g) || g == 0 {
		g = 1
	}
	return g
}

func boundString(f float64, typ catalog.ColumnType, grid float64) string {
	switch typ {
	case catalog.ColInt:
		return strconv.FormatInt(int64(math.Round(f)), 10)
	case catalog.ColDate:
		return time.Unix(int64(math.Round(f))*86400, 0).UTC().Format("2006-01-02")
	case catalog.ColTimestamp:
		return time.UnixMicro(int64(math.Round(f))).UTC().Format("2006-01-02")
	}
	prec := max(0, int(-math.Floor(math.Log10(grid))))
	return strconv.FormatFloat(f, 'f', prec, 64)
}
