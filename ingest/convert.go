// Package ingest turns a department's file (CSV in UTF-8 or GBK, XLSX, JSON,
// NDJSON) into a clean, typed version: full.parquet (every column, internal),
// open.parquet and open.csv (personal data masked or dropped), schema.json
// and quality.json. It streams, so memory stays bounded by the batch size
// and the duplicate check's budget. A file is scanned (header, type
// inference, personal data, duplicates by external sort) and then converted
// (validation, masking, writing) on parallel workers (pipeline.go); a CSV
// file whose columns are all declared is converted in the same read that
// finds its header, when its rows fit the duplicate check's hash table.
package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/axiomhq/hyperloglog"
	"github.com/zeebo/xxh3"

	"opendata/catalog"
)

// Options control one conversion.
type Options struct {
	Format           string // csv, xlsx, json, ndjson; "" from the file name
	Encoding         string // "" to detect; utf-8, gbk, gb18030
	Sheet            string // XLSX sheet name or 1-based index; "" to choose (chooseSheet)
	Delimiter        rune   // CSV; 0 to detect
	MaxFieldBytes    int
	MaxColumns       int // most columns (fields in a record, keys in JSON objects)
	MaxHeaderBytes   int // largest header record (the column names together)
	MaxUnzipBytes    int64
	DedupMemoryBytes int64
	TempDir          string
	Location         *time.Location
	Now              time.Time
	Items            []catalog.Item // declared data items; they override inference
	KeyColumns       []string
	// MaxRejectRatio, when set, is the largest share of rows that may be
	// rejected (CheckRejectRatio); past it the conversion fails, its
	// report kept. nil: no file-level limit.
	MaxRejectRatio *float64
	BatchRows      int
	Progress       func(Progress)
	// NullMarkers are read as null in number and date columns (未填报, —);
	// nil: DefaultNullMarkers, empty: none.
	NullMarkers []string
	// Name is shown in errors (the uploaded file's name).
	Name string

	markers *nullMarkers
}

// Progress is reported while a conversion runs.
type Progress struct {
	Phase      string `json:"phase"` // scan, convert
	Rows       int64  `json:"rows"`
	Bytes      int64  `json:"bytes"`
	TotalBytes int64  `json:"total_bytes"`
}

func (o *Options) defaults() {
	if o.MaxFieldBytes <= 0 {
		o.MaxFieldBytes = 1 << 20
	}
	if o.MaxColumns <= 0 {
		o.MaxColumns = 2000
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 256 << 10
	}
	if o.MaxUnzipBytes <= 0 {
		o.MaxUnzipBytes = 256 << 20
	}
	if o.DedupMemoryBytes <= 0 {
		o.DedupMemoryBytes = 32 << 20
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.BatchRows <= 0 {
		o.BatchRows = 8 << 10
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.markers == nil {
		if o.NullMarkers == nil {
			o.markers = newNullMarkers(DefaultNullMarkers)
		} else {
			o.markers = newNullMarkers(o.NullMarkers)
		}
	}
}

// Column is one output column and what happens to it in the open variant.
type Column struct {
	Name        string             `json:"name"`
	Type        catalog.ColumnType `json:"type"`
	Description string             `json:"description,omitempty"`
	Declared    bool               `json:"declared"`
	Personal    bool               `json:"personal"`
	Detected    string             `json:"detected,omitempty"`    // id_number, mobile, credit_code, name, address, bank_card, email, phone
	DetectedBy  string             `json:"detected_by,omitempty"` // header or values: why it was detected
	Check       string             `json:"check,omitempty"`
	Open        catalog.Treatment  `json:"open"` // kept, masked or dropped in the open variant
	Required    bool               `json:"required,omitempty"`

	src            int
	lowCardinality bool
	enum           map[string]bool
	notFut         bool
	maskKind       string
	valueKind      string // what the first rows' values look like (the one read checks every row against it)
	// Declared bounds (or a coordinate's) in cellNumber's unit, pattern, profiling.
	hasMin, hasMax   bool
	minV, maxV       float64
	minText, maxText string
	rangeCode        string // impossible_longitude, impossible_latitude: bounds from the header
	re               *regexp.Regexp
	pattern          string
	suspect          uint8
}

// Result is a finished conversion: the files in Dir and what they hold.
type Result struct {
	Format    string            `json:"format"`
	Encoding  string            `json:"encoding,omitempty"`
	HeaderRow int64             `json:"header_row"`
	Sheet     *SheetChoice      `json:"sheet,omitempty"` // XLSX: the sheet read, the sheets skipped, a note sheet's text
	Columns   []Column          `json:"columns"`
	Report    Report            `json:"quality"`
	Files     map[string]string `json:"-"` // object name → local path
	Dir       string            `json:"-"`
	passes    int               // reads of the file: 1 or 2
}

// Cleanup removes the local output files.
func (r *Result) Cleanup() {
	if r != nil && r.Dir != "" {
		os.RemoveAll(r.Dir)
	}
}

func openReader(path, format string, keys []string, opt Options) (rowReader, error) {
	switch format {
	case "csv":
		r, err := openCSV(path, opt)
		if err != nil {
			return nil, err
		}
		return newPrefetch(r), nil
	case "xlsx":
		return openXLSX(path, opt)
	case "json":
		return openJSON(path, false, keys, opt)
	case "ndjson":
		return openJSON(path, true, keys, opt)
	}
	return nil, ErrUnknownFormat
}

type scanResult struct {
	header      []string
	headerRow   int64
	skip        int // records before the first data record
	dataRows    int64
	inf         []inference
	totals      []totalCandidate // labelled rows (合计, 小计), in file order
	totalsOver  bool             // more labelled rows than maxTotalCandidates: the later ones are data
	contrib     []float64        // per source column: the candidates' own numbers (in the inference's sums)
	encoding    string
	sourceBytes int64
	titleRows   []int64
	warnings    []RowError // the readers' (keys few records carry)
	sheet       *SheetChoice
	keys        []string // JSON, NDJSON: the keys as written, in column order
	dedup       *dedupResult
	complete    bool // the scan read to the end of the file
}

// trimCell removes surrounding white space, the ideographic space (U+3000)
// included.
func trimCell(s string) string {
	if s == "" || !maybeSpaceAt(s, 0) && !maybeSpaceAt(s, lastRuneStart(s)) {
		return s // the common case, decided from two bytes
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "\u3000") || strings.HasSuffix(s, "\u3000") {
		s = strings.Trim(s, " \t\u3000")
	}
	return s
}

// maybeSpaceAt reports whether the rune starting at s[i] may be white
// space: an ASCII space or a rune whose UTF-8 lead byte is shared with one
// (U+0085, U+00A0, U+1680, U+2000–U+205F, U+3000). Han characters and
// other text lead with different bytes.
func maybeSpaceAt(s string, i int) bool {
	switch c := s[i]; {
	case c < 0x80:
		return c == ' ' || c >= '\t' && c <= '\r'
	case c == 0xC2 || c == 0xE1 || c == 0xE2 || c == 0xE3:
		return true
	}
	return false
}

// lastRuneStart is the index of the last rune's first byte.
func lastRuneStart(s string) int {
	i := len(s) - 1
	for j := 0; j < 3 && i > 0 && s[i]&0xC0 == 0x80; j++ {
		i--
	}
	return i
}

func nonEmpty(rec []string) int {
	n := 0
	for _, v := range rec {
		if trimCell(v) != "" {
			n++
		}
	}
	return n
}

// pickHeader chooses the header among the first records: the first one that
// names most declared items, or else the first that is about as wide as the
// widest. Rows above it are title rows.
func pickHeader(buf [][]string, items []catalog.Item) int {
	if len(items) > 0 {
		names := map[string]bool{}
		for _, it := range items {
			names[it.Name] = true
		}
		for i, rec := range buf {
			hit := 0
			for _, v := range rec {
				if names[trimCell(v)] {
					hit++
				}
			}
			if ne := nonEmpty(rec); ne > 0 && hit*2 >= ne {
				return i
			}
		}
	}
	widest := 0
	for _, rec := range buf {
		widest = max(widest, nonEmpty(rec))
	}
	for i, rec := range buf {
		if ne := nonEmpty(rec); ne > 0 && ne*10 >= widest*6 {
			return i
		}
	}
	return 0
}

func cleanHeader(rec []string) []string {
	out := make([]string, len(rec))
	seen := map[string]int{}
	for i, v := range rec {
		v = trimCell(strings.TrimPrefix(v, "\uFEFF"))
		v = strings.Map(func(r rune) rune {
			if r < 0x20 {
				return ' '
			}
			return r
		}, v)
		if v == "" {
			v = fmt.Sprintf("column_%d", i+1)
		}
		if n := seen[v]; n > 0 {
			seen[v] = n + 1
			v = fmt.Sprintf("%s_%d", v, n+1)
		} else {
			seen[v] = 1
		}
		out[i] = v
	}
	// Trailing generated names of empty header cells with no data are trimmed later.
	return out
}

func (c *converter) fileErr(err error) error {
	return &FileError{File: c.opt.Name, Err: err}
}

// hashRow hashes a trimmed data row's content (up to its last filled cell)
// and its key cells, for the duplicate and key-conflict checks; without key
// columns the key is the content.
func hashRow(rec []string, keyIdx []int, buf *[]byte) (row, key uint64) {
	last := len(rec)
	for last > 0 && rec[last-1] == "" {
		last--
	}
	b := (*buf)[:0]
	for _, v := range rec[:last] {
		b = append(append(b, v...), 0x1f)
	}
	row, key = xxh3.Hash(b), 0
	if keyIdx == nil {
		*buf = b
		return row, row
	}
	b = b[:0]
	for _, i := range keyIdx {
		if i < len(rec) {
			b = append(b, rec[i]...)
		}
		b = append(b, 0x1f)
	}
	*buf = b
	return row, xxh3.Hash(b) ^ 0x9e3779b97f4a7c15
}

// scan reads a file to find its header, infer column types and spot
// personal data, and (unless head) to find duplicates and key conflicts by
// sorting row hashes. With head it stops after sampleRows data rows: enough
// for the one-pass conversion, which checks the rest as it goes.
func scan(ctx context.Context, r rowReader, format string, opt Options, head bool, size int64) (*scanResult, error) {
	sr := &scanResult{encoding: encodingOf(r), sourceBytes: size}
	keyed := format == "json" || format == "ndjson"
	declared := map[string]catalog.ColumnType{}
	for _, it := range opt.Items {
		declared[it.Name] = it.Type
	}
	var buf [][]string
	var bufRows []int64
	records := 0
	headerDone := keyed
	var sorter *dedupSorter
	if !head {
		sorter = newDedupSorter(opt.TempDir, opt.DedupMemoryBytes)
		defer sorter.cleanup()
	}
	var hashBuf []byte
	var keyIdx []int
	keyIdxFor := func() []int {
		if len(opt.KeyColumns) == 0 {
			return nil
		}
		if keyed {
			keyIdx = keyIdx[:0]
			keys := r.Keys()
			for _, k := range opt.KeyColumns {
				for i, name := range keys {
					if name == k {
						keyIdx = append(keyIdx, i)
					}
				}
			}
			return keyIdx
		}
		if keyIdx == nil {
			keyIdx = keyIndexes(sr.header, opt.KeyColumns)
		}
		return keyIdx
	}
	var sortErr error
	var trimmed []string
	addData := func(rec []string, rowNum int64) {
		trimmed = trimmed[:0]
		empty := true
		for _, v := range rec {
			v = trimCell(v)
			empty = empty && v == ""
			trimmed = append(trimmed, v)
		}
		if empty {
			return
		}
		sr.dataRows++
		if sorter != nil {
			rowHash, keyHash := hashRow(trimmed, keyIdxFor(), &hashBuf)
			if err := sorter.add(dedupRec{key: keyHash, row: rowHash, idx: uint32(sr.dataRows - 1), num: uint32(rowNum)}); err != nil && sortErr == nil {
				sortErr = err
			}
		}
		for len(sr.inf) < len(trimmed) {
			in := inference{}
			// A declared column has its type already: only look for personal
			// data, and add up numbers (for the total-row check).
			if i := len(sr.inf); i < len(sr.header) && declared[trimCell(sr.header[i])] != "" {
				t := declared[trimCell(sr.header[i])]
				in.dead, in.sumDeclared = true, t == TInt || t == TDecimal
			}
			sr.inf = append(sr.inf, in)
		}
		if label := totalLabelOf(trimmed); label != "" {
			sr.addTotalCandidate(trimmed, rowNum, label)
		}
		for i, v := range trimmed {
			sr.inf[i].add(v, opt.Location, opt.markers)
		}
	}
	for {
		if head && headerDone && sr.dataRows >= sampleRows {
			break
		}
		if records%8192 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if opt.Progress != nil {
				opt.Progress(Progress{Phase: "scan", Rows: sr.dataRows, Bytes: r.Offset(), TotalBytes: sr.sourceBytes})
			}
		}
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			sr.complete = true
			break
		}
		if err != nil {
			if re, ok := isRowError(err); ok {
				_ = re // a bad record is reported in the conversion pass
				records++
				continue
			}
			return nil, err
		}
		records++
		if !headerDone {
			cp := make([]string, len(rec))
			copy(cp, rec)
			buf, bufRows = append(buf, cp), append(bufRows, r.Row())
			if len(buf) < 20 {
				continue
			}
			if err := sr.decideHeader(buf, bufRows, opt, addData); err != nil {
				return nil, err
			}
			headerDone, buf = true, nil
			continue
		}
		addData(rec, r.Row())
	}
	if !headerDone {
		if len(buf) == 0 {
			return nil, ErrEmpty
		}
		if err := sr.decideHeader(buf, bufRows, opt, addData); err != nil {
			return nil, err
		}
	}
	if keyed {
		sr.orderKeyed(r)
	}
	if sc := sheetChoiceOf(r); sc != nil {
		sr.sheet, sr.warnings = sc, append(sc.warnings(), sr.warnings...)
	}
	if len(sr.header) == 0 {
		return nil, ErrEmpty
	}
	if sr.dataRows == 0 {
		return nil, ErrNoRows
	}
	if sortErr != nil {
		return nil, sortErr
	}
	if sorter != nil {
		dd, err := sorter.finish(sr.dataRows, maxRejectedListed)
		if err != nil {
			return nil, err
		}
		sr.dedup = dd
	}
	for len(sr.inf) < len(sr.header) {
		sr.inf = append(sr.inf, inference{})
	}
	return sr, nil
}

// keyIndexes finds the key columns in a header.
func keyIndexes(header, keys []string) []int {
	idx := []int{}
	for _, k := range keys {
		for i, name := range header {
			if name == k {
				idx = append(idx, i)
			}
		}
	}
	return idx
}

// decideHeader picks the header among the first records (refusing one past
// max_header_kb before anything is sized by it) and feeds the records
// after it to the scan as data.
func (sr *scanResult) decideHeader(buf [][]string, rows []int64, opt Options, addData func([]string, int64)) error {
	h := pickHeader(buf, opt.Items)
	size := 0
	for _, v := range buf[h] {
		size += len(v) + 1
	}
	if size > opt.MaxHeaderBytes {
		return overLimit("header_too_large", rows[h], int64(size), int64(opt.MaxHeaderBytes), "max_header_kb")
	}
	sr.header = cleanHeader(buf[h])
	sr.skip = h + 1
	sr.headerRow = int64(h + 1)
	for i := 0; i < h; i++ {
		sr.titleRows = append(sr.titleRows, int64(i+1))
	}
	for i, rec := range buf[h+1:] {
		addData(rec, rows[h+1+i])
	}
	return nil
}

// cell is one parsed value.
type cell struct {
	null   bool
	marker int16  // a null read from the null marker of this index + 1 (未填报)
	s      string // canonical text (what open.csv holds)
	i      int64
	f      float64
	b      bool
	d      int32
	t      int64
}

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

type converter struct {
	opt             Options
	format          string
	width           int // columns in the header
	sourceBytes     int64
	cols            []Column
	stats           []colStats // merged from the workers at the end
	rep             Report
	full            *asyncWriter
	open            *asyncWriter
	fullSch         *arrow.Schema
	openSch         *arrow.Schema
	csvFile         *os.File
	csvBuf          *bufio.Writer
	dd              *dedupResult
	keyIdx          []int // key columns, as indexes into cols
	today           int32
	nowMicro        int64
	isXLSX          bool
	verifyDetection bool // one pass: count personal-data look-alikes over every row
	onePass         bool
	drop            []int64 // rows the scan found to be totals (合计, 小计)
	mem             memory.Allocator
	workers         []*worker
}

// errTwoPasses: the one-pass conversion cannot decide alone (undeclared
// columns, too many rows for its hash table, or personal data the first
// rows did not show); Convert starts again with a scan.
var errTwoPasses = errors.New("needs a scan")

// Convert writes the outputs into a new directory under opt.TempDir. On
// error nothing is left behind. A CSV file whose columns are all declared
// is converted in one read when its rows fit the duplicate check's memory;
// any other file is scanned first (header, types, personal data, duplicates
// by external sort) and converted in a second read. Both give the same result.
func Convert(ctx context.Context, path string, opt Options) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil { // outputs are removed by output's own guard
			res, err = nil, panicError(r)
		}
	}()
	return convertFile(ctx, path, opt)
}

func convertFile(ctx context.Context, path string, opt Options) (*Result, error) {
	opt.defaults()
	if opt.Name == "" {
		opt.Name = filepath.Base(path)
	}
	format := opt.Format
	if format == "" {
		format = DetectFormat(opt.Name)
	}
	if format == "" {
		return nil, (&converter{opt: opt}).fileErr(ErrUnknownFormat)
	}
	if format == "csv" && len(opt.Items) > 0 {
		res, err := convertOnePass(ctx, path, opt)
		if !errors.Is(err, errTwoPasses) {
			return res, err
		}
	}
	c := newConverter(opt, format)
	r, err := openReader(path, format, nil, opt)
	if err != nil {
		return nil, c.fileErr(err)
	}
	sr, err := scan(ctx, r, format, opt, false, fileSize(path))
	r.Close()
	if err != nil {
		return nil, c.fileErr(err)
	}
	res, err := c.output(sr, func() error { return c.convert(ctx, path, format, sr) })
	if res != nil {
		res.passes = 2
	}
	return res, err
}

func newConverter(opt Options, format string) *converter {
	return &converter{opt: opt, format: format, isXLSX: format == "xlsx", mem: memory.DefaultAllocator}
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// convertOnePass reads the first rows to settle the header and what the
// columns hold, then converts the whole file in the same read, deciding
// duplicates with a hash table; it confirms at the end that the personal
// data detection over every row agrees with the first rows.
func convertOnePass(ctx context.Context, path string, opt Options) (*Result, error) {
	c := newConverter(opt, "csv")
	cr, err := openCSV(path, opt)
	if err != nil {
		return nil, c.fileErr(err)
	}
	rec := &recorder{inner: cr}
	defer rec.Close()
	sr, err := scan(ctx, rec, "csv", opt, true, fileSize(path))
	if err != nil {
		return nil, c.fileErr(err)
	}
	declared := map[string]bool{}
	for _, it := range opt.Items {
		declared[it.Name] = true
	}
	for _, name := range sr.header {
		if !declared[name] || strings.HasPrefix(name, "column_") {
			return nil, errTwoPasses // a type to infer from every row
		}
	}
	expected := estimateRows(sr, cr)
	var keyIdx []int
	if len(opt.KeyColumns) > 0 {
		keyIdx = keyIndexes(sr.header, opt.KeyColumns)
	}
	table, ok := newDedupTable(expected, opt.DedupMemoryBytes, keyIdx != nil, rand.Uint64())
	if !ok {
		return nil, errTwoPasses // the external sort keeps memory bounded
	}
	rec.replay()
	c.verifyDetection, c.onePass = true, true
	res, err := c.output(sr, func() error {
		var buf []byte
		res, err := c.run(ctx, rec, sr.skip, nil, func(r []string, _ uint32, row int64) (uint8, int64, error) {
			rowHash, keyHash := hashRow(r, keyIdx, &buf)
			verdict, first, fits := table.check(keyHash, rowHash, uint32(row))
			if !fits {
				return 0, 0, errTwoPasses
			}
			return verdict, first, nil
		})
		if err != nil {
			return err
		}
		if err := c.finishRun(res); err != nil {
			return err
		}
		overall := c.detectedOverAll()
		for _, col := range c.cols {
			if overall[col.src] != col.valueKind {
				return errTwoPasses
			}
		}
		return nil
	})
	if res != nil {
		res.passes = 1
	}
	return res, err
}

// estimateRows guesses a file's data rows from those the head scan read
// and how much of the file's text they took, with a tenth to spare.
func estimateRows(sr *scanResult, cr *csvReader) int64 {
	read := cr.textOffset()
	if sr.complete || read <= 0 {
		return sr.dataRows
	}
	text := float64(sr.sourceBytes) * cr.textPerByte // the whole file, decoded
	return int64(float64(sr.dataRows) * text / float64(read) * 1.1)
}

// output resolves the columns, opens the outputs, runs conv and writes the
// reports. On error (but ErrNoStorableRow and a reject share over the
// limit, whose reports are kept) the directory is removed.
func (c *converter) output(sr *scanResult, conv func() error) (res *Result, err error) {
	dir, err := os.MkdirTemp(c.opt.TempDir, "ingest-")
	if err != nil {
		return nil, err
	}
	res = &Result{Format: c.format, Encoding: sr.encoding, HeaderRow: sr.headerRow, Dir: dir, Files: map[string]string{}}
	defer func() {
		if err != nil && !errors.Is(err, ErrNoStorableRow) && !IsRejectRatio(err) {
			res.Cleanup()
			res = nil
		}
	}()
	defer func() { // runs first: a panic becomes an error, and the outputs go
		if r := recover(); r != nil {
			err = panicError(r)
		}
	}()
	c.resolveColumns(sr)
	res.Columns = c.cols
	if err := c.openOutputs(dir, res); err != nil {
		return res, err
	}
	if err := conv(); err != nil {
		c.closeOutputs()
		if errors.Is(err, errTwoPasses) {
			return res, err
		}
		return res, c.fileErr(err)
	}
	if err := c.closeOutputs(); err != nil {
		return res, err
	}
	c.finishReport(sr)
	c.rep.Sheet = sr.sheet
	res.Sheet = sr.sheet
	res.Report = c.rep
	if err := writeJSON(filepath.Join(dir, "quality.json"), c.rep); err != nil {
		return res, err
	}
	res.Files["quality.json"] = filepath.Join(dir, "quality.json")
	if err := writeJSON(filepath.Join(dir, "schema.json"), map[string]any{"columns": c.cols, "format": c.format, "encoding": sr.encoding, "header_row": sr.headerRow}); err != nil {
		return res, err
	}
	res.Files["schema.json"] = filepath.Join(dir, "schema.json")
	if c.rep.RowsStored == 0 {
		return res, c.fileErr(ErrNoStorableRow)
	}
	if c.opt.MaxRejectRatio != nil {
		if err := CheckRejectRatio(&c.rep, *c.opt.MaxRejectRatio); err != nil {
			return res, c.fileErr(err)
		}
	}
	return res, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o640)
}

func (c *converter) resolveColumns(sr *scanResult) {
	items := map[string]catalog.Item{}
	for _, it := range c.opt.Items {
		items[it.Name] = it
	}
	present := map[string]bool{}
	for i, name := range sr.header {
		// Drop trailing unnamed columns that hold nothing.
		if strings.HasPrefix(name, "column_") && sr.inf[i].nonEmpty == 0 {
			continue
		}
		present[name] = true
		col := Column{Name: name, src: i, Open: catalog.TreatKept, lowCardinality: sr.inf[i].lowCardinality()}
		if it, ok := items[name]; ok {
			col.Declared, col.Type, col.Description = true, it.Type, it.Description
			col.Personal, col.Check, col.Required, col.notFut = it.Personal, it.Check, it.Required, it.NotFuture
			if len(it.Enum) > 0 {
				col.enum = map[string]bool{}
				for _, e := range it.Enum {
					col.enum[e] = true
				}
			}
			if it.Personal {
				col.Open = catalog.TreatMasked
				if it.PersonalAction == "drop" {
					col.Open = catalog.TreatDropped
				}
				col.maskKind = it.Check
			}
		} else {
			col.Type = sr.inf[i].decide()
			if len(c.opt.Items) > 0 {
				c.rep.Warnings = append(c.rep.Warnings, RowError{Column: name, Code: "undeclared_column"})
			}
		}
		notPersonal := false
		if it, ok := items[name]; ok {
			notPersonal = it.NotPersonal
			c.constrain(&col, &it)
		} else {
			c.constrain(&col, nil)
		}
		c.detectPersonal(&col, sr.inf[i].detected(), notPersonal)
		c.cols = append(c.cols, col)
	}
	for _, it := range c.opt.Items {
		if !present[it.Name] {
			c.rep.Warnings = append(c.rep.Warnings, RowError{Column: it.Name, Code: "missing_declared_column"})
		}
	}
	for _, t := range sr.titleRows {
		c.rep.Warnings = append(c.rep.Warnings, RowError{Row: t, Code: "title_row_skipped"})
	}
	c.rep.Warnings = append(c.rep.Warnings, sr.warnings...)
	if !c.onePass {
		c.drop = c.decideScanTotals(sr)
	}
	for _, k := range c.opt.KeyColumns {
		for i, col := range c.cols {
			if col.Name == k {
				c.keyIdx = append(c.keyIdx, i)
			}
		}
	}
	if len(c.keyIdx) > 0 {
		c.rep.KeyConflicts.Columns = c.opt.KeyColumns
	}
	c.dd = sr.dedup
	c.width = len(sr.header)
	c.sourceBytes = sr.sourceBytes
	now := c.opt.Now.In(c.opt.Location)
	c.today = int32(time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400)
	c.nowMicro = c.opt.Now.UnixMicro()
}

// detectPersonal settles what a column holds from its values (vk, from the
// first rows or every row) and its header: the values win when they show a
// kind, else the header names one. Personal data is masked in the open
// variant unless the column is declared personal already or declared not
// personal; a column masked that way gets a warning that says why.
func (c *converter) detectPersonal(col *Column, vk string, notPersonal bool) {
	col.valueKind = vk
	kind, by := vk, ByValues
	if hk := HeaderKind(col.Name); PersonalKind(hk) && !PersonalKind(vk) {
		kind, by = hk, ByHeader
	}
	if kind == "" {
		by = ""
	}
	col.Detected, col.DetectedBy = kind, by
	switch vk {
	case KindIDNumber, KindMobile, KindCreditCode:
		if col.Check == "" && col.Type == TString {
			col.Check = vk
		}
	}
	if PersonalKind(kind) && col.Open == catalog.TreatKept && !notPersonal {
		col.Personal, col.Open, col.maskKind = true, catalog.TreatMasked, kind
		c.rep.Warnings = append(c.rep.Warnings, RowError{Column: col.Name, Code: "personal_detected_" + by, Params: map[string]string{"kind": kind}})
	}
	if col.maskKind == "" {
		col.maskKind = kind
	}
}

func arrowType(t catalog.ColumnType, loc *time.Location) arrow.DataType {
	switch t {
	case TInt:
		return arrow.PrimitiveTypes.Int64
	case TDecimal:
		return arrow.PrimitiveTypes.Float64
	case TBool:
		return arrow.FixedWidthTypes.Boolean
	case TDate:
		return arrow.FixedWidthTypes.Date32
	case TTimestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: loc.String()}
	}
	return arrow.BinaryTypes.String
}

func (c *converter) openOutputs(dir string, res *Result) error {
	var fullF, openF []arrow.Field
	type meta struct {
		Name        string             `json:"name"`
		Type        catalog.ColumnType `json:"type"`
		Description string             `json:"description,omitempty"`
		Open        catalog.Treatment  `json:"open,omitempty"`
	}
	var fullMeta, openMeta []meta
	for _, col := range c.cols {
		md := arrow.NewMetadata([]string{"description", "personal", "type"}, []string{col.Description, strconv.FormatBool(col.Personal), string(col.Type)})
		dt := arrowType(col.Type, c.opt.Location)
		fullF = append(fullF, arrow.Field{Name: col.Name, Type: dt, Nullable: true, Metadata: md})
		fullMeta = append(fullMeta, meta{col.Name, col.Type, col.Description, ""})
		switch col.Open {
		case catalog.TreatKept:
			openF = append(openF, arrow.Field{Name: col.Name, Type: dt, Nullable: true, Metadata: md})
			openMeta = append(openMeta, meta{col.Name, col.Type, col.Description, catalog.TreatKept})
		case catalog.TreatMasked:
			openF = append(openF, arrow.Field{Name: col.Name, Type: arrow.BinaryTypes.String, Nullable: true, Metadata: md})
			openMeta = append(openMeta, meta{col.Name, TString, col.Description, catalog.TreatMasked})
		}
	}
	fm, _ := json.Marshal(fullMeta)
	om, _ := json.Marshal(openMeta)
	fmd := arrow.NewMetadata([]string{"opendata.columns", "opendata.variant"}, []string{string(fm), "full"})
	omd := arrow.NewMetadata([]string{"opendata.columns", "opendata.variant"}, []string{string(om), "open"})
	c.fullSch = arrow.NewSchema(fullF, &fmd)
	c.openSch = arrow.NewSchema(openF, &omd)
	popts := []parquet.WriterProperty{parquet.WithCompression(compress.Codecs.Snappy), parquet.WithDictionaryDefault(true),
		parquet.WithMaxRowGroupLength(rowGroupRows), parquet.WithCreatedBy("opendata")}
	for _, col := range c.cols {
		// Dictionary encoding pays only for repetitive columns; for
		// identifiers and free text it is work for nothing.
		if !col.lowCardinality {
			popts = append(popts, parquet.WithDictionaryFor(col.Name, false))
		}
	}
	aprops := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())
	// The open variant is what the public downloads: compress it harder.
	// The full variant stays internal, where the faster encoder pays.
	fullProps := parquet.NewWriterProperties(append(popts, parquet.WithCompressionLevel(snappyFast))...)
	openProps := parquet.NewWriterProperties(popts...)
	mk := func(name string, sch *arrow.Schema, meta []byte, props *parquet.WriterProperties) (*asyncWriter, error) {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		res.Files[name] = p
		fw, err := pqarrow.NewFileWriter(sch, &bufferedFile{bufio.NewWriterSize(f, 1<<20), f}, props, aprops)
		if err != nil {
			f.Close()
			return nil, err
		}
		// Also in the footer's key-value metadata, where any Parquet reader sees it.
		fw.AppendKeyValueMetadata("opendata.columns", string(meta))
		return startWriter(name, fw), nil
	}
	var err error
	if c.full, err = mk("full.parquet", c.fullSch, fm, fullProps); err != nil {
		return err
	}
	if c.open, err = mk("open.parquet", c.openSch, om, openProps); err != nil {
		return err
	}
	p := filepath.Join(dir, "open.csv")
	if c.csvFile, err = os.Create(p); err != nil {
		return err
	}
	res.Files["open.csv"] = p
	c.csvBuf = bufio.NewWriterSize(c.csvFile, 256<<10)
	c.csvBuf.WriteString("\uFEFF") // Excel reads UTF-8 only with a BOM
	var head []string
	for _, col := range c.cols {
		if col.Open != catalog.TreatDropped {
			head = append(head, col.Name)
		}
	}
	_, err = c.csvBuf.Write(appendCSVRecord(nil, head))
	return err
}

func (c *converter) closeOutputs() error {
	var errsList []error
	if c.full != nil {
		errsList = append(errsList, c.full.close())
	}
	if c.open != nil {
		errsList = append(errsList, c.open.close())
	}
	if c.csvBuf != nil {
		errsList = append(errsList, c.csvBuf.Flush(), c.csvFile.Close())
	}
	for _, w := range c.workers {
		w.release()
	}
	c.full, c.open, c.csvBuf, c.workers = nil, nil, nil, nil
	return errors.Join(errsList...)
}

// bufferedFile gathers the Parquet writer's many small writes; closing it
// (which the writer does) flushes and closes the file.
type bufferedFile struct {
	*bufio.Writer
	f *os.File
}

func (b *bufferedFile) Close() error { return errors.Join(b.Flush(), b.f.Close()) }

// rowGroupRows is the Parquet row group size. Batches are appended to the
// open row group, whose pages are held encoded and compressed in memory
// until it is full (about 10 MB for typical rows), so row groups can be
// much larger than the conversion's batches. A row group also ends once
// the text given to it reaches rowGroupBytes, so long or many columns
// cannot make it hold more memory than that.
const (
	rowGroupRows  = 64 << 10
	rowGroupBytes = 64 << 20
)

// asyncWriter encodes record batches into a Parquet file on its own
// goroutine, so parsing the next batch overlaps encoding this one. At most
// one batch waits in the channel, which bounds memory.
type asyncWriter struct {
	name string
	fw   *pqarrow.FileWriter
	ch   chan sized
	done chan error
	err  error
}

// sized is a record batch and the input text it was made from.
type sized struct {
	rec   arrow.RecordBatch
	bytes int
}

func startWriter(name string, fw *pqarrow.FileWriter) *asyncWriter {
	ch := make(chan sized, 1)
	w := &asyncWriter{name: name, fw: fw, ch: ch, done: make(chan error, 1)}
	go func() {
		var err error
		groupBytes := 0 // text in the open row group
		// After a failure keep draining (and releasing) so the producer never blocks.
		for b := range ch {
			if err == nil {
				if perr := guard(func() {
					if groupBytes > 0 && groupBytes+b.bytes > rowGroupBytes {
						fw.NewBufferedRowGroup()
						groupBytes = 0
					}
					if err = fw.WriteBuffered(b.rec); err != nil {
						return
					}
					// The writer starts a new group by itself at rowGroupRows.
					n, _ := fw.RowGroupNumRows()
					if int64(n) < b.rec.NumRows() {
						groupBytes = int(int64(b.bytes) * int64(n) / max(1, b.rec.NumRows()))
					} else {
						groupBytes += b.bytes
					}
				}); perr != nil {
					err = perr
				}
			}
			b.rec.Release()
		}
		if perr := guard(func() {
			if cerr := fw.Close(); err == nil {
				err = cerr
			}
		}); perr != nil {
			err = perr
		}
		w.done <- err
	}()
	return w
}

// write hands rec over; an encoding error is reported by close.
func (w *asyncWriter) write(rec arrow.RecordBatch, bytes int) error {
	w.ch <- sized{rec, bytes}
	return nil
}

func (w *asyncWriter) close() error {
	if w.ch == nil {
		return w.err
	}
	close(w.ch)
	w.ch = nil
	if w.err == nil {
		w.err = <-w.done
	}
	if w.err != nil {
		return fmt.Errorf("write %s: %w", w.name, w.err)
	}
	return nil
}

func (c *converter) convert(ctx context.Context, path, format string, sr *scanResult) error {
	var keys []string
	if format == "json" || format == "ndjson" {
		keys = sr.keys // as written: the header's names are cleaned (trimmed, made unique)
	}
	r, err := openReader(path, format, keys, c.opt)
	if err != nil {
		return err
	}
	defer r.Close()
	dd := c.dd
	fromScan := func(_ []string, idx uint32, _ int64) (uint8, int64, error) {
		switch {
		case dd.is(dd.dup, idx):
			return ddDup, dd.first[idx], nil
		case dd.is(dd.conflict, idx):
			return ddConflict, dd.first[idx], nil
		}
		return 0, 0, nil
	}
	res, err := c.run(ctx, r, sr.skip, c.drop, fromScan)
	if err != nil {
		return err
	}
	return c.finishRun(res)
}

// finishRun decides the held total-row candidate, merges the workers'
// results and reports the end.
func (c *converter) finishRun(res *dispatchResult) error {
	if held := res.held; held != nil {
		it, rec := &held.items[0], held.flat
		if c.decideHeldTotal(rec) {
			c.rep.Warnings = append(c.rep.Warnings, RowError{Row: it.row, Code: "total_row_skipped", Value: res.label})
		} else {
			c.rep.Warnings = append(c.rep.Warnings, RowError{Row: it.row, Code: "total_label_kept", Value: res.label})
			if err := c.storeHeld(held); err != nil {
				return err
			}
		}
	}
	c.mergeWorkers()
	if c.opt.Progress != nil {
		c.opt.Progress(Progress{Phase: "convert", Rows: c.rep.RowsRead, Bytes: c.sourceBytes, TotalBytes: c.sourceBytes})
	}
	return nil
}

func (c *converter) display(col *Column, f float64) string {
	switch col.Type {
	case TInt:
		return strconv.FormatInt(int64(f), 10)
	case TDate:
		return time.Unix(int64(f)*86400, 0).UTC().Format("2006-01-02")
	case TTimestamp:
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
			case TInt, TDecimal, TDate, TTimestamp:
				q.Min, q.Max = c.display(col, st.minF), c.display(col, st.maxF)
				q.Histogram = c.histogram(col, st)
			case TString:
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
