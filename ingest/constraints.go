package ingest

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"opendata/catalog"
)

// Declared constraints (min, max, pattern) and, without them, the
// profiling of obviously impossible or suspicious values. A violation
// never rejects the row: it flags the cell (row, field, value, rule), or,
// for a suspicious value, adds a warning for the column.

// Column kinds found by header for profiling.
const (
	suspectNone uint8 = iota
	suspectFuture
	suspectNegative
)

var (
	longitudeHeaders = []string{"经度", "东经", "longitude", "lng", "lon"}
	latitudeHeaders  = []string{"纬度", "北纬", "latitude", "lat"}
	// Dates that cannot lie ahead: when an entity was founded or registered, when a person was born.
	pastDateHeaders = []string{"成立", "登记", "出生", "注册", "发证", "核准", "设立"}
	// Counts end like this; the other words ending in 数 may be negative.
	countSuffixes  = []string{"数", "数量", "人次", "人口", "count"}
	signedSuffixes = []string{"指数", "系数", "增减数", "增长数", "净增数", "变化数", "差数", "变动数"}
)

func headerIs(name string, words []string) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, w := range words {
		if n == w || w[0] >= 0x80 && strings.Contains(n, w) {
			return true
		}
		if w[0] < 0x80 && (strings.HasSuffix(n, "_"+w) || strings.HasPrefix(n, w+"_") || strings.HasSuffix(n, " "+w)) {
			return true
		}
	}
	return false
}

func hasSuffixIn(name string, words []string) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, w := range words {
		if strings.HasSuffix(n, w) {
			return true
		}
	}
	return false
}

// constrain sets a column's declared constraints, or the profiling its
// header calls for.
func (c *converter) constrain(col *Column, it *catalog.Item) {
	numeric := col.Type == catalog.ColInt || col.Type == catalog.ColDecimal
	if it != nil {
		if f, ok := c.bound(col.Type, it.Min); ok {
			col.hasMin, col.minV, col.minText = true, f, it.Min
		}
		if f, ok := c.bound(col.Type, it.Max); ok {
			col.hasMax, col.maxV, col.maxText = true, f, it.Max
		}
		if it.Pattern != "" {
			if re, err := regexp.Compile(`^(?:` + it.Pattern + `)$`); err == nil {
				col.re, col.pattern = re, it.Pattern
			}
		}
	}
	switch {
	case col.hasMin || col.hasMax:
	case numeric && headerIs(col.Name, longitudeHeaders):
		col.hasMin, col.minV, col.hasMax, col.maxV, col.rangeCode = true, -180, true, 180, "impossible_longitude"
	case numeric && headerIs(col.Name, latitudeHeaders):
		col.hasMin, col.minV, col.hasMax, col.maxV, col.rangeCode = true, -90, true, 90, "impossible_latitude"
	}
	switch {
	case (col.Type == catalog.ColDate || col.Type == catalog.ColTimestamp) && !col.notFut && headerIs(col.Name, pastDateHeaders):
		col.suspect = suspectFuture
	case numeric && !col.hasMin && hasSuffixIn(col.Name, countSuffixes) && !hasSuffixIn(col.Name, signedSuffixes):
		col.suspect = suspectNegative
	}
}

// bound reads a declared min or max in cellNumber's unit; a date-time
// bound is in the conversion's time zone.
func (c *converter) bound(typ catalog.ColumnType, v string) (float64, bool) {
	if v == "" {
		return 0, false
	}
	if typ == catalog.ColTimestamp {
		v = strings.TrimSpace(v)
		if t, ok := parseTimestamp(v, c.opt.Location); ok {
			return float64(t), true
		}
		if d, ok := parseDate(v); ok {
			u := time.Unix(int64(d)*86400, 0).UTC()
			return float64(time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, c.opt.Location).UnixMicro()), true
		}
		return 0, false
	}
	return catalog.ItemBound(typ, v)
}

// cellNumber is a parsed cell as the number its bounds are given in.
func cellNumber(col *Column, v *cell) float64 {
	switch col.Type {
	case catalog.ColInt:
		return float64(v.i)
	case catalog.ColDecimal:
		return v.f
	case catalog.ColDate:
		return float64(v.d)
	case catalog.ColTimestamp:
		return float64(v.t)
	}
	return 0
}

// checkConstraints flags a filled cell outside its column's bounds or
// pattern, and counts a suspicious value.
func (w *worker) checkConstraints(i int, col *Column, v *cell, row int64) {
	if col.hasMin || col.hasMax {
		n := cellNumber(col, v)
		if col.rangeCode != "" {
			if n < col.minV || n > col.maxV {
				w.flag(i, RowError{Row: row, Column: col.Name, Code: col.rangeCode, Value: v.s})
			}
		} else if col.hasMin && n < col.minV {
			w.flag(i, RowError{Row: row, Column: col.Name, Code: "below_min", Value: v.s, Params: map[string]string{"min": col.minText}})
		} else if col.hasMax && n > col.maxV {
			w.flag(i, RowError{Row: row, Column: col.Name, Code: "above_max", Value: v.s, Params: map[string]string{"max": col.maxText}})
		}
	}
	if col.re != nil && !col.re.MatchString(v.s) {
		w.flag(i, RowError{Row: row, Column: col.Name, Code: "pattern_mismatch", Value: v.s, Params: map[string]string{"pattern": col.pattern}})
	}
	switch col.suspect {
	case suspectFuture:
		if (col.Type == catalog.ColDate && v.d > w.c.today) || (col.Type == catalog.ColTimestamp && v.t > w.c.nowMicro) {
			w.stats[i].suspect(row, v.s)
		}
	case suspectNegative:
		if (col.Type == catalog.ColInt && v.i < 0) || (col.Type == catalog.ColDecimal && v.f < 0) {
			w.stats[i].suspect(row, v.s)
		}
	}
}

// suspect counts a suspicious value, keeping the first.
func (st *colStats) suspect(row int64, v string) {
	if st.suspN == 0 || row < st.suspRow {
		st.suspRow, st.suspVal = row, short(v, 80)
	}
	st.suspN++
}

func (st *colStats) mergeSuspect(o *colStats) {
	if o.suspN == 0 {
		return
	}
	if st.suspN == 0 || o.suspRow < st.suspRow {
		st.suspRow, st.suspVal = o.suspRow, o.suspVal
	}
	st.suspN += o.suspN
}

// suspectWarnings are the quality report's warnings for suspicious values.
func (c *converter) suspectWarnings() {
	for i := range c.cols {
		col, st := &c.cols[i], &c.stats[i]
		if st.suspN == 0 {
			continue
		}
		code := "suspicious_future_date"
		if col.suspect == suspectNegative {
			code = "suspicious_negative"
		}
		c.rep.Warnings = append(c.rep.Warnings, RowError{Row: st.suspRow, Column: col.Name, Code: code, Value: st.suspVal,
			Params: map[string]string{"count": strconv.FormatInt(st.suspN, 10), "today": c.opt.Now.In(c.opt.Location).Format(time.DateOnly)}})
	}
}
