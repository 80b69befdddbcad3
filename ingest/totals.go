package ingest

import (
	"math"
	"strings"
	"unicode/utf8"

	"opendata/catalog"
)

// Total and subtotal rows (合计, 总计, 小计, Total) are decided on the
// additive columns only: numbers that are not constant (a year repeated in
// every row) and whose header does not name an identifier or a period
// (代码, 编号, 年份, 月份 …). Text never counts. A labelled row whose
// additive cells are the sums of the rows of its group — the rows since the
// previous total, the rows up to the next one, or the whole file — is a
// total and skipped; one that does not add up is kept as data with a
// warning.

var totalLabels = []string{"合计", "总计", "小计", "合 计", "总 计", "小 计", "total", "subtotal", "sum", "grand total"}

// isTotalLabel reports whether a cell labels a total: one of totalLabels,
// or a group's name followed by 小计 or 合计 (东区小计).
func isTotalLabel(s string) bool {
	s = strings.ToLower(strings.TrimSpace(strings.ReplaceAll(s, "\u3000", "")))
	s = strings.TrimRight(s, ":：")
	for _, l := range totalLabels {
		if s == l {
			return true
		}
	}
	return utf8.RuneCountInString(s) <= 16 && (strings.HasSuffix(s, "小计") || strings.HasSuffix(s, "合计"))
}

// maybeTotalLabel is the cheap test run on every row before isTotalLabel:
// a label is short and ends with 计 or a colon, or starts with t, s or g.
func maybeTotalLabel(s string) bool {
	n := len(s)
	if n < 3 || n > 64 {
		return false
	}
	if strings.HasSuffix(s, "计") || s[n-1] == ':' || strings.HasSuffix(s, "：") {
		return true
	}
	switch s[0] | 0x20 {
	case 't', 's', 'g':
		return true
	}
	return false
}

// totalLabelOf returns the row's label when one of its first two filled
// cells is a total label (合计, or 东区 | 小计), else "".
func totalLabelOf(rec []string) string {
	seen := 0
	for _, v := range rec {
		if v == "" {
			continue
		}
		if maybeTotalLabel(v) && isTotalLabel(v) {
			return v
		}
		if seen++; seen == 2 {
			break
		}
	}
	return ""
}

// identifierHeaders and periodHeaders name number columns that are not
// added up: codes and periods.
var (
	identifierHeaders = []string{"代码", "编码", "编号", "序号", "代号", "区划", "邮编", "号码", "code", "id", "no."}
	periodHeaders     = []string{"年份", "年度", "年", "月份", "季度", "year", "month", "quarter"}
)

// notAdditiveHeader reports whether a number column's header names an
// identifier or a period: it ends with one of the words (区划代码, 统计年度),
// an English one as a word of its own (area_code, Year).
func notAdditiveHeader(name string) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, list := range [][]string{identifierHeaders, periodHeaders} {
		for _, h := range list {
			if !strings.HasSuffix(n, h) {
				continue
			}
			if h[0] >= 0x80 || len(n) == len(h) {
				return true
			}
			if c := n[len(n)-len(h)-1]; c == '_' || c == ' ' || c == '-' || c >= 0x80 {
				return true
			}
		}
	}
	return false
}

// sumColumn is what the total-row rule knows of one column.
type sumColumn struct {
	src      int  // index in the record
	additive bool // counts for the sums
}

// additiveColumns picks the columns a total is checked on: numbers, not
// constant, not named as identifiers or periods.
func additiveColumns(cols []Column, constant func(i int) bool) []sumColumn {
	out := make([]sumColumn, len(cols))
	for i, col := range cols {
		out[i] = sumColumn{src: col.src, additive: (col.Type == catalog.ColInt || col.Type == catalog.ColDecimal) && !constant(i) && !notAdditiveHeader(col.Name)}
	}
	return out
}

// totalCandidate is a labelled row and the sums of the data rows before it.
type totalCandidate struct {
	row    int64
	label  string
	rec    []string  // its trimmed cells
	before []float64 // per column: the sum of the data rows above it (other candidates excluded)
}

// cellsOf parses a candidate's additive cells: ok false when one holds
// text (then it is a data row), checked the columns it fills.
func cellsOf(rec []string, cols []sumColumn, nm *nullMarkers) (vals []float64, filled []bool, ok bool) {
	vals, filled = make([]float64, len(cols)), make([]bool, len(cols))
	for i, sc := range cols {
		if !sc.additive || sc.src >= len(rec) {
			continue
		}
		v := rec[sc.src]
		if v == "" || nm.match(v) >= 0 {
			continue
		}
		f, isNum := parseDecimal(v)
		if !isNum {
			return nil, nil, false
		}
		vals[i], filled[i] = f, true
	}
	return vals, filled, true
}

// sumsMatch reports whether every filled cell equals the group's sum.
func sumsMatch(vals []float64, filled []bool, sums []float64) bool {
	for i, f := range filled {
		if f && math.Abs(vals[i]-sums[i]) > 0.005*math.Max(1, math.Abs(sums[i])) {
			return false
		}
	}
	return true
}

// decideTotals decides each candidate in file order: a total when its
// additive cells are the sums of the rows since the previous total, of the
// rows up to the next labelled row, or of every data row (a grand total
// above or below its rows). total holds the sums of all data rows.
func decideTotals(cands []totalCandidate, cols []sumColumn, total []float64, nm *nullMarkers) []bool {
	out := make([]bool, len(cands))
	start := make([]float64, len(cols)) // sums at the previous total
	group := make([]float64, len(cols))
	for k, cd := range cands {
		vals, filled, ok := cellsOf(cd.rec, cols, nm)
		if !ok {
			continue
		}
		next := total
		if k+1 < len(cands) {
			next = cands[k+1].before
		}
		match := false
		for _, g := range [][2][]float64{{cd.before, start}, {next, cd.before}, {total, nil}} {
			for i := range group {
				group[i] = g[0][i]
				if g[1] != nil {
					group[i] -= g[1][i]
				}
			}
			if sumsMatch(vals, filled, group) {
				match = true
				break
			}
		}
		if match {
			out[k] = true
			copy(start, cd.before)
		}
	}
	return out
}

// maxTotalCandidates bounds the labelled rows a scan keeps (and their
// cells, with maxTotalCells): past them, labelled rows are data.
const (
	maxTotalCandidates = 1000
	maxTotalCells      = 1 << 20
)

// addTotalCandidate keeps a labelled row and the column sums above it; it
// runs before the row's own numbers are added to the inference's sums.
func (sr *scanResult) addTotalCandidate(rec []string, row int64, label string) {
	if len(sr.totals) >= maxTotalCandidates || (len(sr.totals)+1)*len(rec) > maxTotalCells {
		sr.totalsOver = true
		return
	}
	for len(sr.contrib) < len(sr.inf) {
		sr.contrib = append(sr.contrib, 0)
	}
	before := make([]float64, len(sr.inf))
	for i := range sr.inf {
		before[i] = sr.inf[i].sum - sr.contrib[i]
	}
	for i, v := range rec {
		if f, ok := parseDecimal(v); ok && i < len(sr.contrib) {
			sr.contrib[i] += f
		}
	}
	sr.totals = append(sr.totals, totalCandidate{row: row, label: label, rec: append([]string(nil), rec...), before: before})
}

// decideScanTotals settles the scan's labelled rows once the columns are
// known: the rows to skip, in file order, and a warning for each.
func (c *converter) decideScanTotals(sr *scanResult) (drop []int64) {
	if len(sr.totals) == 0 {
		return nil
	}
	cols := additiveColumns(c.cols, func(i int) bool {
		src := c.cols[i].src
		return src >= len(sr.inf) || !sr.inf[src].varied
	})
	byCol := func(perSrc []float64) []float64 {
		out := make([]float64, len(c.cols))
		for i, col := range c.cols {
			if col.src < len(perSrc) {
				out[i] = perSrc[col.src]
			}
		}
		return out
	}
	cands := make([]totalCandidate, len(sr.totals))
	for k, cd := range sr.totals {
		cands[k] = cd
		cands[k].before = byCol(cd.before)
	}
	total := make([]float64, len(sr.inf))
	for i := range sr.inf {
		total[i] = sr.inf[i].sum
		if i < len(sr.contrib) {
			total[i] -= sr.contrib[i]
		}
	}
	for k, isTotal := range decideTotals(cands, cols, byCol(total), c.opt.markers) {
		cd := cands[k]
		if isTotal {
			drop = append(drop, cd.row)
			c.rep.Warnings = append(c.rep.Warnings, RowError{Row: cd.row, Code: "total_row_skipped", Value: cd.label})
		} else {
			c.rep.Warnings = append(c.rep.Warnings, RowError{Row: cd.row, Code: "total_label_kept", Value: cd.label})
		}
	}
	return drop
}

// decideHeldTotal decides the one-read conversion's held last row from the
// workers' sums and ranges.
func (c *converter) decideHeldTotal(rec []string) bool {
	constant := func(i int) bool {
		seen, lo, hi := false, 0.0, 0.0
		for _, w := range c.workers {
			st := &w.stats[i]
			if !st.seen {
				continue
			}
			if !seen || st.minF < lo {
				lo = st.minF
			}
			if !seen || st.maxF > hi {
				hi = st.maxF
			}
			seen = true
		}
		return !seen || lo == hi
	}
	sums := c.sums()
	return decideTotals([]totalCandidate{{rec: rec, before: sums}}, additiveColumns(c.cols, constant), sums, c.opt.markers)[0]
}
