package ingest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"opendata/catalog"
)

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

func arrowType(t catalog.ColumnType, loc *time.Location) arrow.DataType {
	switch t {
	case catalog.ColInt:
		return arrow.PrimitiveTypes.Int64
	case catalog.ColDecimal:
		return arrow.PrimitiveTypes.Float64
	case catalog.ColBool:
		return arrow.FixedWidthTypes.Boolean
	case catalog.ColDate:
		return arrow.FixedWidthTypes.Date32
	case catalog.ColTimestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: loc.String()}
	}
	return arrow.BinaryTypes.String
}

// openOutputs creates full.parquet, open.parquet and open.csv in dir, with
// their schemas and open.csv's header.
func (c *converter) openOutputs(dir string, res *Result) error {
	fm, om := c.schemas()
	fullProps, openProps := c.writerProperties()
	var err error
	if c.full, err = createParquet(dir, "full.parquet", c.fullSch, fm, fullProps, res); err != nil {
		return err
	}
	if c.open, err = createParquet(dir, "open.parquet", c.openSch, om, openProps, res); err != nil {
		return err
	}
	return c.createOpenCSV(dir, res)
}

// columnMeta is a column as the opendata.columns metadata describes it.
type columnMeta struct {
	Name        string             `json:"name"`
	Type        catalog.ColumnType `json:"type"`
	Description string             `json:"description,omitempty"`
	Open        catalog.Treatment  `json:"open,omitempty"`
}

// schemas sets the two variants' Arrow schemas and returns their columns'
// metadata (JSON), which the Parquet footers carry too.
func (c *converter) schemas() (fm, om []byte) {
	var fullF, openF []arrow.Field
	var fullMeta, openMeta []columnMeta
	for _, col := range c.cols {
		md := arrow.NewMetadata([]string{"description", "personal", "type"}, []string{col.Description, strconv.FormatBool(col.Personal), string(col.Type)})
		dt := arrowType(col.Type, c.opt.Location)
		fullF = append(fullF, arrow.Field{Name: col.Name, Type: dt, Nullable: true, Metadata: md})
		fullMeta = append(fullMeta, columnMeta{col.Name, col.Type, col.Description, ""})
		switch col.Open {
		case catalog.TreatKept:
			openF = append(openF, arrow.Field{Name: col.Name, Type: dt, Nullable: true, Metadata: md})
			openMeta = append(openMeta, columnMeta{col.Name, col.Type, col.Description, catalog.TreatKept})
		case catalog.TreatMasked:
			openF = append(openF, arrow.Field{Name: col.Name, Type: arrow.BinaryTypes.String, Nullable: true, Metadata: md})
			openMeta = append(openMeta, columnMeta{col.Name, catalog.ColString, col.Description, catalog.TreatMasked})
		}
	}
	fm, _ = json.Marshal(fullMeta)
	om, _ = json.Marshal(openMeta)
	fmd := arrow.NewMetadata([]string{"opendata.columns", "opendata.variant"}, []string{string(fm), "full"})
	omd := arrow.NewMetadata([]string{"opendata.columns", "opendata.variant"}, []string{string(om), "open"})
	c.fullSch = arrow.NewSchema(fullF, &fmd)
	c.openSch = arrow.NewSchema(openF, &omd)
	return fm, om
}

// writerProperties are the Parquet writers' settings for the two variants.
func (c *converter) writerProperties() (full, open *parquet.WriterProperties) {
	popts := []parquet.WriterProperty{parquet.WithCompression(compress.Codecs.Snappy), parquet.WithDictionaryDefault(true),
		parquet.WithMaxRowGroupLength(rowGroupRows), parquet.WithCreatedBy("opendata")}
	for _, col := range c.cols {
		// Dictionary encoding pays only for repetitive columns; for
		// identifiers and free text it is work for nothing.
		if !col.lowCardinality {
			popts = append(popts, parquet.WithDictionaryFor(col.Name, false))
		}
	}
	// The open variant is what the public downloads: compress it harder.
	// The full variant stays internal, where the faster encoder pays.
	full = parquet.NewWriterProperties(append(popts, parquet.WithCompressionLevel(snappyFast))...)
	open = parquet.NewWriterProperties(popts...)
	return full, open
}

// createParquet creates dir/name (listed in res.Files) and starts its
// writer.
func createParquet(dir, name string, sch *arrow.Schema, meta []byte, props *parquet.WriterProperties, res *Result) (*asyncWriter, error) {
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		return nil, err
	}
	res.Files[name] = p
	aprops := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())
	fw, err := pqarrow.NewFileWriter(sch, &bufferedFile{bufio.NewWriterSize(f, 1<<20), f}, props, aprops)
	if err != nil {
		f.Close()
		return nil, err
	}
	// Also in the footer's key-value metadata, where any Parquet reader sees it.
	fw.AppendKeyValueMetadata("opendata.columns", string(meta))
	return startWriter(name, fw), nil
}

// createOpenCSV creates open.csv and writes its BOM and header.
func (c *converter) createOpenCSV(dir string, res *Result) error {
	p := filepath.Join(dir, "open.csv")
	var err error
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
