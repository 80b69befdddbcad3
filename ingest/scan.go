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

// scanFile reads a whole file to find its header, infer column types and
// spot personal data, and finds duplicates and key conflicts by sorting
// row hashes (an external sort: memory stays within DedupMemoryBytes).
func scanFile(ctx context.Context, r rowReader, format string, opt Options, size int64) (*scanResult, error) {
	s := newScanner(r, format, opt, size)
	s.sorter = newDedupSorter(opt.TempDir, opt.DedupMemoryBytes)
	defer s.sorter.cleanup()
	sr, err := s.run(ctx, 0)
	if err != nil {
		return nil, err
	}
	if s.sortErr != nil {
		return nil, s.sortErr
	}
	if sr.dedup, err = s.sorter.finish(sr.dataRows, maxRejectedListed); err != nil {
		return nil, err
	}
	return sr, nil
}

// scanHead reads a file's header and its first sampleRows data rows, with
// no duplicate check: enough for the one-pass conversion, which checks the
// rest as it goes, and for a draft of the catalog entry.
func scanHead(ctx context.Context, r rowReader, format string, opt Options, size int64) (*scanResult, error) {
	return newScanner(r, format, opt, size).run(ctx, sampleRows)
}

// scanner is one scan of a file: the records before the header is known,
// then each data row's inference, total-row candidates and (with a
// sorter) row hashes.
type scanner struct {
	r          rowReader
	opt        Options
	sr         *scanResult
	keyed      bool // JSON, NDJSON: the reader names the columns; no header to find
	declared   map[string]catalog.ColumnType
	headerDone bool
	first      [][]string // the records read before the header is decided
	firstRows  []int64
	sorter     *dedupSorter // nil: no duplicate check
	sortErr    error        // the sorter's first error, reported at the end
	keyIdx     []int
	hashBuf    []byte
	trimmed    []string
}

func newScanner(r rowReader, format string, opt Options, size int64) *scanner {
	s := &scanner{r: r, opt: opt, sr: &scanResult{encoding: encodingOf(r), sourceBytes: size},
		keyed: format == "json" || format == "ndjson", declared: map[string]catalog.ColumnType{}}
	for _, it := range opt.Items {
		s.declared[it.Name] = it.Type
	}
	s.headerDone = s.keyed
	return s
}

// run reads the file to its end, or (limit > 0) until the header is known
// and limit data rows are read, and settles what the reading found.
func (s *scanner) run(ctx context.Context, limit int64) (*scanResult, error) {
	sr := s.sr
	for records := 0; ; {
		if limit > 0 && s.headerDone && sr.dataRows >= limit {
			break
		}
		if records%8192 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if s.opt.Progress != nil {
				s.opt.Progress(Progress{Phase: "scan", Rows: sr.dataRows, Bytes: s.r.Offset(), TotalBytes: sr.sourceBytes})
			}
		}
		rec, err := s.r.Next()
		if errors.Is(err, io.EOF) {
			sr.complete = true
			break
		}
		if err != nil {
			if _, ok := isRowError(err); !ok {
				return nil, err
			}
			// a bad record is reported in the conversion pass
		} else if err := s.record(rec, s.r.Row()); err != nil {
			return nil, err
		}
		records++
	}
	return s.finish()
}

// record takes one record: held until the header is decided (from the
// first 20 records), data after it.
func (s *scanner) record(rec []string, row int64) error {
	if s.headerDone {
		s.addData(rec, row)
		return nil
	}
	cp := make([]string, len(rec))
	copy(cp, rec)
	s.first, s.firstRows = append(s.first, cp), append(s.firstRows, row)
	if len(s.first) < 20 {
		return nil
	}
	return s.decideHeader()
}

// finish decides the header of a file shorter than 20 records, orders a
// keyed file's columns and refuses a file without header or data rows.
func (s *scanner) finish() (*scanResult, error) {
	sr := s.sr
	if !s.headerDone {
		if len(s.first) == 0 {
			return nil, ErrEmpty
		}
		if err := s.decideHeader(); err != nil {
			return nil, err
		}
	}
	if s.keyed {
		sr.orderKeyed(s.r)
	}
	if sc := sheetChoiceOf(s.r); sc != nil {
		sr.sheet, sr.warnings = sc, append(sc.warnings(), sr.warnings...)
	}
	if len(sr.header) == 0 {
		return nil, ErrEmpty
	}
	if sr.dataRows == 0 {
		return nil, ErrNoRows
	}
	for len(sr.inf) < len(sr.header) {
		sr.inf = append(sr.inf, inference{})
	}
	return sr, nil
}

// addData takes a data row: a blank one is skipped; the others are counted,
// hashed for the sorter, offered as total-row candidates and added to the
// columns' inferences.
func (s *scanner) addData(rec []string, rowNum int64) {
	sr := s.sr
	s.trimmed = s.trimmed[:0]
	empty := true
	for _, v := range rec {
		v = trimCell(v)
		empty = empty && v == ""
		s.trimmed = append(s.trimmed, v)
	}
	if empty {
		return
	}
	sr.dataRows++
	if s.sorter != nil {
		rowHash, keyHash := hashRow(s.trimmed, s.keyIndexes(), &s.hashBuf)
		if err := s.sorter.add(dedupRec{key: keyHash, row: rowHash, idx: uint32(sr.dataRows - 1), num: uint32(rowNum)}); err != nil && s.sortErr == nil {
			s.sortErr = err
		}
	}
	s.growInferences(len(s.trimmed))
	if label := totalLabelOf(s.trimmed); label != "" {
		sr.addTotalCandidate(s.trimmed, rowNum, label)
	}
	for i, v := range s.trimmed {
		sr.inf[i].add(v, s.opt.Location, s.opt.markers)
	}
}

// growInferences adds an inference for each column up to n. A declared
// column has its type already: only look for personal data, and add up
// numbers (for the total-row check).
func (s *scanner) growInferences(n int) {
	sr := s.sr
	for len(sr.inf) < n {
		in := inference{}
		if i := len(sr.inf); i < len(sr.header) && s.declared[trimCell(sr.header[i])] != "" {
			t := s.declared[trimCell(sr.header[i])]
			in.dead, in.sumDeclared = true, t == catalog.ColInt || t == catalog.ColDecimal
		}
		sr.inf = append(sr.inf, in)
	}
}

// keyIndexes are the key columns' indexes in a data row: in a keyed file
// by the keys the reader has met so far (later objects may add keys),
// else in the header.
func (s *scanner) keyIndexes() []int {
	if len(s.opt.KeyColumns) == 0 {
		return nil
	}
	if s.keyed {
		s.keyIdx = s.keyIdx[:0]
		keys := s.r.Keys()
		for _, k := range s.opt.KeyColumns {
			for i, name := range keys {
				if name == k {
					s.keyIdx = append(s.keyIdx, i)
				}
			}
		}
		return s.keyIdx
	}
	if s.keyIdx == nil {
		s.keyIdx = keyIndexes(s.sr.header, s.opt.KeyColumns)
	}
	return s.keyIdx
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
