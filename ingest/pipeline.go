package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/axiomhq/hyperloglog"
	"github.com/zeebo/xxh3"

	"opendata/catalog"
)

// The conversion runs as a pipeline so both cores of a small server work:
//
//	dispatcher ─ batch i ─▶ worker i mod W ─▶ sink (in batch order) ─▶ full.parquet, open.parquet, open.csv
//
// The dispatcher reads and trims records, numbers the data rows and decides
// duplicates and key conflicts in file order (from the scan's sort, or with
// its own hash table in the one-pass mode). Workers parse, validate, mask,
// build Arrow arrays and format open.csv text for their batches, each with
// its own statistics. The sink writes batches strictly in order, so the
// outputs are the same whatever the number of workers, and the statistics
// are merged at the end in worker order, so reports are deterministic.

// item is one record handed to a worker. It holds no pointers, so a
// batch's items cost the garbage collector nothing.
type item struct {
	start, end int   // its trimmed cells: flat[start:end]; a bad record has end -1 and its error at errs[start]
	row        int64 // user-facing row number
	first      int64 // the earlier row a duplicate or conflict refers to (0: not listed)
	dd         uint8 // ddDup or ddConflict
}

const (
	ddDup uint8 = 1 + iota
	ddConflict
)

type batch struct {
	flat  []string
	items []item
	errs  []*RowError
	bytes int // text in flat
}

// A batch ends at BatchRows rows, or earlier when its cells or its text
// reach these budgets, so a wide file or one of long texts cannot make the
// batches in flight (and the Parquet row groups) take more memory than a
// narrow one: memory follows what was read, never a count in the file.
const (
	batchCells = 1 << 18
	batchBytes = 8 << 20
)

// batchRows is how many rows a batch of this file's width holds at most.
func (c *converter) batchRows() int {
	return min(c.opt.BatchRows, max(1, batchCells/max(1, c.width)))
}

func (b *batch) rec(it *item) []string { return b.flat[it.start:it.end:it.end] }

type batchOut struct {
	full, open arrow.RecordBatch // nil when no row of the batch was stored
	csv        []byte
	bytes      int // the batch's input text, which bounds what its records hold
}

// dispatchResult is what the dispatcher leaves for the coordinator.
type dispatchResult struct {
	err     error
	held    *batch // the last data row, held back because it may be a total row
	label   string
	batches int
	data    int64 // data rows seen
}

// worker converts batches; its state is touched by one goroutine at a time.
type worker struct {
	c       *converter
	fullB   []array.Builder
	openB   []*array.StringBuilder // non-nil for masked columns
	cells   []cell
	stats   []colStats
	rep     Report
	sums    []float64
	detect  []detectCount
	csvRec  []string
	csv     []byte
	scratch []byte
	err     error // a panic while converting a batch; later batches are skipped
	maskEnd []int // per column: where its masked value ends in the row's masks
	dataLen []int // per column: text bytes of the last batch, to reserve the next
	pending int
}

// countDetect counts a data row's cells by source column, as the scan does.
func (w *worker) countDetect(rec []string) {
	if w.detect == nil {
		return
	}
	for i, v := range rec[:min(len(rec), len(w.detect))] {
		w.detect[i].add(v)
	}
}

func (c *converter) newWorker() *worker {
	w := &worker{c: c, cells: make([]cell, len(c.cols)), sums: make([]float64, len(c.cols)), maskEnd: make([]int, len(c.cols)), dataLen: make([]int, len(c.cols)),
		fullB: make([]array.Builder, len(c.cols)), openB: make([]*array.StringBuilder, len(c.cols))}
	for i, col := range c.cols {
		w.fullB[i] = array.NewBuilder(c.mem, c.fullSch.Field(i).Type)
		if col.Open == catalog.TreatMasked {
			w.openB[i] = array.NewStringBuilder(c.mem)
		}
	}
	w.stats = newColStats(c.cols)
	if c.verifyDetection {
		w.detect = make([]detectCount, c.width)
	}
	return w
}

func newColStats(cols []Column) []colStats {
	stats := make([]colStats, len(cols))
	for i := range stats {
		// The sparse form counts small cardinalities exactly but costs
		// much to leave; a column whose sample is mostly distinct values
		// will leave it, so it starts dense.
		stats[i].hll = hyperloglog.New14()
		if !cols[i].lowCardinality {
			stats[i].hll = hyperloglog.NewNoSparse()
		}
		stats[i].stride = 1
		// Top values are reported for columns the open variant keeps as they are.
		if (cols[i].Type == catalog.ColString || cols[i].Type == catalog.ColBool) && cols[i].Open == catalog.TreatKept {
			stats[i].top = newValueCounts(maxTopDistinct)
		}
	}
	return stats
}

func (w *worker) release() {
	for _, b := range w.fullB {
		b.Release()
	}
	for _, b := range w.openB {
		if b != nil {
			b.Release()
		}
	}
}

// process converts one batch.
func (w *worker) process(b *batch, out *batchOut) {
	w.reserve(len(b.items))
	for k := range b.items {
		it := &b.items[k]
		w.rep.RowsRead++
		if it.end < 0 {
			w.reject(*b.errs[it.start])
			continue
		}
		w.row(it, b.rec(it))
	}
	out.csv, w.csv = w.csv, out.csv[:0]
	out.full, out.open, out.bytes = nil, nil, b.bytes
	if w.pending > 0 {
		out.full, out.open = w.records()
	}
}

// reserve sizes the builders for a batch of n rows up front (text columns
// by the previous batch's bytes), so they do not grow by doubling and copying.
func (w *worker) reserve(n int) {
	for i, b := range w.fullB {
		b.Reserve(n)
		if sb, ok := b.(*array.StringBuilder); ok && w.dataLen[i] > 0 {
			sb.ReserveData(w.dataLen[i] + w.dataLen[i]/8)
		}
		if ob := w.openB[i]; ob != nil {
			ob.Reserve(n)
		}
	}
}

// records turns the builders' rows into the two variants' record batches.
func (w *worker) records() (arrow.RecordBatch, arrow.RecordBatch) {
	c := w.c
	fullCols := make([]arrow.Array, len(c.cols))
	var openCols []arrow.Array
	for i, col := range c.cols {
		if sb, ok := w.fullB[i].(*array.StringBuilder); ok {
			w.dataLen[i] = sb.DataLen()
		}
		fullCols[i] = w.fullB[i].NewArray()
		switch col.Open {
		case catalog.TreatKept:
			fullCols[i].Retain()
			openCols = append(openCols, fullCols[i])
		case catalog.TreatMasked:
			openCols = append(openCols, w.openB[i].NewArray())
		}
	}
	n := int64(w.pending)
	fr := array.NewRecordBatch(c.fullSch, fullCols, n)
	or := array.NewRecordBatch(c.openSch, openCols, n)
	for _, a := range fullCols {
		a.Release()
	}
	for _, a := range openCols {
		a.Release()
	}
	w.pending = 0
	return fr, or
}

func (w *worker) reject(e RowError) {
	r := &w.rep
	r.RowsRejected++
	if r.RejectedByCode == nil {
		r.RejectedByCode = map[string]int64{}
	}
	r.RejectedByCode[e.Code]++
	if len(r.Rejected) < maxRejectedListed {
		e.Value = short(e.Value, 80)
		r.Rejected = append(r.Rejected, e)
	}
}

func (w *worker) flag(i int, e RowError) {
	st := &w.stats[i]
	st.invalid++
	if len(st.samples) < maxSamples {
		e.Value = short(e.Value, 80)
		st.samples = append(st.samples, e)
	}
}

// row converts one data record: refused whole (its field count, a field
// too large, a value that fails its type, a required value missing, a
// duplicate) or stored.
func (w *worker) row(it *item, rec []string) {
	w.countDetect(rec)
	if !w.fieldCountOK(it.row, rec) || !w.parseRow(it.row, rec) || !w.dedupOK(it) {
		return
	}
	w.store(it.row)
}

// fieldCountOK rejects a record with more filled fields than the header
// has columns (or, in CSV, fewer fields).
func (w *worker) fieldCountOK(row int64, rec []string) bool {
	c := w.c
	width := c.width
	if c.format == "csv" && len(rec) != width {
		extra := false
		for _, v := range rec[min(width, len(rec)):] {
			if v != "" {
				extra = true
			}
		}
		if len(rec) < width || extra {
			w.reject(RowError{Row: row, Code: "field_count", Params: map[string]string{"got": strconv.Itoa(len(rec)), "want": strconv.Itoa(width)}})
			return false
		}
	} else if len(rec) > width {
		for _, v := range rec[width:] {
			if v != "" {
				w.reject(RowError{Row: row, Code: "field_count", Params: map[string]string{"got": strconv.Itoa(len(rec)), "want": strconv.Itoa(width)}})
				return false
			}
		}
	}
	return true
}

// parseRow parses the record's values into w.cells; it rejects the record
// at a field too large, a value that fails its type (unless a null marker)
// or a required value missing.
func (w *worker) parseRow(row int64, rec []string) bool {
	c := w.c
	for i := range c.cols {
		col := &c.cols[i]
		v := ""
		if col.src < len(rec) {
			v = rec[col.src]
		}
		if len(v) > c.opt.MaxFieldBytes {
			w.reject(RowError{Row: row, Column: col.Name, Code: "field_too_large", Params: map[string]string{"bytes": strconv.Itoa(len(v)), "limit": strconv.Itoa(c.opt.MaxFieldBytes)}})
			return false
		}
		if code := w.parse(col, v, &w.cells[i]); code != "" {
			// Only a value that fails its type can be a null marker (未填报).
			m := c.opt.markers.match(v)
			if m < 0 || !nullMarkerTyped(col.Type) {
				w.reject(RowError{Row: row, Column: col.Name, Code: code, Value: v})
				return false
			}
			w.cells[i] = cell{null: true, marker: int16(m + 1)}
		}
		if col.Required && w.cells[i].null {
			w.reject(RowError{Row: row, Column: col.Name, Code: "required"})
			return false
		}
	}
	return true
}

// dedupOK counts the dispatcher's verdict on the record: a duplicate is
// rejected, a key conflict reported (and stored).
func (w *worker) dedupOK(it *item) bool {
	row := it.row
	switch it.dd {
	case ddDup:
		w.rep.Duplicates.Count++
		if len(w.rep.Duplicates.Rows) < maxRejectedListed {
			w.rep.Duplicates.Rows = append(w.rep.Duplicates.Rows, row)
		}
		e := RowError{Row: row, Code: "duplicate_row"}
		if it.first > 0 {
			e.Params = map[string]string{"first": strconv.FormatInt(it.first, 10)}
		}
		w.reject(e)
		return false
	case ddConflict:
		w.rep.KeyConflicts.Count++
		if len(w.rep.KeyConflicts.Samples) < maxSamples {
			var keyText []string
			for _, k := range w.c.keyIdx {
				keyText = append(keyText, w.cells[k].s)
			}
			w.rep.KeyConflicts.Samples = append(w.rep.KeyConflicts.Samples, KeyConflict{Key: strings.Join(keyText, " / "), Row: row, FirstRow: it.first})
		}
	}
	return true
}

// store keeps the parsed row: validate (flag, keep), append, count, mask.
func (w *worker) store(row int64) {
	c := w.c
	w.rep.RowsStored++
	masks := w.scratch[:0]
	for i := range c.cols {
		col, v, st := &c.cols[i], &w.cells[i], &w.stats[i]
		if !v.null {
			w.validate(i, col, v, row)
		}
		w.appendCell(i, col, v, st, row)
		if col.Type == catalog.ColInt {
			w.sums[i] += float64(v.i)
		} else if col.Type == catalog.ColDecimal {
			w.sums[i] += v.f
		}
		if col.Open == catalog.TreatMasked {
			masks = AppendMask(masks, col.maskKind, v.s)
			w.maskEnd[i] = len(masks)
		}
	}
	w.scratch = masks[:0]
	w.appendOpen(string(masks)) // one allocation for the row's masked values
}

// appendOpen appends the row's open variant: its masked values (masked,
// cut at w.maskEnd) to the open builders, and its open.csv record.
func (w *worker) appendOpen(masked string) {
	c := w.c
	w.csvRec = w.csvRec[:0]
	start := 0
	for i := range c.cols {
		col, v := &c.cols[i], &w.cells[i]
		switch col.Open {
		case catalog.TreatKept:
			w.csvRec = append(w.csvRec, v.s)
		case catalog.TreatMasked:
			m := masked[start:w.maskEnd[i]]
			start = w.maskEnd[i]
			w.csvRec = append(w.csvRec, m)
			if v.null {
				w.openB[i].AppendNull()
			} else {
				w.openB[i].Append(m)
			}
		}
	}
	w.csv = appendCSVRecord(w.csv, w.csvRec)
	w.pending++
}

func (w *worker) validate(i int, col *Column, v *cell, row int64) {
	c := w.c
	switch col.Check {
	case "id_number":
		if !ValidIDNumber(v.s) {
			w.flag(i, RowError{Row: row, Column: col.Name, Code: "bad_id_number", Value: Mask("id_number", v.s)})
		}
	case "credit_code":
		if !ValidCreditCode(v.s) {
			w.flag(i, RowError{Row: row, Column: col.Name, Code: "bad_credit_code", Value: v.s})
		}
	case "mobile":
		if !ValidMobile(v.s) {
			w.flag(i, RowError{Row: row, Column: col.Name, Code: "bad_mobile", Value: Mask("mobile", v.s)})
		}
	}
	if col.enum != nil && !col.enum[v.s] {
		w.flag(i, RowError{Row: row, Column: col.Name, Code: "not_in_enum", Value: v.s})
	}
	if col.notFut && ((col.Type == catalog.ColDate && v.d > c.today) || (col.Type == catalog.ColTimestamp && v.t > c.nowMicro)) {
		w.flag(i, RowError{Row: row, Column: col.Name, Code: "in_future", Value: v.s})
	}
	if col.hasMin || col.hasMax || col.re != nil || col.suspect != suspectNone {
		w.checkConstraints(i, col, v, row)
	}
}

func (w *worker) appendCell(i int, col *Column, v *cell, st *colStats, row int64) {
	b := w.fullB[i]
	if v.null {
		b.AppendNull()
		st.nulls++
		if v.marker > 0 {
			if st.markers == nil {
				st.markers = make([]int64, len(w.c.opt.markers.list))
			}
			st.markers[v.marker-1]++
		}
		return
	}
	// Inserting a hash twice changes nothing, so repeats of recent values
	// (most cells of a repetitive column) skip the sketch.
	h := xxh3.HashString(v.s)
	if slot := &st.recent[h&(recentHashes-1)]; *slot != h+1 {
		*slot = h + 1
		st.hll.InsertHash(h)
	}
	var num float64
	numeric := true
	switch col.Type {
	case catalog.ColInt:
		b.(*array.Int64Builder).Append(v.i)
		num = float64(v.i)
	case catalog.ColDecimal:
		b.(*array.Float64Builder).Append(v.f)
		num = v.f
	case catalog.ColDate:
		b.(*array.Date32Builder).Append(arrow.Date32(v.d))
		num = float64(v.d)
	case catalog.ColTimestamp:
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(v.t))
		num = float64(v.t)
	case catalog.ColBool:
		b.(*array.BooleanBuilder).Append(v.b)
		numeric = false
		if st.top != nil {
			st.top.add(v.s)
		}
	default:
		b.(*array.StringBuilder).Append(v.s)
		numeric = false
		if st.top != nil {
			st.top.add(v.s)
		}
	}
	if numeric {
		if !st.seen || num < st.minF {
			st.minF = num
		}
		if !st.seen || num > st.maxF {
			st.maxF = num
		}
		st.n++
		if row%st.stride == 0 {
			st.sample = append(st.sample, num)
			st.sampleRows = append(st.sampleRows, row)
			if len(st.sample) >= histSample {
				st.coarsen()
			}
		}
	} else if col.Open == catalog.TreatKept && col.Type == catalog.ColString {
		if !st.seen || v.s < st.minS {
			st.minS = strings.Clone(v.s)
		}
		if !st.seen || v.s > st.maxS {
			st.maxS = strings.Clone(v.s)
		}
	}
	st.seen = true
}

const histSample = 8192

// recentHashes is the size of each column's filter of recently counted values.
const recentHashes = 256

// maxTopDistinct is how many distinct values a text column may have for
// its most frequent ones to be reported.
const maxTopDistinct = 1000

// The histogram is drawn from the values of the rows whose number is a
// multiple of the stride, a power of two doubled whenever the sample
// fills. The sample is thus the same set of rows however the file was
// split between workers: merged samples are coarsened to the larger stride
// (and further while too full), which lands on the sequential stride.

// coarsen doubles the stride and keeps the rows that are multiples of it.
func (st *colStats) coarsen() {
	st.stride *= 2
	st.keepStride()
}

func (st *colStats) keepStride() {
	k := 0
	for j, r := range st.sampleRows {
		if r%st.stride == 0 {
			st.sample[k], st.sampleRows[k] = st.sample[j], r
			k++
		}
	}
	st.sample, st.sampleRows = st.sample[:k], st.sampleRows[:k]
}

// merge adds another worker's statistics of the same column.
func (st *colStats) merge(o *colStats) {
	st.nulls += o.nulls
	st.invalid += o.invalid
	st.mergeSuspect(o)
	if o.markers != nil {
		if st.markers == nil {
			st.markers = make([]int64, len(o.markers))
		}
		for k, n := range o.markers {
			st.markers[k] += n
		}
	}
	st.samples = mergeByRow(st.samples, o.samples, func(e RowError) int64 { return e.Row }, maxSamples)
	st.hll.Merge(o.hll)
	if o.seen {
		if !st.seen || o.minF < st.minF {
			st.minF = o.minF
		}
		if !st.seen || o.maxF > st.maxF {
			st.maxF = o.maxF
		}
		if !st.seen || o.minS < st.minS {
			st.minS = o.minS
		}
		if !st.seen || o.maxS > st.maxS {
			st.maxS = o.maxS
		}
		st.seen = true
	}
	if st.top != nil {
		st.top.merge(o.top)
	}
	// Bring both samples to the coarser stride, pool them, coarsen while full.
	if o.stride > st.stride {
		st.stride = o.stride
		st.keepStride()
	}
	for j, r := range o.sampleRows {
		if r%st.stride == 0 {
			st.sample, st.sampleRows = append(st.sample, o.sample[j]), append(st.sampleRows, r)
		}
	}
	for len(st.sample) >= histSample {
		st.coarsen()
	}
	st.n += o.n
}

// mergeByRow merges two lists that are each in row order, keeping the first max.
func mergeByRow[T any](a, b []T, row func(T) int64, max int) []T {
	if len(b) == 0 {
		return a
	}
	out := append(append(make([]T, 0, len(a)+len(b)), a...), b...)
	sort.SliceStable(out, func(i, j int) bool { return row(out[i]) < row(out[j]) })
	if len(out) > max {
		out = out[:max]
	}
	return out
}

// mergeReport adds a worker's counts and lists to the converter's report.
func (c *converter) mergeReport(o *Report) {
	r := &c.rep
	r.RowsRead += o.RowsRead
	r.RowsStored += o.RowsStored
	r.RowsRejected += o.RowsRejected
	for code, n := range o.RejectedByCode {
		if r.RejectedByCode == nil {
			r.RejectedByCode = map[string]int64{}
		}
		r.RejectedByCode[code] += n
	}
	r.Rejected = mergeByRow(r.Rejected, o.Rejected, func(e RowError) int64 { return e.Row }, maxRejectedListed)
	r.Duplicates.Count += o.Duplicates.Count
	r.Duplicates.Rows = mergeByRow(r.Duplicates.Rows, o.Duplicates.Rows, func(n int64) int64 { return n }, maxRejectedListed)
	r.KeyConflicts.Count += o.KeyConflicts.Count
	r.KeyConflicts.Samples = mergeByRow(r.KeyConflicts.Samples, o.KeyConflicts.Samples, func(k KeyConflict) int64 { return k.Row }, maxSamples)
}

// parse turns a trimmed value into the column's type; a non-empty code
// names why it cannot.
func (w *worker) parse(col *Column, v string, out *cell) (code string) {
	*out = cell{s: v}
	if v == "" {
		out.null = true
		return ""
	}
	switch col.Type {
	case catalog.ColString:
	case catalog.ColInt:
		n, ok := parseInt(v)
		if !ok {
			if _, isNum := parseDecimal(v); isNum {
				return "not_an_integer"
			}
			return "not_a_number"
		}
		out.i, out.s = n, w.canonical(v, strconv.AppendInt(w.scratch, n, 10))
	case catalog.ColDecimal:
		norm := normNumber(v)
		f, err := strconv.ParseFloat(norm, 64)
		if norm == "" || err != nil || math.IsInf(f, 0) {
			return "not_a_number"
		}
		out.f, out.s = f, norm
	case catalog.ColBool:
		b, ok := parseBool(v)
		if !ok {
			return "not_a_bool"
		}
		out.b, out.s = b, strconv.FormatBool(b)
	case catalog.ColDate:
		return w.dateCell(v, out)
	case catalog.ColTimestamp:
		return w.timestampCell(v, out)
	}
	return ""
}

// dateCell parses a date (an Excel serial in a workbook, or a timestamp's
// day) into out.
func (w *worker) dateCell(v string, out *cell) (code string) {
	c := w.c
	d, ok := parseDate(v)
	if !ok && c.isXLSX {
		if iso, isSerial := excelSerialDate(v); isSerial {
			d, ok = parseDate(iso[:10])
		}
	}
	if !ok {
		if ts, isTS := parseTimestamp(v, c.opt.Location); isTS {
			t := time.UnixMicro(ts).In(c.opt.Location)
			d, ok = int32(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix()/86400), true
		}
	}
	if !ok {
		return "not_a_date"
	}
	y, m, dd := civil(int64(d))
	out.d, out.s = d, w.canonical(v, appendDate(w.scratch, y, m, dd))
	return ""
}

// timestampCell parses a timestamp (an Excel serial in a workbook, or a
// date at midnight) into out.
func (w *worker) timestampCell(v string, out *cell) (code string) {
	c := w.c
	t, ok := parseTimestamp(v, c.opt.Location)
	if !ok && c.isXLSX {
		if iso, isSerial := excelSerialDate(v); isSerial {
			v = iso
			t, ok = parseTimestamp(iso, c.opt.Location)
			if !ok {
				if d, isD := parseDate(iso); isD {
					u := time.Unix(int64(d)*86400, 0).UTC()
					t, ok = time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, c.opt.Location).UnixMicro(), true
				}
			}
		}
	}
	if !ok {
		if d, isD := parseDate(v); isD {
			u := time.Unix(int64(d)*86400, 0).UTC()
			t, ok = time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, c.opt.Location).UnixMicro(), true
		}
	}
	if !ok {
		return "not_a_timestamp"
	}
	lt := time.UnixMicro(t).In(c.opt.Location)
	y, m, dd := lt.Date()
	hh, mm, ss := lt.Clock()
	b := append(appendDate(w.scratch, y, int(m), dd), ' ')
	b = appendTwo(append(appendTwo(append(appendTwo(b, hh), ':'), mm), ':'), ss)
	out.t, out.s = t, w.canonical(v, b)
	return ""
}

// canonical returns v when formatted (the canonical spelling, appended to
// the empty scratch buffer) is the same text, so already-canonical values
// cost no allocation; else a copy of formatted.
func (w *worker) canonical(v string, formatted []byte) string {
	w.scratch = formatted[:0] // keep a grown buffer
	if string(formatted) == v {
		return v
	}
	return string(formatted)
}

func appendTwo(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }

func appendDate(b []byte, y, m, d int) []byte {
	if y >= 0 && y <= 9999 {
		b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10))
	} else {
		b = strconv.AppendInt(b, int64(y), 10)
	}
	return appendTwo(append(appendTwo(append(b, '-'), m), '-'), d)
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (H. Hinnant's algorithm), without going through time.Time.
func civil(days int64) (y, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		yy++
	}
	return int(yy), m, d
}

// workerCount is how many conversion workers run: one per core the process
// may use, at most eight.
func workerCount() int { return min(8, max(1, runtime.GOMAXPROCS(0))) }

// run converts every record of src through the pipeline. drop are the
// rows the scan found to be totals, skipped. dedup decides a data row's
// duplicate state in file order (nil: none). In the one-read conversion
// (c.onePass) held, if any, is the last data row when it is labelled as a
// total, which the caller may still store with storeHeld.
func (c *converter) run(ctx context.Context, src rowReader, skip int, drop []int64, dedup func(rec []string, idx uint32, row int64) (uint8, int64, error)) (*dispatchResult, error) {
	nw := workerCount()
	c.workers = make([]*worker, nw)
	ins := make([]chan *batch, nw)
	outs := make([]chan *batchOut, nw)
	free := make(chan *batch, nw+2)
	freeOut := make(chan *batchOut, nw+2)
	for k := range c.workers {
		c.workers[k] = c.newWorker()
		ins[k], outs[k] = make(chan *batch, 1), make(chan *batchOut, 1)
		go func(w *worker, in chan *batch, out chan *batchOut) {
			for b := range in {
				var o *batchOut
				select {
				case o = <-freeOut:
				default:
					o = &batchOut{}
				}
				if w.err == nil {
					w.err = guard(func() { w.process(b, o) })
				}
				select {
				case free <- b:
				default:
				}
				out <- o
			}
			close(out)
		}(c.workers[k], ins[k], outs[k])
	}
	done := make(chan *dispatchResult, 1)
	stop := make(chan struct{})
	go func() { done <- c.dispatch(ctx, src, skip, drop, dedup, ins, free, stop) }()

	var sinkErr error
	for seq := 0; ; seq++ {
		o, ok := <-outs[seq%nw]
		if !ok {
			break
		}
		if sinkErr == nil {
			sinkErr = c.sink(o)
			if sinkErr != nil {
				close(stop)
			}
		} else {
			releaseOut(o)
		}
		select {
		case freeOut <- o:
		default:
		}
	}
	res := <-done
	if sinkErr != nil {
		return res, sinkErr
	}
	for _, w := range c.workers {
		if w.err != nil {
			return res, w.err
		}
	}
	return res, res.err
}

// guard runs f and turns a panic into an error: a conversion runs in a
// server's job, where one file must never take the process down.
func guard(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = panicError(r)
		}
	}()
	f()
	return nil
}

func panicError(r any) error {
	return fmt.Errorf("internal error while converting: %v\n%s", r, debug.Stack())
}

func releaseOut(o *batchOut) {
	if o.full != nil {
		o.full.Release()
		o.open.Release()
	}
	o.full, o.open = nil, nil
}

// sink writes one batch's output; the Parquet writers take ownership of the records.
func (c *converter) sink(o *batchOut) error {
	if len(o.csv) > 0 {
		if _, err := c.csvBuf.Write(o.csv); err != nil {
			releaseOut(o)
			return err
		}
	}
	if o.full != nil {
		full, open := o.full, o.open
		o.full, o.open = nil, nil
		return errors.Join(c.full.write(full, o.bytes), c.open.write(open, o.bytes))
	}
	return nil
}

// storeHeld stores the held last row (a total-row candidate that turned out
// to be data) with the first worker, which is idle by now.
func (c *converter) storeHeld(held *batch) error {
	var o batchOut
	c.workers[0].process(held, &o)
	return c.sink(&o)
}

// sums adds up the workers' column sums (for the total-row check).
func (c *converter) sums() []float64 {
	sums := make([]float64, len(c.cols))
	for _, w := range c.workers {
		for i, s := range w.sums {
			sums[i] += s
		}
	}
	return sums
}

// mergeWorkers folds the workers' counts, lists and statistics into the
// converter's report, in worker order.
func (c *converter) mergeWorkers() {
	c.stats = newColStats(c.cols)
	for _, w := range c.workers {
		c.mergeReport(&w.rep)
		for i := range c.stats {
			c.stats[i].merge(&w.stats[i])
		}
	}
}

// detectedOverAll is what the personal-data detection concludes over every
// row the workers saw, by source column.
func (c *converter) detectedOverAll() []string {
	counts := make([]detectCount, c.width)
	for _, w := range c.workers {
		for i, d := range w.detect {
			counts[i].merge(d)
		}
	}
	out := make([]string, len(counts))
	for i := range counts {
		out[i] = counts[i].detected()
	}
	return out
}

// dispatch reads records, trims them, numbers data rows and hands batches to
// the workers in turn. It closes the workers' inputs when done.
func (c *converter) dispatch(ctx context.Context, src rowReader, skip int, drop []int64, dedup func([]string, uint32, int64) (uint8, int64, error), ins []chan *batch, free chan *batch, stop chan struct{}) (res *dispatchResult) {
	d := &dispatcher{c: c, src: src, drop: drop, dedup: dedup, ins: ins, free: free, stop: stop, res: &dispatchResult{}, rows: c.batchRows()}
	res = d.res
	defer func() {
		for _, in := range ins {
			close(in)
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			res.err = panicError(r)
		}
	}()
	d.cur = d.newBatch()
	if !d.readAll(ctx, skip) {
		return res
	}
	d.holdTotal()
	if len(d.cur.items) > 0 {
		d.send()
	}
	return res
}

// dispatcher is dispatch's state: the batch being filled and the data
// rows counted so far.
type dispatcher struct {
	c        *converter
	src      rowReader
	drop     []int64 // rows the scan found to be totals, still ahead
	dedup    func([]string, uint32, int64) (uint8, int64, error)
	ins      []chan *batch
	free     chan *batch
	stop     chan struct{}
	res      *dispatchResult
	cur      *batch
	rows     int // a batch's most rows
	dataIdx  uint32
	labelled bool // one read: the last row is labelled as a total
}

// newBatch is a free batch, emptied, or a new one.
func (d *dispatcher) newBatch() *batch {
	select {
	case b := <-d.free:
		clear(b.flat)
		clear(b.items)
		b.flat, b.items, b.errs, b.bytes = b.flat[:0], b.items[:0], b.errs[:0], 0
		return b
	default:
		// Grown by what is read; reused batches keep their size.
		return &batch{}
	}
}

func (d *dispatcher) full() bool {
	return len(d.cur.items) >= d.rows || len(d.cur.flat) >= batchCells || d.cur.bytes >= batchBytes
}

// send hands the batch to the next worker in turn and starts another;
// false when the conversion stopped.
func (d *dispatcher) send() bool {
	select {
	case d.ins[d.res.batches%len(d.ins)] <- d.cur:
	case <-d.stop:
		return false
	}
	d.res.batches++
	d.cur = d.newBatch()
	return true
}

// readAll reads the records into batches; false when it stopped before the
// end (an error in res.err, or the conversion stopped).
func (d *dispatcher) readAll(ctx context.Context, skip int) bool {
	records := 0
	var lastProgress time.Time // report at once that the conversion started
	for {
		if records%4096 == 0 {
			if err := ctx.Err(); err != nil {
				d.res.err = err
				return false
			}
			if d.c.opt.Progress != nil && time.Since(lastProgress) > 200*time.Millisecond {
				lastProgress = time.Now()
				d.c.opt.Progress(Progress{Phase: "convert", Rows: d.res.data, Bytes: d.src.Offset(), TotalBytes: d.c.sourceBytes})
			}
		}
		rec, err := d.src.Next()
		if errors.Is(err, io.EOF) {
			return true
		}
		records++
		ok := true
		switch {
		case err != nil:
			ok = d.rowError(err)
		case records > skip:
			ok = d.record(rec)
		}
		if !ok {
			return false
		}
	}
}

// rowError puts a bad record's error in the batch, in file order; false
// for an error that is not a record's.
func (d *dispatcher) rowError(err error) bool {
	re, ok := isRowError(err)
	if !ok {
		d.res.err = err
		return false
	}
	if d.full() && !d.send() {
		return false
	}
	d.cur.items = append(d.cur.items, item{start: len(d.cur.errs), end: -1, row: re.Row})
	d.cur.errs = append(d.cur.errs, re)
	return true
}

// record trims a record into the batch unless it is blank or a total row
// the scan found, and decides whether it is a duplicate.
func (d *dispatcher) record(rec []string) bool {
	start := len(d.cur.flat)
	size := 0
	for _, v := range rec {
		v = trimCell(v)
		size += len(v)
		d.cur.flat = append(d.cur.flat, v)
	}
	if size == 0 {
		d.cur.flat = d.cur.flat[:start]
		return true
	}
	if len(d.drop) > 0 && d.src.Row() == d.drop[0] { // a total row
		d.drop = d.drop[1:]
		d.cur.flat = d.cur.flat[:start]
		d.dataIdx++ // the scan counted it
		return true
	}
	if d.c.onePass {
		// A labelled row followed by data is a subtotal: the scan decides those.
		if d.labelled {
			d.res.err = errTwoPasses
			return false
		}
		d.labelled = totalLabelOf(d.cur.flat[start:]) != ""
	}
	// A full batch goes only when another row comes, so the last data
	// row is still at hand at the end.
	if d.full() {
		moved := append([]string(nil), d.cur.flat[start:]...)
		d.cur.flat = d.cur.flat[:start]
		if !d.send() {
			return false
		}
		d.cur.flat = append(d.cur.flat, moved...)
		start = 0
	}
	d.cur.bytes += size
	it := item{start: start, end: len(d.cur.flat), row: d.src.Row()}
	if d.dedup != nil {
		var err error
		if it.dd, it.first, err = d.dedup(d.cur.rec(&it), d.dataIdx, it.row); err != nil {
			d.res.err = err
			return false
		}
	}
	d.dataIdx++
	d.res.data++
	d.cur.items = append(d.cur.items, it)
	return true
}

// holdTotal: in one read, the last data row is a total row candidate when
// it is labelled (合计); it is held back in a batch of its own, decided by
// finishRun.
func (d *dispatcher) holdTotal() {
	cur := d.cur
	for k := len(cur.items) - 1; k >= 0 && d.labelled; k-- {
		it := cur.items[k]
		if it.end < 0 {
			continue
		}
		if label := totalLabelOf(cur.rec(&it)); label != "" {
			// Its own batch: the batch's cells are reused once it is free.
			rec := append([]string(nil), cur.rec(&it)...)
			it.start, it.end = 0, len(rec)
			d.res.held, d.res.label = &batch{flat: rec, items: []item{it}}, label
			cur.items = append(cur.items[:k], cur.items[k+1:]...)
		}
		break
	}
}
