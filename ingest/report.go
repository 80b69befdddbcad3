package ingest

import (
	"math"
	"strconv"
	"time"

	"github.com/axiomhq/hyperloglog"

	"opendata/catalog"
)

type colStats struct {
	nulls      int64
	markers    []int64 // nulls read from each null marker; nil: none
	suspN      int64   // suspicious values (a future founding date, a negative count)
	suspRow    int64
	suspVal    string
	hll        *hyperloglog.Sketch
	recent     [recentHashes]uint64 // hash+1 of values lately put in hll
	minF       float64
	maxF       float64
	minS       string
	maxS       string
	seen       bool
	invalid    int64
	samples    []RowError
	top        *valueCounts
	sample     []float64 // values of the rows whose number is a multiple of stride
	sampleRows []int64
	stride     int64
	n          int64
}

func (c *converter) display(col *Column, f float64) string {
	switch col.Type {
	case catalog.ColInt:
		return strconv.FormatInt(int64(f), 10)
	case catalog.ColDate:
		return time.Unix(int64(f)*86400, 0).UTC().Format("2006-01-02")
	case catalog.ColTimestamp:
		return time.UnixMicro(int64(f)).In(c.opt.Location).Format("2006-01-02 15:04:05")
	}
	return strconv.FormatFloat(f, 'g', 10, 64)
}

func (c *converter) finishReport(sr *scanResult) {
	r := &c.rep
	// The sort covers every row, whatever the file's size.
	r.Duplicates.Complete, r.KeyConflicts.Complete = true, true
	if r.Rejected == nil {
		r.Rejected = []RowError{}
	}
	if r.Duplicates.Rows == nil {
		r.Duplicates.Rows = []int64{}
	}
	for i := range c.cols {
		col, st := &c.cols[i], &c.stats[i]
		q := ColumnQuality{Name: col.Name, Type: col.Type, Detected: col.Detected, DetectedBy: col.DetectedBy, Nulls: st.nulls, DistinctEstimate: st.hll.Estimate(), Invalid: st.invalid, InvalidSamples: st.samples}
		if st.seen {
			switch col.Type {
			case catalog.ColInt, catalog.ColDecimal, catalog.ColDate, catalog.ColTimestamp:
				q.Min, q.Max = c.display(col, st.minF), c.display(col, st.maxF)
				q.Histogram = c.histogram(col, st)
			case catalog.ColString:
				if col.Open == catalog.TreatKept {
					q.Min, q.Max = short(st.minS, 40), short(st.maxS, 40)
				}
			}
		}
		if st.top != nil && col.Open == catalog.TreatKept {
			q.TopValues = st.top.top(10)
		}
		q.NullMarkers = markerCounts(c.opt.markers, st.markers)
		r.Columns = append(r.Columns, q)
	}
	c.suspectWarnings()
	r.score(r.RowsRead * int64(len(c.cols)))
}

// histogram draws 20 equal-width bins from the sampled values, scaled to the
// column's real count.
func (c *converter) histogram(col *Column, st *colStats) *Histogram {
	if len(st.sample) == 0 || st.maxF == st.minF {
		return nil
	}
	const bins = 20
	h := &Histogram{Counts: make([]int64, bins)}
	width := (st.maxF - st.minF) / bins
	for _, v := range st.sample {
		b := int((v - st.minF) / width)
		if b >= bins {
			b = bins - 1
		}
		if b < 0 {
			b = 0
		}
		h.Counts[b]++
	}
	scale := float64(st.n) / float64(len(st.sample))
	for i := range h.Counts {
		h.Counts[i] = int64(math.Round(float64(h.Counts[i]) * scale))
	}
	for i := 0; i <= bins; i++ {
		h.Bounds = append(h.Bounds, c.display(col, st.minF+width*float64(i)))
	}
	return h
}
