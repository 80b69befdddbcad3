package ingest

import (
	"math"
	"sort"
	"strings"

	"opendata/catalog"
)

// Report is quality.json: what the ingest found, row by row and column by
// column.
type Report struct {
	RowsRead       int64            `json:"rows_read"`
	RowsStored     int64            `json:"rows_stored"`
	RowsRejected   int64            `json:"rows_rejected"`
	Rejected       []RowError       `json:"rejected"`
	RejectedByCode map[string]int64 `json:"rejected_by_code"`
	Columns        []ColumnQuality  `json:"columns"`
	Duplicates     Duplicates       `json:"duplicates"`
	KeyConflicts   KeyConflicts     `json:"key_conflicts"`
	Warnings       []RowError       `json:"warnings"`
	Sheet          *SheetChoice     `json:"sheet,omitempty"`
	Score          float64          `json:"score"`
	ScoreNote      string           `json:"score_note"`
}

// ColumnQuality is one column's statistics.
type ColumnQuality struct {
	Name       string             `json:"name"`
	Type       catalog.ColumnType `json:"type"`
	Detected   string             `json:"detected,omitempty"`    // personal data or code kind found
	DetectedBy string             `json:"detected_by,omitempty"` // header or values
	Nulls      int64              `json:"nulls"`
	// NullMarkers are the nulls read from null markers, most frequent first ("3 × 未填报").
	NullMarkers      []MarkerCount `json:"null_markers,omitempty"`
	DistinctEstimate uint64        `json:"distinct_estimate"`
	Min              string        `json:"min,omitempty"`
	Max              string        `json:"max,omitempty"`
	Invalid          int64         `json:"invalid"`
	InvalidSamples   []RowError    `json:"invalid_samples,omitempty"`
	Histogram        *Histogram    `json:"histogram,omitempty"`
	TopValues        []TopValue    `json:"top_values,omitempty"`
}

// Histogram of a numeric or date column (bounds as display strings).
type Histogram struct {
	Bounds []string `json:"bounds"` // len(Counts)+1 edges
	Counts []int64  `json:"counts"`
}

// TopValue is a frequent value of a text column.
type TopValue struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// Duplicates are exact repeats of an earlier row; they are not stored.
type Duplicates struct {
	Count    int64   `json:"count"`
	Rows     []int64 `json:"rows"`
	Complete bool    `json:"complete"` // false: the memory budget ran out and later rows were not checked
}

// KeyConflicts are records that share a key with an earlier, different
// record: two sources for one datum. Both are stored.
type KeyConflicts struct {
	Columns  []string      `json:"columns,omitempty"`
	Count    int64         `json:"count"`
	Samples  []KeyConflict `json:"samples,omitempty"`
	Complete bool          `json:"complete"`
}

// KeyConflict is one conflicting pair.
type KeyConflict struct {
	Key      string `json:"key"`
	Row      int64  `json:"row"`
	FirstRow int64  `json:"first_row"`
}

const (
	maxRejectedListed = 1000
	maxSamples        = 20
)

// score: 100 minus penalties for rejected rows, invalid cells, duplicates
// and key conflicts, each as a share of what was read.
func (r *Report) score(cells int64) {
	if r.RowsRead == 0 {
		return
	}
	var invalid int64
	for _, c := range r.Columns {
		invalid += c.Invalid
	}
	read := float64(r.RowsRead)
	p := 50*float64(r.RowsRejected-r.Duplicates.Count)/read +
		30*float64(invalid)/math.Max(1, float64(cells)) +
		10*float64(r.Duplicates.Count)/read +
		10*float64(r.KeyConflicts.Count)/read
	r.Score = math.Round(math.Max(0, 100-p*1)*10) / 10
	if r.RowsRejected-r.Duplicates.Count > 0 || invalid > 0 {
		// Any error at all costs at least a point, so 100 means clean.
		r.Score = math.Min(r.Score, 99)
	}
	r.ScoreNote = "100 − 50×rejected share − 30×invalid-cell share − 10×duplicate share − 10×key-conflict share"
}

// valueCounts counts a column's values exactly while it has at most max
// distinct ones; past that "top values" would not mean much and it stops.
// Exact counts merge exactly, so the report does not depend on how the rows
// were split between workers.
type valueCounts struct {
	max    int
	counts map[string]int64
	off    bool
}

func newValueCounts(max int) *valueCounts {
	return &valueCounts{max: max, counts: make(map[string]int64, 16)}
}

func (s *valueCounts) add(v string) {
	if s.off {
		return
	}
	if c, ok := s.counts[v]; ok {
		s.counts[v] = c + 1
		return
	}
	if len(s.counts) >= s.max {
		s.off, s.counts = true, nil
		return
	}
	s.counts[strings.Clone(v)] = 1
}

// merge adds the counts of other rows of the same column.
func (s *valueCounts) merge(o *valueCounts) {
	if o == nil {
		return
	}
	if s.off || o.off {
		s.off, s.counts = true, nil
		return
	}
	for k, c := range o.counts {
		s.counts[k] += c
	}
	if len(s.counts) > s.max {
		s.off, s.counts = true, nil
	}
}

func (s *valueCounts) top(n int) []TopValue {
	if s.off {
		return nil
	}
	out := make([]TopValue, 0, len(s.counts))
	for k, c := range s.counts {
		out = append(out, TopValue{k, c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Value < out[j].Value
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
