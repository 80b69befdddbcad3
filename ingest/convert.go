// Package ingest turns a department's file (CSV in UTF-8 or GBK, XLSX, JSON,
// NDJSON) into a clean, typed version: full.parquet (every column, internal),
// open.parquet and open.csv (personal data masked or dropped), schema.json
// and quality.json. It streams in two passes over the file — a scan that
// finds the header, infers types and spots personal data, then a conversion
// that validates and writes — so memory stays bounded by the batch size.
package ingest

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
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
	Sheet            string // XLSX sheet name or 1-based index; "" for the first visible
	Delimiter        rune   // CSV; 0 to detect
	MaxFieldBytes    int
	MaxUnzipBytes    int64
	DedupMemoryBytes int64
	TempDir          string
	Location         *time.Location
	Now              time.Time
	Items            []catalog.Item // declared data items; they override inference
	KeyColumns       []string
	BatchRows        int
	Progress         func(Progress)
	// Name is shown in errors (the uploaded file's name).
	Name string
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
	if o.MaxUnzipBytes <= 0 {
		o.MaxUnzipBytes = 2 << 30
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
		o.BatchRows = 64 << 10
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
}

// Column is one output column and what happens to it in the open variant.
type Column struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	Declared    bool   `json:"declared"`
	Personal    bool   `json:"personal"`
	Detected    string `json:"detected,omitempty"` // id_number, mobile, credit_code
	Check       string `json:"check,omitempty"`
	Open        string `json:"open"` // kept, masked or dropped in the open variant
	Required    bool   `json:"required,omitempty"`

	src            int
	lowCardinality bool
	enum           map[string]bool
	notFut         bool
	maskKind       string
}

// Result is a finished conversion: the files in Dir and what they hold.
type Result struct {
	Format    string            `json:"format"`
	Encoding  string            `json:"encoding,omitempty"`
	HeaderRow int64             `json:"header_row"`
	Columns   []Column          `json:"columns"`
	Report    Report            `json:"quality"`
	Files     map[string]string `json:"-"` // object name → local path
	Dir       string            `json:"-"`
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
	totalRow    int64
	totalLabel  string
	encoding    string
	sourceBytes int64
	titleRows   []int64
	dedup       *dedupResult
}

var totalLabels = []string{"合计", "总计", "小计", "合 计", "总 计", "total", "sum", "grand total"}

func isTotalLabel(s string) bool {
	s = strings.ToLower(strings.TrimSpace(strings.ReplaceAll(s, "\u3000", "")))
	s = strings.TrimRight(s, ":：")
	for _, l := range totalLabels {
		if s == l {
			return true
		}
	}
	return false
}

func trimCell(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "\u3000") || strings.HasSuffix(s, "\u3000") {
		s = strings.Trim(s, " \t\u3000")
	}
	return s
}

func blank(rec []string) bool {
	for _, v := range rec {
		if trimCell(v) != "" {
			return false
		}
	}
	return true
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

func scan(ctx context.Context, path, format string, opt Options) (*scanResult, error) {
	r, err := openReader(path, format, nil, opt)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	sr := &scanResult{}
	if pr, ok := r.(*prefetch); ok {
		if cr, ok := pr.inner.(*csvReader); ok {
			sr.encoding = cr.enc
		}
	}
	if st, err := os.Stat(path); err == nil {
		sr.sourceBytes = st.Size()
	}
	keyed := format == "json" || format == "ndjson"
	declared := map[string]bool{}
	for _, it := range opt.Items {
		declared[it.Name] = true
	}
	var buf [][]string
	var bufRows []int64
	records := 0
	headerDone := keyed
	var lastRow int64
	var lastLabel string
	var candidate int64
	sorter := newDedupSorter(opt.TempDir, opt.DedupMemoryBytes)
	defer sorter.cleanup()
	var hashBuf []byte
	var keyIdx []int
	keyIdxFor := func() []int {
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
			keyIdx = []int{}
			for _, k := range opt.KeyColumns {
				for i, name := range sr.header {
					if name == k {
						keyIdx = append(keyIdx, i)
					}
				}
			}
		}
		return keyIdx
	}
	var sortErr error
	addData := func(rec []string, rowNum int64) {
		if blank(rec) {
			return
		}
		sr.dataRows++
		lastRow = rowNum
		// Hash the trimmed row (up to its last non-empty cell) and its key.
		last := len(rec)
		for last > 0 && trimCell(rec[last-1]) == "" {
			last--
		}
		hashBuf = hashBuf[:0]
		for _, v := range rec[:last] {
			hashBuf = append(append(hashBuf, trimCell(v)...), 0x1f)
		}
		rowHash := xxh3.Hash(hashBuf)
		keyHash := rowHash
		if ki := keyIdxFor(); len(opt.KeyColumns) > 0 {
			hashBuf = hashBuf[:0]
			for _, i := range ki {
				if i < len(rec) {
					hashBuf = append(hashBuf, trimCell(rec[i])...)
				}
				hashBuf = append(hashBuf, 0x1f)
			}
			keyHash = xxh3.Hash(hashBuf) ^ 0x9e3779b97f4a7c15
		}
		if err := sorter.add(dedupRec{key: keyHash, row: rowHash, idx: uint32(sr.dataRows - 1), num: uint32(rowNum)}); err != nil && sortErr == nil {
			sortErr = err
		}
		for len(sr.inf) < len(rec) {
			in := inference{}
			// A declared column has its type already: only look for personal data.
			if i := len(sr.inf); i < len(sr.header) && declared[trimCell(sr.header[i])] {
				in.dead = true
			}
			sr.inf = append(sr.inf, in)
		}
		for i, v := range rec {
			sr.inf[i].add(trimCell(v), opt.Location)
		}
		candidate = 0
		for _, v := range rec {
			if t := trimCell(v); t != "" {
				if isTotalLabel(t) {
					candidate, lastLabel = rowNum, t
				}
				break
			}
		}
	}
	for {
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
			sr.decideHeader(buf, bufRows, opt.Items, addData)
			headerDone, buf = true, nil
			continue
		}
		addData(rec, r.Row())
	}
	if !headerDone {
		if len(buf) == 0 {
			return nil, ErrEmpty
		}
		sr.decideHeader(buf, bufRows, opt.Items, addData)
	}
	if keyed {
		sr.header = cleanHeader(r.Keys())
	}
	if len(sr.header) == 0 {
		return nil, ErrEmpty
	}
	if sr.dataRows == 0 {
		return nil, ErrNoRows
	}
	if candidate != 0 && candidate == lastRow {
		sr.totalRow, sr.totalLabel = candidate, lastLabel
	}
	if sortErr != nil {
		return nil, sortErr
	}
	if sr.dedup, err = sorter.finish(sr.dataRows, maxRejectedListed); err != nil {
		return nil, err
	}
	for len(sr.inf) < len(sr.header) {
		sr.inf = append(sr.inf, inference{})
	}
	return sr, nil
}

func (sr *scanResult) decideHeader(buf [][]string, rows []int64, items []catalog.Item, addData func([]string, int64)) {
	h := pickHeader(buf, items)
	sr.header = cleanHeader(buf[h])
	sr.skip = h + 1
	sr.headerRow = int64(h + 1)
	for i := 0; i < h; i++ {
		sr.titleRows = append(sr.titleRows, int64(i+1))
	}
	for i, rec := range buf[h+1:] {
		addData(rec, rows[h+1+i])
	}
}

// cell is one parsed value.
type cell struct {
	null bool
	s    string // canonical text (what open.csv holds)
	i    int64
	f    float64
	b    bool
	d    int32
	t    int64
}

type colStats struct {
	nulls   int64
	hll     *hyperloglog.Sketch
	minF    float64
	maxF    float64
	minS    string
	maxS    string
	seen    bool
	invalid int64
	samples []RowError
	top     *spaceSaving
	sample  []float64
	stride  int64
	n       int64
	sum     float64
}

type converter struct {
	opt      Options
	cols     []Column
	stats    []colStats
	rep      Report
	full     *asyncWriter
	open     *asyncWriter
	fullSch  *arrow.Schema
	openSch  *arrow.Schema
	fullB    []array.Builder
	openB    []*array.StringBuilder // non-nil for masked columns
	csvw     *csv.Writer
	csvFile  *os.File
	csvBuf   *bufio.Writer
	csvRec   []string
	pending  int
	dd       *dedupResult
	dataIdx  uint32
	keyIdx   []int
	cells    []cell
	today    int32
	nowMicro int64
	isXLSX   bool
	mem      memory.Allocator
}

// Convert runs both passes and writes the outputs into a new directory under
// opt.TempDir. On error nothing is left behind.
func Convert(ctx context.Context, path string, opt Options) (res *Result, err error) {
	opt.defaults()
	if opt.Name == "" {
		opt.Name = filepath.Base(path)
	}
	format := opt.Format
	if format == "" {
		format = DetectFormat(opt.Name)
	}
	c := &converter{opt: opt, isXLSX: format == "xlsx", mem: memory.DefaultAllocator}
	if format == "" {
		return nil, c.fileErr(ErrUnknownFormat)
	}
	sr, err := scan(ctx, path, format, opt)
	if err != nil {
		return nil, c.fileErr(err)
	}
	dir, err := os.MkdirTemp(opt.TempDir, "ingest-")
	if err != nil {
		return nil, err
	}
	res = &Result{Format: format, Encoding: sr.encoding, HeaderRow: sr.headerRow, Dir: dir, Files: map[string]string{}}
	defer func() {
		if err != nil && !errors.Is(err, ErrNoStorableRow) {
			res.Cleanup()
			res = nil
		}
	}()
	c.resolveColumns(sr)
	res.Columns = c.cols
	if err := c.openOutputs(dir, res); err != nil {
		return res, err
	}
	if err := c.convert(ctx, path, format, sr); err != nil {
		c.closeOutputs()
		return res, c.fileErr(err)
	}
	if err := c.closeOutputs(); err != nil {
		return res, err
	}
	c.finishReport(sr)
	res.Report = c.rep
	if err := writeJSON(filepath.Join(dir, "quality.json"), c.rep); err != nil {
		return res, err
	}
	res.Files["quality.json"] = filepath.Join(dir, "quality.json")
	if err := writeJSON(filepath.Join(dir, "schema.json"), map[string]any{"columns": c.cols, "format": format, "encoding": sr.encoding, "header_row": sr.headerRow}); err != nil {
		return res, err
	}
	res.Files["schema.json"] = filepath.Join(dir, "schema.json")
	if c.rep.RowsStored == 0 {
		return res, c.fileErr(ErrNoStorableRow)
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
		col := Column{Name: name, src: i, Open: "kept", lowCardinality: sr.inf[i].lowCardinality()}
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
				col.Open = "masked"
				if it.PersonalAction == "drop" {
					col.Open = "dropped"
				}
				col.maskKind = it.Check
			}
		} else {
			col.Type = sr.inf[i].decide()
			if len(c.opt.Items) > 0 {
				c.rep.Warnings = append(c.rep.Warnings, RowError{Column: name, Code: "undeclared_column"})
			}
		}
		col.Detected = sr.inf[i].detected()
		if col.Check == "" && col.Detected != "" && col.Type == TString {
			col.Check = col.Detected
		}
		if (col.Detected == "id_number" || col.Detected == "mobile") && col.Open == "kept" {
			col.Personal, col.Open, col.maskKind = true, "masked", col.Detected
		}
		if col.maskKind == "" {
			col.maskKind = col.Detected
		}
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
	c.stats = make([]colStats, len(c.cols))
	for i := range c.stats {
		c.stats[i].hll = hyperloglog.New14()
		c.stats[i].stride = 1
		if c.cols[i].Type == TString || c.cols[i].Type == TBool {
			c.stats[i].top = newSpaceSaving(64)
		}
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
	c.cells = make([]cell, len(c.cols))
	now := c.opt.Now.In(c.opt.Location)
	c.today = int32(time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400)
	c.nowMicro = c.opt.Now.UnixMicro()
}

func arrowType(t string, loc *time.Location) arrow.DataType {
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
		Name        string `json:"name"`
		Type        string `json:"type"`
		Description string `json:"description,omitempty"`
		Open        string `json:"open,omitempty"`
	}
	var fullMeta, openMeta []meta
	c.fullB = make([]array.Builder, len(c.cols))
	c.openB = make([]*array.StringBuilder, len(c.cols))
	for i, col := range c.cols {
		md := arrow.NewMetadata([]string{"description", "personal", "type"}, []string{col.Description, strconv.FormatBool(col.Personal), col.Type})
		dt := arrowType(col.Type, c.opt.Location)
		fullF = append(fullF, arrow.Field{Name: col.Name, Type: dt, Nullable: true, Metadata: md})
		fullMeta = append(fullMeta, meta{col.Name, col.Type, col.Description, ""})
		c.fullB[i] = array.NewBuilder(c.mem, dt)
		switch col.Open {
		case "kept":
			openF = append(openF, arrow.Field{Name: col.Name, Type: dt, Nullable: true, Metadata: md})
			openMeta = append(openMeta, meta{col.Name, col.Type, col.Description, "kept"})
		case "masked":
			openF = append(openF, arrow.Field{Name: col.Name, Type: arrow.BinaryTypes.String, Nullable: true, Metadata: md})
			openMeta = append(openMeta, meta{col.Name, TString, col.Description, "masked"})
			c.openB[i] = array.NewStringBuilder(c.mem)
		}
	}
	fm, _ := json.Marshal(fullMeta)
	om, _ := json.Marshal(openMeta)
	fmd := arrow.NewMetadata([]string{"opendata.columns", "opendata.variant"}, []string{string(fm), "full"})
	omd := arrow.NewMetadata([]string{"opendata.columns", "opendata.variant"}, []string{string(om), "open"})
	c.fullSch = arrow.NewSchema(fullF, &fmd)
	c.openSch = arrow.NewSchema(openF, &omd)
	popts := []parquet.WriterProperty{parquet.WithCompression(compress.Codecs.Snappy), parquet.WithDictionaryDefault(true),
		parquet.WithMaxRowGroupLength(1 << 20), parquet.WithCreatedBy("opendata")}
	for _, col := range c.cols {
		// Dictionary encoding pays only for repetitive columns; for
		// identifiers and free text it is work for nothing.
		if !col.lowCardinality {
			popts = append(popts, parquet.WithDictionaryFor(col.Name, false))
		}
	}
	props := parquet.NewWriterProperties(popts...)
	aprops := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())
	mk := func(name string, sch *arrow.Schema, meta []byte) (*asyncWriter, error) {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		res.Files[name] = p
		fw, err := pqarrow.NewFileWriter(sch, f, props, aprops)
		if err != nil {
			f.Close()
			return nil, err
		}
		// Also in the footer's key-value metadata, where any Parquet reader sees it.
		fw.AppendKeyValueMetadata("opendata.columns", string(meta))
		return startWriter(name, fw), nil
	}
	var err error
	if c.full, err = mk("full.parquet", c.fullSch, fm); err != nil {
		return err
	}
	if c.open, err = mk("open.parquet", c.openSch, om); err != nil {
		return err
	}
	p := filepath.Join(dir, "open.csv")
	if c.csvFile, err = os.Create(p); err != nil {
		return err
	}
	res.Files["open.csv"] = p
	c.csvBuf = bufio.NewWriterSize(c.csvFile, 256<<10)
	c.csvBuf.WriteString("\uFEFF") // Excel reads UTF-8 only with a BOM
	c.csvw = csv.NewWriter(c.csvBuf)
	c.csvw.UseCRLF = true
	var head []string
	for _, col := range c.cols {
		if col.Open != "dropped" {
			head = append(head, col.Name)
		}
	}
	c.csvRec = make([]string, 0, len(head))
	return c.csvw.Write(head)
}

func (c *converter) closeOutputs() error {
	var errsList []error
	if c.pending > 0 {
		errsList = append(errsList, c.flush())
	}
	if c.full != nil {
		errsList = append(errsList, c.full.close())
	}
	if c.open != nil {
		errsList = append(errsList, c.open.close())
	}
	if c.csvw != nil {
		c.csvw.Flush()
		errsList = append(errsList, c.csvw.Error(), c.csvBuf.Flush(), c.csvFile.Close())
	}
	for _, b := range c.fullB {
		if b != nil {
			b.Release()
		}
	}
	for _, b := range c.openB {
		if b != nil {
			b.Release()
		}
	}
	c.full, c.open, c.csvw, c.fullB, c.openB = nil, nil, nil, nil, nil
	return errors.Join(errsList...)
}

func (c *converter) flush() error {
	fullCols := make([]arrow.Array, len(c.cols))
	var openCols []arrow.Array
	for i, col := range c.cols {
		fullCols[i] = c.fullB[i].NewArray()
		switch col.Open {
		case "kept":
			fullCols[i].Retain()
			openCols = append(openCols, fullCols[i])
		case "masked":
			openCols = append(openCols, c.openB[i].NewArray())
		}
	}
	n := int64(c.pending)
	fr := array.NewRecordBatch(c.fullSch, fullCols, n)
	or := array.NewRecordBatch(c.openSch, openCols, n)
	for _, a := range fullCols {
		a.Release()
	}
	for _, a := range openCols {
		a.Release()
	}
	c.pending = 0
	return errors.Join(c.full.write(fr), c.open.write(or))
}

// asyncWriter encodes record batches into a Parquet file on its own
// goroutine, so parsing the next batch overlaps encoding this one. At most
// one batch waits in the channel, which bounds memory.
type asyncWriter struct {
	name string
	fw   *pqarrow.FileWriter
	ch   chan arrow.RecordBatch
	done chan error
	err  error
}

func startWriter(name string, fw *pqarrow.FileWriter) *asyncWriter {
	ch := make(chan arrow.RecordBatch, 1)
	w := &asyncWriter{name: name, fw: fw, ch: ch, done: make(chan error, 1)}
	go func() {
		var err error
		// After a failure keep draining (and releasing) so the producer never blocks.
		for rec := range ch {
			if err == nil {
				err = fw.Write(rec)
			}
			rec.Release()
		}
		if cerr := fw.Close(); err == nil {
			err = cerr
		}
		w.done <- err
	}()
	return w
}

// write hands rec over; an encoding error is reported by close.
func (w *asyncWriter) write(rec arrow.RecordBatch) error {
	w.ch <- rec
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

func (c *converter) reject(e RowError) {
	c.rep.RowsRejected++
	if c.rep.RejectedByCode == nil {
		c.rep.RejectedByCode = map[string]int64{}
	}
	c.rep.RejectedByCode[e.Code]++
	if len(c.rep.Rejected) < maxRejectedListed {
		e.Value = short(e.Value, 80)
		c.rep.Rejected = append(c.rep.Rejected, e)
	}
}

func (c *converter) flag(i int, e RowError) {
	st := &c.stats[i]
	st.invalid++
	if len(st.samples) < maxSamples {
		e.Value = short(e.Value, 80)
		st.samples = append(st.samples, e)
	}
}

// parse turns a trimmed value into the column's type; ok=false names why.
func (c *converter) parse(col *Column, v string, out *cell) (code string) {
	*out = cell{s: v}
	if v == "" {
		out.null = true
		return ""
	}
	switch col.Type {
	case TString:
	case TInt:
		n, ok := parseInt(v)
		if !ok {
			if _, isNum := parseDecimal(v); isNum {
				return "not_an_integer"
			}
			return "not_a_number"
		}
		out.i, out.s = n, strconv.FormatInt(n, 10)
	case TDecimal:
		f, ok := parseDecimal(v)
		if !ok || math.IsInf(f, 0) {
			return "not_a_number"
		}
		out.f, out.s = f, normNumber(v)
	case TBool:
		b, ok := parseBool(v)
		if !ok {
			return "not_a_bool"
		}
		out.b, out.s = b, strconv.FormatBool(b)
	case TDate:
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
		out.d, out.s = d, time.Unix(int64(d)*86400, 0).UTC().Format("2006-01-02")
	case TTimestamp:
		t, ok := parseTimestamp(v, c.opt.Location)
		if !ok && c.isXLSX {
			if iso, isSerial := excelSerialDate(v); isSerial {
				v = iso
				t, ok = parseTimestamp(iso, c.opt.Location)
				if !ok {
					if d, isD := parseDate(iso); isD {
						t, ok = time.Unix(int64(d)*86400, 0).UTC().UnixMicro(), true
						t = time.Date(time.UnixMicro(t).UTC().Year(), time.UnixMicro(t).UTC().Month(), time.UnixMicro(t).UTC().Day(), 0, 0, 0, 0, c.opt.Location).UnixMicro()
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
		out.t, out.s = t, time.UnixMicro(t).In(c.opt.Location).Format("2006-01-02 15:04:05")
	}
	return ""
}

func (c *converter) convert(ctx context.Context, path, format string, sr *scanResult) error {
	var keys []string
	if format == "json" || format == "ndjson" {
		keys = sr.header
	}
	r, err := openReader(path, format, keys, c.opt)
	if err != nil {
		return err
	}
	defer r.Close()
	sums := make([]float64, len(c.cols))
	records := 0
	lastProgress := time.Now()
	for {
		if records%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if c.opt.Progress != nil && time.Since(lastProgress) > 200*time.Millisecond {
				lastProgress = time.Now()
				c.opt.Progress(Progress{Phase: "convert", Rows: c.rep.RowsRead, Bytes: r.Offset(), TotalBytes: sr.sourceBytes})
			}
		}
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		records++
		if err != nil {
			if re, ok := isRowError(err); ok {
				c.rep.RowsRead++
				c.reject(*re)
				continue
			}
			return err
		}
		if records <= sr.skip || blank(rec) {
			continue
		}
		idx := c.dataIdx // counted as the scan counted data rows
		c.dataIdx++
		row := r.Row()
		c.rep.RowsRead++
		if row == sr.totalRow && c.isTotal(rec, sums) {
			c.rep.RowsRead--
			c.rep.Warnings = append(c.rep.Warnings, RowError{Row: row, Code: "total_row_skipped", Value: sr.totalLabel})
			continue
		} else if row == sr.totalRow {
			c.rep.Warnings = append(c.rep.Warnings, RowError{Row: row, Code: "total_label_kept", Value: sr.totalLabel})
		}
		if err := c.row(rec, row, idx, len(sr.header), format, sums); err != nil {
			return err
		}
	}
	if c.opt.Progress != nil {
		c.opt.Progress(Progress{Phase: "convert", Rows: c.rep.RowsRead, Bytes: sr.sourceBytes, TotalBytes: sr.sourceBytes})
	}
	return nil
}

// isTotal decides whether the labelled last row really is a total: every
// numeric cell in it must equal the sum of the column above.
func (c *converter) isTotal(rec []string, sums []float64) bool {
	checked := 0
	for i, col := range c.cols {
		if col.src >= len(rec) {
			continue
		}
		v := trimCell(rec[col.src])
		if v == "" || isTotalLabel(v) {
			continue
		}
		f, ok := parseDecimal(v)
		if !ok || (col.Type != TInt && col.Type != TDecimal) {
			return false // text beside the label: a data row
		}
		if math.Abs(f-sums[i]) > 0.005*math.Max(1, math.Abs(sums[i])) {
			return false
		}
		checked++
	}
	return true
}

func (c *converter) row(rec []string, row int64, idx uint32, width int, format string, sums []float64) error {
	if format == "csv" && len(rec) != width {
		extra := false
		for _, v := range rec[min(width, len(rec)):] {
			if trimCell(v) != "" {
				extra = true
			}
		}
		if len(rec) < width || extra {
			c.reject(RowError{Row: row, Code: "field_count", Params: map[string]string{"got": strconv.Itoa(len(rec)), "want": strconv.Itoa(width)}})
			return nil
		}
	} else if len(rec) > width {
		for _, v := range rec[width:] {
			if trimCell(v) != "" {
				c.reject(RowError{Row: row, Code: "field_count", Params: map[string]string{"got": strconv.Itoa(len(rec)), "want": strconv.Itoa(width)}})
				return nil
			}
		}
	}
	for i := range c.cols {
		col := &c.cols[i]
		v := ""
		if col.src < len(rec) {
			v = trimCell(rec[col.src])
		}
		if len(v) > c.opt.MaxFieldBytes {
			c.reject(RowError{Row: row, Column: col.Name, Code: "field_too_large", Params: map[string]string{"bytes": strconv.Itoa(len(v)), "limit": strconv.Itoa(c.opt.MaxFieldBytes)}})
			return nil
		}
		if code := c.parse(col, v, &c.cells[i]); code != "" {
			c.reject(RowError{Row: row, Column: col.Name, Code: code, Value: v})
			return nil
		}
		if col.Required && c.cells[i].null {
			c.reject(RowError{Row: row, Column: col.Name, Code: "required"})
			return nil
		}
	}
	// Duplicates and key conflicts, found by the scan's sort.
	if c.dd != nil && c.dd.is(c.dd.dup, idx) {
		c.dupRow(row, c.dd.first[idx])
		return nil
	}
	if c.dd != nil && c.dd.is(c.dd.conflict, idx) {
		c.rep.KeyConflicts.Count++
		if len(c.rep.KeyConflicts.Samples) < maxSamples {
			var keyText []string
			for _, k := range c.keyIdx {
				keyText = append(keyText, c.cells[k].s)
			}
			c.rep.KeyConflicts.Samples = append(c.rep.KeyConflicts.Samples, KeyConflict{Key: strings.Join(keyText, " / "), Row: row, FirstRow: c.dd.first[idx]})
		}
	}
	// The row is stored: validate (flag, keep), append, count.
	c.rep.RowsStored++
	c.csvRec = c.csvRec[:0]
	for i := range c.cols {
		col, v, st := &c.cols[i], &c.cells[i], &c.stats[i]
		if !v.null {
			c.validate(i, col, v, row)
		}
		c.appendCell(i, col, v, st)
		if col.Type == TInt {
			sums[i] += float64(v.i)
		} else if col.Type == TDecimal {
			sums[i] += v.f
		}
		switch col.Open {
		case "kept":
			c.csvRec = append(c.csvRec, v.s)
		case "masked":
			m := Mask(col.maskKind, v.s)
			c.csvRec = append(c.csvRec, m)
			if v.null {
				c.openB[i].AppendNull()
			} else {
				c.openB[i].Append(m)
			}
		}
	}
	if err := c.csvw.Write(c.csvRec); err != nil {
		return err
	}
	c.pending++
	if c.pending >= c.opt.BatchRows {
		return c.flush()
	}
	return nil
}

func (c *converter) dupRow(row, first int64) {
	c.rep.Duplicates.Count++
	if len(c.rep.Duplicates.Rows) < maxRejectedListed {
		c.rep.Duplicates.Rows = append(c.rep.Duplicates.Rows, row)
	}
	e := RowError{Row: row, Code: "duplicate_row"}
	if first > 0 {
		e.Params = map[string]string{"first": strconv.FormatInt(first, 10)}
	}
	c.reject(e)
}

func (c *converter) validate(i int, col *Column, v *cell, row int64) {
	switch col.Check {
	case "id_number":
		if !ValidIDNumber(v.s) {
			c.flag(i, RowError{Row: row, Column: col.Name, Code: "bad_id_number", Value: Mask("id_number", v.s)})
		}
	case "credit_code":
		if !ValidCreditCode(v.s) {
			c.flag(i, RowError{Row: row, Column: col.Name, Code: "bad_credit_code", Value: v.s})
		}
	case "mobile":
		if !ValidMobile(v.s) {
			c.flag(i, RowError{Row: row, Column: col.Name, Code: "bad_mobile", Value: Mask("mobile", v.s)})
		}
	}
	if col.enum != nil && !col.enum[v.s] {
		c.flag(i, RowError{Row: row, Column: col.Name, Code: "not_in_enum", Value: v.s})
	}
	if col.notFut && ((col.Type == TDate && v.d > c.today) || (col.Type == TTimestamp && v.t > c.nowMicro)) {
		c.flag(i, RowError{Row: row, Column: col.Name, Code: "in_future", Value: v.s})
	}
}

func (c *converter) appendCell(i int, col *Column, v *cell, st *colStats) {
	b := c.fullB[i]
	if v.null {
		b.AppendNull()
		st.nulls++
		return
	}
	st.hll.InsertHash(xxh3.HashString(v.s))
	var num float64
	numeric := true
	switch col.Type {
	case TInt:
		b.(*array.Int64Builder).Append(v.i)
		num = float64(v.i)
	case TDecimal:
		b.(*array.Float64Builder).Append(v.f)
		num = v.f
	case TDate:
		b.(*array.Date32Builder).Append(arrow.Date32(v.d))
		num = float64(v.d)
	case TTimestamp:
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(v.t))
		num = float64(v.t)
	case TBool:
		b.(*array.BooleanBuilder).Append(v.b)
		numeric = false
		st.top.add(v.s)
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
		if st.n%st.stride == 0 {
			st.sample = append(st.sample, num)
			if len(st.sample) >= 8192 {
				// Keep every other value and sample half as often.
				for j := 0; j < len(st.sample)/2; j++ {
					st.sample[j] = st.sample[2*j+1]
				}
				st.sample = st.sample[:len(st.sample)/2]
				st.stride *= 2
			}
		}
	} else if col.Open == "kept" && col.Type == TString {
		if !st.seen || v.s < st.minS {
			st.minS = strings.Clone(v.s)
		}
		if !st.seen || v.s > st.maxS {
			st.maxS = strings.Clone(v.s)
		}
	}
	st.seen = true
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
		q := ColumnQuality{Name: col.Name, Type: col.Type, Nulls: st.nulls, DistinctEstimate: st.hll.Estimate(), Invalid: st.invalid, InvalidSamples: st.samples}
		if st.seen {
			switch col.Type {
			case TInt, TDecimal, TDate, TTimestamp:
				q.Min, q.Max = c.display(col, st.minF), c.display(col, st.maxF)
				q.Histogram = c.histogram(col, st)
			case TString:
				if col.Open == "kept" {
					q.Min, q.Max = short(st.minS, 40), short(st.maxS, 40)
				}
			}
		}
		if st.top != nil && col.Open == "kept" {
			q.TopValues = st.top.top(10)
		}
		r.Columns = append(r.Columns, q)
	}
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
