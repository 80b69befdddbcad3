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

	"opendata/errs"

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

// jsonReader reads a JSON array of objects, or NDJSON (one object a line),
// token by token: keys are columns in the order they first appear, a
// record is bounded as it is read (four times max_field_kb, like a CSV
// record) and so is its nesting (maxJSONDepth).
type jsonReader struct {
	f        *os.File
	count    *countingReader
	dec      *json.Decoder
	lines    *bufio.Scanner
	ndjson   bool
	keys     []string
	keyIdx   map[string]int
	keyRows  []int64 // how many records carry each key
	keyFirst []int64 // the first record carrying each key
	keyLast  []int64 // the last record counted in keyRows
	records  int64   // objects read
	fixed    bool    // keys came from the scan; a new key is an error
	rec      []string
	row      int64
	maxLine  int
	guard    *recordGuard
	maxCols  int
	maxHead  int // bytes of all keys together (the header)
	keyLen   int
	key      string // the key whose value is being read
	nested   []byte
}

// maxJSONDepth is the deepest nesting a record may have: a data record
// nests a level or two; deep nesting is an attack on the parser's stack.
const maxJSONDepth = 32

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
	j.keyRows, j.keyFirst, j.keyLast = make([]int64, len(j.keys)), make([]int64, len(j.keys)), make([]int64, len(j.keys))
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
	if j.ndjson {
		for {
			if !j.lines.Scan() {
				if err := j.lines.Err(); err != nil {
					if errors.Is(err, bufio.ErrTooLong) {
						return nil, j.tooLarge(j.row + 1)
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
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			err := j.object(dec)
			if err == nil {
				if _, err := dec.Token(); !errors.Is(err, io.EOF) {
					return nil, &RowError{Row: j.row, Code: "not_an_object", Params: map[string]string{"detail": short(string(line), 60)}}
				}
				return j.rec, nil
			}
			var p *Problem
			if errors.As(err, &p) {
				return nil, err
			}
			return nil, &RowError{Row: j.row, Code: "not_an_object", Params: map[string]string{"detail": short(string(line), 60)}}
		}
	}
	if !j.dec.More() {
		if _, err := j.dec.Token(); err != nil {
			return nil, fmt.Errorf("%w: the array is not closed after record %d: %v", ErrBadJSON, j.row, err)
		}
		return nil, io.EOF
	}
	j.row++
	err := j.object(j.dec)
	j.guard.done(j.dec.InputOffset())
	if err != nil {
		var p *Problem
		var re *RowError
		if errors.As(err, &p) || errors.As(err, &re) {
			return nil, err
		}
		if errors.Is(err, errRecordTooLong) {
			return nil, j.tooLarge(j.row)
		}
		return nil, fmt.Errorf("%w: record %d (byte %d): %v", ErrBadJSON, j.row, j.dec.InputOffset(), unexpectedEOF(err))
	}
	return j.rec, nil
}

// columnOrder is the order of the keys as columns: as they first appear
// in the file, except that a key fewer than half of the objects carry
// comes after the others (still in order of first appearance), each with
// a warning naming its first record and how many records carry it. It
// depends on the file only, so the same file always gives the same schema.
func (j *jsonReader) columnOrder() (order []int, sparse []RowError) {
	var later []int
	for i := range j.keys {
		if j.keyRows[i]*2 < j.records {
			later = append(later, i)
			sparse = append(sparse, RowError{Row: j.keyFirst[i], Column: j.keys[i], Code: "sparse_key", Params: map[string]string{
				"rows": strconv.FormatInt(j.keyRows[i], 10), "records": strconv.FormatInt(j.records, 10)}})
			continue
		}
		order = append(order, i)
	}
	return append(order, later...), sparse
}

// orderKeyed sets a JSON or NDJSON file's header from its keys, in
// columnOrder, and reorders what the scan inferred to match.
func (sr *scanResult) orderKeyed(r rowReader) {
	keys := r.Keys()
	j, ok := r.(*jsonReader)
	if !ok {
		sr.keys, sr.header = keys, cleanHeader(keys)
		return
	}
	order, sparse := j.columnOrder()
	for len(sr.inf) < len(keys) {
		sr.inf = append(sr.inf, inference{})
	}
	ordered := make([]string, len(keys))
	inf := make([]inference, len(keys))
	for to, from := range order {
		ordered[to], inf[to] = keys[from], sr.inf[from]
	}
	sr.keys, sr.header, sr.inf, sr.warnings = ordered, cleanHeader(ordered), inf, append(sr.warnings, sparse...)
}

// tooLarge is the refusal of a record past the record limit, naming the
// key whose value was being read.
func (j *jsonReader) tooLarge(row int64) error {
	if j.ndjson {
		return overLimit("ndjson_line_too_large", row, int64(j.maxLine), int64(j.maxLine), "max_field_kb")
	}
	if j.key == "" {
		return overLimit("record_too_large", row, int64(j.maxLine), int64(j.maxLine), "max_field_kb")
	}
	return &Problem{Code: "json_record_too_large", Kind: errs.TooLarge, Params: map[string]string{
		"row": strconv.FormatInt(row, 10), "column": j.key, "limit": strconv.Itoa(j.maxLine), "option": "max_field_kb"}}
}

// object reads one record into j.rec. A value that is not an object is a
// rejected row (the rest of it is skipped).
func (j *jsonReader) object(dec *json.Decoder) error {
	j.key = ""
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		detail := fmt.Sprint(tok)
		if ok {
			if j.nested, err = j.appendNested(dec, d, j.nested[:0], 1); err != nil {
				return err
			}
			detail = string(j.nested)
		}
		return &RowError{Row: j.row, Code: "not_an_object", Params: map[string]string{"detail": short(detail, 60)}}
	}
	j.records++
	for i := range j.rec {
		j.rec[i] = ""
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		k, _ := kt.(string)
		j.key = k
		v, err := j.value(dec)
		if err != nil {
			return err
		}
		idx, ok := j.keyIdx[k]
		if !ok {
			if j.fixed {
				return fmt.Errorf("%w: record %d has key %q not seen while scanning", ErrBadJSON, j.row, k)
			}
			idx = len(j.keys)
			if idx >= j.maxCols {
				return overLimit("too_many_columns", j.row, int64(idx)+j.countRest(dec), int64(j.maxCols), "max_columns")
			}
			if j.keyLen += len(k) + 1; j.keyLen > j.maxHead {
				return overLimit("header_too_large", j.row, int64(j.keyLen), int64(j.maxHead), "max_header_kb")
			}
			j.keyIdx[k] = idx
			j.keys = append(j.keys, k)
			j.keyRows, j.keyFirst, j.keyLast = append(j.keyRows, 0), append(j.keyFirst, j.row), append(j.keyLast, 0)
		}
		for len(j.rec) <= idx {
			j.rec = append(j.rec, "")
		}
		if j.keyLast[idx] != j.records {
			j.keyLast[idx] = j.records
			j.keyRows[idx]++
		}
		j.rec[idx] = v
	}
	_, err = dec.Token() // '}'
	return err
}

// countRest counts the key just read and the rest of the object's keys
// (each value within the record limit) for the message about a record too
// wide: one more than it finds new would be less to the point.
func (j *jsonReader) countRest(dec *json.Decoder) int64 {
	n := int64(1)
	for dec.More() {
		if _, err := dec.Token(); err != nil {
			break
		}
		if _, err := j.value(dec); err != nil {
			break
		}
		n++
	}
	return n
}

// value reads one value as the cell's text: scalars as written, arrays and
// objects as compact JSON in the file's order.
func (j *jsonReader) value(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	switch x := tok.(type) {
	case json.Delim:
		if j.nested, err = j.appendNested(dec, x, j.nested[:0], 1); err != nil {
			return "", err
		}
		return string(j.nested), nil
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", nil
}

// appendNested appends the array or object opened by open, refusing
// nesting deeper than maxJSONDepth.
func (j *jsonReader) appendNested(dec *json.Decoder, open json.Delim, b []byte, depth int) ([]byte, error) {
	if depth > maxJSONDepth {
		return b, &Problem{Code: "json_too_deep", Kind: errs.TooLarge, Params: map[string]string{
			"row": strconv.FormatInt(j.row, 10), "column": j.key, "limit": strconv.Itoa(maxJSONDepth)}}
	}
	b = append(b, byte(open))
	for n := 0; dec.More(); n++ {
		if n > 0 {
			b = append(b, ',')
		}
		tok, err := dec.Token()
		if err != nil {
			return b, err
		}
		if open == '{' {
			b = appendJSONString(b, tok.(string))
			b = append(b, ':')
			if tok, err = dec.Token(); err != nil {
				return b, err
			}
		}
		switch x := tok.(type) {
		case json.Delim:
			if b, err = j.appendNested(dec, x, b, depth+1); err != nil {
				return b, err
			}
		case string:
			b = appendJSONString(b, x)
		case json.Number:
			b = append(b, x...)
		case bool:
			b = strconv.AppendBool(b, x)
		case nil:
			b = append(b, "null"...)
		}
	}
	if _, err := dec.Token(); err != nil {
		return b, err
	}
	return append(b, byte(open)+2), nil // ']' and '}' follow '[' and '{' by two
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("the file ends in the middle of a record (truncated?)")
	}
	return err
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
