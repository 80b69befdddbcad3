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

// lineGuard fails when a line runs past max bytes, so one enormous field
// cannot take unbounded memory.
type lineGuard struct {
	r       io.Reader
	max     int
	current int
}

var errLineTooLong = errors.New("line too long")

func (g *lineGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	for i := 0; i < n; {
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			g.current += n - i
			break
		}
		g.current += j
		if g.current > g.max {
			return 0, errLineTooLong
		}
		g.current = 0
		i += j + 1
	}
	if g.current > g.max {
		return 0, errLineTooLong
	}
	return n, err
}

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
	row         int64
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
	r := csv.NewReader(&lineGuard{r: text, max: opt.MaxFieldBytes * 4})
	if opt.Delimiter != 0 {
		sn.delimiter = opt.Delimiter
	}
	r.Comma = sn.delimiter
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	return &csvReader{f: f, count: count, r: r, enc: sn.encoding, textPerByte: textPerByte}, nil
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
		if errors.Is(err, errLineTooLong) {
			line, _ := c.r.FieldPos(0)
			return nil, fmt.Errorf("%w: near line %d", ErrFieldTooLarge, line+1)
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("line %d: %w", pe.Line, pe.Err)
		}
		return nil, err
	}
	line, _ := c.r.FieldPos(0)
	c.row = int64(line)
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
	j := &jsonReader{f: f, count: &countingReader{r: bufio.NewReaderSize(f, 256<<10)}, ndjson: ndjson, keyIdx: map[string]int{}, maxLine: opt.MaxFieldBytes * 4}
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
	j.dec = json.NewDecoder(&lineGuard{r: src, max: j.maxLine})
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
				if errors.Is(err, errLineTooLong) {
					return nil, fmt.Errorf("%w: record %d", ErrFieldTooLarge, j.row)
				}
				return nil, fmt.Errorf("%w: record %d (byte %d): %v", ErrBadJSON, j.row, j.dec.InputOffset(), unexpectedEOF(err))
			}
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
