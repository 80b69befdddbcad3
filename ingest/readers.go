package ingest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// rowReader yields a file's records as strings.
type rowReader interface {
	// Next returns the next record (valid until the next call) or io.EOF.
	Next() ([]string, error)
	// Row is the user-facing number of the record just returned: the line
	// in a CSV file, the row in a sheet, the record in a JSON array, the
	// line in NDJSON.
	Row() int64
	// Offset is how many input bytes have been consumed (progress).
	Offset() int64
	// Keys returns column names for sources that carry them per record
	// (JSON); nil when the first record is the header.
	Keys() []string
	Close() error
}

// Formats the readers understand.
var Formats = []string{"csv", "xlsx", "json", "ndjson"}

// DetectFormat guesses the format from the file name.
func DetectFormat(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv", ".txt", ".tsv":
		return "csv"
	case ".xlsx", ".xlsm":
		return "xlsx"
	case ".json":
		return "json"
	case ".ndjson", ".jsonl":
		return "ndjson"
	}
	return ""
}

// countingReader counts bytes read for progress reports.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// recordGuard fails a read once the record being parsed (the bytes since
// the parser last finished one) runs past max, so one enormous record (a
// long line, or a quotation mark left open across many lines) cannot take
// unbounded memory. The parser's read-ahead (a few KiB) is within the slack.
type recordGuard struct {
	r    io.Reader
	max  int64
	read int64 // bytes handed to the parser
	mark int64 // the parser's input offset where the current record starts
}

var errRecordTooLong = errors.New("record too long")

func (g *recordGuard) Read(p []byte) (int, error) {
	if g.read-g.mark > g.max {
		return 0, errRecordTooLong
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	return n, err
}

// done marks the end of a record at the parser's input offset.
func (g *recordGuard) done(offset int64) { g.mark = offset }

// maxRecordBytes is the longest record a reader parses: four fields at
// the field limit.
func maxRecordBytes(opt Options) int64 { return 4 * int64(opt.MaxFieldBytes) }

// sniff reads the start of a file to choose its encoding and delimiter and
// to refuse binary data.
type sniffed struct {
	encoding  string // utf-8, utf-8-bom, gb18030, utf-16le, utf-16be
	delimiter rune
}

func sniffText(head []byte, forced string) (sniffed, error) {
	var s sniffed
	if len(bytes.TrimSpace(head)) == 0 {
		return s, ErrEmpty
	}
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		s.encoding = "utf-8-bom"
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		s.encoding = "utf-16le"
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		s.encoding = "utf-16be"
	}
	if s.encoding == "" {
		control := 0
		for _, c := range head {
			if c == 0 {
				return s, ErrBinary
			}
			if c < 0x20 && c != '\t' && c != '\r' && c != '\n' && c != '\f' {
				control++
			}
		}
		if control*20 > len(head) {
			return s, ErrBinary
		}
		check := head
		// The sample may end inside a multi-byte character: leave out an
		// incomplete last one (and only that: cutting a fixed number of
		// bytes can itself split a complete character).
		if i := lastRuneStart(string(check)); i > 0 && !utf8.FullRune(check[i:]) {
			check = check[:i]
		}
		if utf8.Valid(check) {
			s.encoding = "utf-8"
		} else {
			s.encoding = "gb18030"
			// Decoded GB18030 that is mostly replacement characters is not text.
			dec, _, _ := transform.Bytes(simplifiedchinese.GB18030.NewDecoder(), check)
			if bytes.Count(dec, []byte("\uFFFD"))*10 > utf8.RuneCount(dec)+1 {
				return s, ErrBinary
			}
		}
	}
	switch strings.ToLower(forced) {
	case "":
	case "utf-8", "utf8":
		if s.encoding != "utf-8-bom" {
			s.encoding = "utf-8"
		}
	case "gbk", "gb2312", "gb18030":
		s.encoding = "gb18030"
	default:
		return s, fmt.Errorf("unknown encoding %q (use utf-8, gbk or gb18030)", forced)
	}
	// Delimiter: the most frequent candidate on the first line.
	first := head
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	s.delimiter = ','
	best := bytes.Count(first, []byte{','})
	for _, d := range []byte{'\t', ';', '|'} {
		if n := bytes.Count(first, []byte{d}); n > best {
			best, s.delimiter = n, rune(d)
		}
	}
	return s, nil
}

type csvReader struct {
	f           *os.File
	count       *countingReader
	r           *csv.Reader
	guard       *recordGuard
	maxCols     int
	row         int64
	lastLine    int64 // the line the last record ended on
	enc         string
	textPerByte float64 // decoded UTF-8 bytes per byte of the file
}

func openCSV(path string, opt Options) (*csvReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	sn, err := sniffText(head, opt.Encoding)
	if err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	count := &countingReader{r: bufio.NewReaderSize(f, 256<<10)}
	var text io.Reader = count
	textPerByte := 1.0
	if dec := decoderFor(sn.encoding); dec != nil {
		text = bufio.NewReaderSize(transform.NewReader(count, dec), 256<<10)
		// How much text a byte of this file makes, from the sample: the
		// one-pass conversion estimates the file's rows with it.
		if out, _, err := transform.Bytes(decoderFor(sn.encoding), head); err == nil && len(head) > 0 {
			textPerByte = float64(len(out)) / float64(len(head))
		}
	}
	guard := &recordGuard{r: text, max: maxRecordBytes(opt)}
	r := csv.NewReader(guard)
	if opt.Delimiter != 0 {
		sn.delimiter = opt.Delimiter
	}
	r.Comma = sn.delimiter
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	return &csvReader{f: f, count: count, r: r, guard: guard, maxCols: opt.MaxColumns, enc: sn.encoding, textPerByte: textPerByte}, nil
}

// decoderFor turns a sniffed encoding into UTF-8; nil for UTF-8 itself.
func decoderFor(encoding string) transform.Transformer {
	switch encoding {
	case "utf-8-bom":
		return unicode.UTF8BOM.NewDecoder()
	case "gb18030":
		return simplifiedchinese.GB18030.NewDecoder()
	case "utf-16le":
		return unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder()
	case "utf-16be":
		return unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewDecoder()
	}
	return nil
}

func (c *csvReader) Next() ([]string, error) {
	rec, err := c.r.Read()
	if err != nil {
		if errors.Is(err, errRecordTooLong) {
			return nil, overLimit("record_too_large", c.lastLine+1, c.guard.read-c.guard.mark, c.guard.max, "max_field_kb")
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("line %d: %w", pe.Line, pe.Err)
		}
		return nil, err
	}
	c.guard.done(c.r.InputOffset())
	line, _ := c.r.FieldPos(0)
	c.row = int64(line)
	last, _ := c.r.FieldPos(len(rec) - 1)
	c.lastLine = int64(last)
	if len(rec) > c.maxCols {
		return nil, overLimit("too_many_columns", c.row, int64(len(rec)), int64(c.maxCols), "max_columns")
	}
	if c.enc != "utf-8" {
		return rec, nil
	}
	for _, v := range rec {
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("line %d: %w", line, ErrMixedEncoding)
		}
	}
	return rec, nil
}

// textOffset is how much decoded text the CSV parser has consumed.
func (c *csvReader) textOffset() int64 { return c.r.InputOffset() }

func (c *csvReader) Row() int64     { return c.row }
func (c *csvReader) Offset() int64  { return c.count.n }
func (c *csvReader) Keys() []string { return nil }
func (c *csvReader) Close() error   { return c.f.Close() }

// jsonReader reads a JSON array of objects, or NDJSON (one object a line).
type jsonReader struct {
	f       *os.File
	count   *countingReader
	dec     *json.Decoder
	lines   *bufio.Scanner
	ndjson  bool
	keys    []string
	keyIdx  map[string]int
	fixed   bool // keys came from the scan; a new key is an error
	rec     []string
	row     int64
	maxLine int
	guard   *recordGuard
	maxCols int
	maxHead int // bytes of all keys together (the header)
	keyLen  int
}

func openJSON(path string, ndjson bool, keys []string, opt Options) (*jsonReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(head[:n], []byte{0xEF, 0xBB, 0xBF}))
	if len(trimmed) == 0 {
		f.Close()
		return nil, ErrEmpty
	}
	if bytes.IndexByte(head[:n], 0) >= 0 {
		f.Close()
		return nil, ErrBinary
	}
	f.Seek(0, io.SeekStart)
	j := &jsonReader{f: f, count: &countingReader{r: bufio.NewReaderSize(f, 256<<10)}, ndjson: ndjson, keyIdx: map[string]int{},
		maxLine: int(maxRecordBytes(opt)), maxCols: opt.MaxColumns, maxHead: opt.MaxHeaderBytes}
	for _, k := range keys {
		j.keyIdx[k] = len(j.keys)
		j.keys = append(j.keys, k)
	}
	j.fixed = keys != nil
	var src io.Reader = transform.NewReader(j.count, unicode.UTF8BOM.NewDecoder())
	if ndjson {
		j.lines = bufio.NewScanner(src)
		j.lines.Buffer(make([]byte, 64<<10), j.maxLine)
		return j, nil
	}
	j.guard = &recordGuard{r: src, max: int64(j.maxLine)}
	j.dec = json.NewDecoder(j.guard)
	j.dec.UseNumber()
	tok, err := j.dec.Token()
	if err != nil || tok != json.Delim('[') {
		f.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %v", ErrBadJSON, err)
		}
		return nil, fmt.Errorf("%w: a JSON file must hold an array of objects ([{…}, {…}])", ErrBadJSON)
	}
	return j, nil
}

func (j *jsonReader) Next() ([]string, error) {
	var obj map[string]any
	var raw json.RawMessage
	for {
		if j.ndjson {
			if !j.lines.Scan() {
				if err := j.lines.Err(); err != nil {
					if errors.Is(err, bufio.ErrTooLong) {
						return nil, fmt.Errorf("%w: line %d", ErrFieldTooLarge, j.row+1)
					}
					return nil, err
				}
				return nil, io.EOF
			}
			j.row++
			line := bytes.TrimSpace(j.lines.Bytes())
			if len(line) == 0 {
				continue
			}
			raw = append(raw[:0], line...)
		} else {
			if !j.dec.More() {
				if _, err := j.dec.Token(); err != nil {
					return nil, fmt.Errorf("%w: the array is not closed after record %d: %v", ErrBadJSON, j.row, err)
				}
				return nil, io.EOF
			}
			j.row++
			if err := j.dec.Decode(&raw); err != nil {
				if errors.Is(err, errRecordTooLong) {
					return nil, overLimit("record_too_large", j.row, j.guard.read-j.guard.mark, j.guard.max, "max_field_kb")
				}
				return nil, fmt.Errorf("%w: record %d (byte %d): %v", ErrBadJSON, j.row, j.dec.InputOffset(), unexpectedEOF(err))
			}
			j.guard.done(j.dec.InputOffset())
		}
		break
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, &RowError{Row: j.row, Code: "not_an_object", Params: map[string]string{"detail": short(string(raw), 60)}}
	}
	for i := range j.rec {
		j.rec[i] = ""
	}
	for k, v := range obj {
		idx, ok := j.keyIdx[k]
		if !ok {
			if j.fixed {
				return nil, fmt.Errorf("%w: record %d has key %q not seen while scanning", ErrBadJSON, j.row, k)
			}
			idx = len(j.keys)
			if idx >= j.maxCols {
				return nil, overLimit("too_many_columns", j.row, int64(len(j.keys)+countNew(obj, j.keyIdx)), int64(j.maxCols), "max_columns")
			}
			if j.keyLen += len(k) + 1; j.keyLen > j.maxHead {
				return nil, overLimit("header_too_large", j.row, int64(j.keyLen), int64(j.maxHead), "max_header_kb")
			}
			j.keyIdx[k] = idx
			j.keys = append(j.keys, k)
		}
		for len(j.rec) <= idx {
			j.rec = append(j.rec, "")
		}
		j.rec[idx] = jsonString(v)
	}
	return j.rec, nil
}

// countNew counts obj's keys not in known.
func countNew(obj map[string]any, known map[string]int) int {
	n := 0
	for k := range obj {
		if _, ok := known[k]; !ok {
			n++
		}
	}
	return n
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("the file ends in the middle of a record (truncated?)")
	}
	return err
}

func jsonString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func short(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

func (j *jsonReader) Row() int64     { return j.row }
func (j *jsonReader) Offset() int64  { return j.count.n }
func (j *jsonReader) Keys() []string { return j.keys }
func (j *jsonReader) Close() error   { return j.f.Close() }

// encodingOf names the text encoding a CSV source was read in ("" for others).
func encodingOf(r rowReader) string {
	switch x := r.(type) {
	case *csvReader:
		return x.enc
	case *prefetch:
		return encodingOf(x.inner)
	case *recorder:
		return encodingOf(x.inner)
	}
	return ""
}

// recorder keeps the records a head scan reads, so the conversion can
// replay them and then go on reading the same source: one read of the file.
type recorder struct {
	inner      rowReader
	recs       [][]string
	rows, offs []int64
	replaying  bool
	i          int
	row, off   int64
}

func (r *recorder) Next() ([]string, error) {
	if r.replaying && r.i < len(r.recs) {
		rec := r.recs[r.i]
		r.row, r.off = r.rows[r.i], r.offs[r.i]
		r.recs[r.i] = nil
		r.i++
		return rec, nil
	}
	rec, err := r.inner.Next()
	if err != nil {
		return nil, err
	}
	r.row, r.off = r.inner.Row(), r.inner.Offset()
	if !r.replaying {
		r.recs = append(r.recs, append([]string(nil), rec...)) // the inner reader reuses its slice
		r.rows, r.offs = append(r.rows, r.row), append(r.offs, r.off)
	}
	return rec, nil
}

// replay makes Next start again from the first recorded record.
func (r *recorder) replay() { r.replaying, r.i = true, 0 }

func (r *recorder) Row() int64     { return r.row }
func (r *recorder) Offset() int64  { return r.off }
func (r *recorder) Keys() []string { return r.inner.Keys() }
func (r *recorder) Close() error   { return r.inner.Close() }
