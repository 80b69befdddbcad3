package ingest

import (
	"context"
	"errors"
	"io"

	"github.com/zeebo/xxh3"

	"opendata/catalog"
)

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
