// Package ingest turns a department's file (CSV in UTF-8 or GBK, XLSX, JSON,
// NDJSON) into a clean, typed version: full.parquet (every column, internal),
// open.parquet and open.csv (personal data masked or dropped), schema.json
// and quality.json. It streams, so memory stays bounded by the batch size
// and the duplicate check's budget. A file is scanned (header, type
// inference, personal data, duplicates by external sort) and then converted
// (validation, masking, writing) on parallel workers (pipeline.go); a CSV
// file whose columns are all declared is converted in the same read that
// finds its header, when its rows fit the duplicate check's hash table.
//
// The conversion's files, in the order a file meets them: convert.go
// (options, types, the two-read orchestration), header.go (the header
// among the first records), scan.go (the scan: scanFile and scanHead),
// onepass.go (the one-read conversion), columns.go (what each column is and
// whether it is personal), pipeline.go (the parallel conversion),
// outputs.go (the output files) and report.go (quality.json's statistics).
package ingest

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

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

func (c *converter) fileErr(err error) error {
	return &FileError{File: c.opt.Name, Err: err}
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
	sr, err := scanFile(ctx, r, format, opt, fileSize(path))
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
