package ingest

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
)

// errTwoPasses: the one-pass conversion cannot decide alone (undeclared
// columns, too many rows for its hash table, or personal data the first
// rows did not show); Convert starts again with a scan.
var errTwoPasses = errors.New("needs a scan")

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
	sr, err := scanHead(ctx, rec, "csv", opt, fileSize(path))
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
	res, err := c.output(sr, func() error { return c.convertInOneRead(ctx, rec, sr.skip, table, keyIdx) })
	if res != nil {
		res.passes = 1
	}
	return res, err
}

// convertInOneRead converts the replayed file, deciding duplicates and key
// conflicts with table; errTwoPasses when the table overflows or the
// personal data detection over every row disagrees with the first rows.
func (c *converter) convertInOneRead(ctx context.Context, rec *recorder, skip int, table *dedupTable, keyIdx []int) error {
	var buf []byte
	res, err := c.run(ctx, rec, skip, nil, func(r []string, _ uint32, row int64) (uint8, int64, error) {
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
