package query

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"opendata/blob"
	"opendata/csvsafe"
)

// ParquetCSV says how a stored Parquet object becomes CSV.
type ParquetCSV struct {
	Blobs blob.Store
	// TempDir holds a local copy when the store cannot seek.
	TempDir string
	// Location shows timestamps in local time.
	Location *time.Location
}

// Write streams the Parquet object key to w as CSV (with a BOM for
// spreadsheets, cells that would run as formulas neutralised), keeping only
// cols in their order (all when nil), batch by batch. Nothing is written
// before the object is open and its columns chosen, so an early error can
// still be answered as an error.
func (p ParquetCSV) Write(ctx context.Context, w io.Writer, key string, cols []string) error {
	rc, _, err := p.Blobs.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	src, ok := rc.(pq.ReaderAtSeeker)
	if !ok {
		tmp, err := os.CreateTemp(p.TempDir, "share-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := io.Copy(tmp, rc); err != nil {
			return err
		}
		src = tmp
	}
	pf, err := file.NewParquetReader(src)
	if err != nil {
		return err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 16384}, memory.DefaultAllocator)
	if err != nil {
		return err
	}
	schema, err := fr.Schema()
	if err != nil {
		return err
	}
	var idx []int
	if cols == nil {
		for i := range schema.Fields() {
			idx = append(idx, i)
		}
	} else {
		for _, name := range cols {
			if is := schema.FieldIndices(name); len(is) > 0 {
				idx = append(idx, is[0])
			}
		}
	}
	rr, err := fr.GetRecordReader(ctx, idx, nil)
	if err != nil {
		return err
	}
	defer rr.Release()
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("\uFEFF")
	cw := csv.NewWriter(bw)
	head := make([]string, len(idx))
	for i, f := range rr.Schema().Fields() {
		head[i] = f.Name
	}
	cw.Write(csvsafe.Record(head))
	row := make([]string, len(idx))
	for rr.Next() {
		rec := rr.RecordBatch()
		for r := 0; r < int(rec.NumRows()); r++ {
			for c := 0; c < int(rec.NumCols()); c++ {
				col := rec.Column(c)
				if col.IsNull(r) {
					row[c] = ""
				} else if ts, ok := col.(*array.Timestamp); ok {
					row[c] = time.UnixMicro(int64(ts.Value(r))).In(loc).Format("2006-01-02 15:04:05")
				} else {
					row[c] = col.ValueStr(r)
				}
			}
			cw.Write(csvsafe.Record(row))
		}
	}
	cw.Flush()
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return bw.Flush()
}
