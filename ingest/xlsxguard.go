package ingest

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"opendata/errs"
)

// A workbook is checked before excelize opens it, because excelize holds
// whatever it reads: each XML token whole (one cell of 1 GB is 1 GB, and
// several copies of it), each small part whole, the shared-strings table as
// an index in memory. checkWorkbook reads the zip directory (declared sizes,
// no inflating), then streams the shared strings and every worksheet through
// a scanner that keeps nothing but counters, counting the bytes actually
// inflated, and refuses the file at the first value, row or part past its
// limit, naming it.
const (
	// xlsxDirectoryMax bounds the zip's central directory (archive/zip
	// keeps a struct for every entry it lists).
	xlsxDirectoryMax = 1 << 20
	// xlsxPartMax bounds a part excelize reads whole into memory (the
	// workbook, styles, relationships): every part but worksheets, shared
	// strings and media.
	xlsxPartMax = 16 << 20
	// xlsxInMemoryXML: parts up to this size stay in memory, larger
	// worksheets and shared strings go to temporary files.
	xlsxInMemoryXML = 4 << 20
	// xlsxSharedStringsMax and xlsxSharedStringsCount bound the
	// shared-strings table: excelize indexes every entry (about 48 bytes
	// each, more when the table is small enough to be parsed in memory).
	xlsxSharedStringsMax   = 64 << 20
	xlsxSharedStringsCount = 2_000_000
)

const sharedStringsPart = "xl/sharedstrings.xml"

// checkWorkbook refuses a workbook that would take more memory to read than
// its limits allow; nil means excelize may open it.
func checkWorkbook(filePath string, opt Options) error {
	f, err := os.Open(filePath)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := checkZipDirectory(f, st.Size()); err != nil {
		return err
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		return wrapBadWorkbook(err)
	}
	var declared uint64
	var sst *zip.File
	var sheets []*zip.File
	for _, zf := range zr.File {
		declared += zf.UncompressedSize64
		name := strings.ToLower(strings.ReplaceAll(zf.Name, "\\", "/"))
		switch {
		case name == sharedStringsPart:
			if zf.UncompressedSize64 > xlsxSharedStringsMax {
				return partTooLarge(zf.Name, zf.UncompressedSize64, xlsxSharedStringsMax)
			}
			sst = zf
		case strings.HasPrefix(name, "xl/worksheets/") && strings.HasSuffix(name, ".xml"):
			sheets = append(sheets, zf)
		case strings.HasPrefix(name, "xl/media/"):
		default:
			if zf.UncompressedSize64 > xlsxPartMax {
				return partTooLarge(zf.Name, zf.UncompressedSize64, xlsxPartMax)
			}
		}
	}
	if declared > uint64(opt.MaxUnzipBytes) {
		return unzipTooLarge(opt)
	}
	names := sheetNames(zr)
	// Every part read below is counted by its inflated bytes, whatever its
	// header declared.
	budget := &inflateBudget{left: opt.MaxUnzipBytes}
	limit := maxRecordBytes(opt)
	var lengths []uint32
	big := -1
	if sst != nil {
		lengths, big, err = scanSharedStrings(sst, budget, limit, opt)
		if err != nil {
			return err
		}
	}
	for _, zf := range sheets {
		name := names[strings.ToLower(zf.Name)]
		if name == "" {
			name = path.Base(zf.Name)
		}
		if err := scanWorksheet(zf, name, budget, limit, lengths, big, opt); err != nil {
			return err
		}
	}
	if big >= 0 { // an oversized string no cell uses
		return &Problem{Code: "xlsx_shared_string_too_large", Kind: errs.TooLarge, Params: map[string]string{
			"index": strconv.Itoa(big + 1), "limit": strconv.FormatInt(limit, 10), "option": "max_field_kb"}}
	}
	return nil
}

// checkZipDirectory reads the end-of-central-directory record and refuses
// a directory too large to list before archive/zip lists it.
func checkZipDirectory(f *os.File, size int64) error {
	const eocd = 22
	tail := min(size, eocd+65535)
	if tail < eocd {
		return wrapBadWorkbook(zip.ErrFormat)
	}
	buf := make([]byte, tail)
	if _, err := f.ReadAt(buf, size-tail); err != nil {
		return wrapBadWorkbook(err)
	}
	i := bytes.LastIndex(buf, []byte("PK\x05\x06"))
	if i < 0 || len(buf)-i < eocd {
		return wrapBadWorkbook(zip.ErrFormat)
	}
	entries := binary.LittleEndian.Uint16(buf[i+10:])
	dirSize := binary.LittleEndian.Uint32(buf[i+12:])
	if entries == 0xFFFF || dirSize == 0xFFFFFFFF || dirSize > xlsxDirectoryMax {
		return partTooLarge("zip directory", uint64(dirSize), xlsxDirectoryMax)
	}
	return nil
}

func wrapBadWorkbook(err error) error {
	return fmt.Errorf("%w: %v", ErrBadWorkbook, err)
}

func partTooLarge(part string, got uint64, limit int64) error {
	return &Problem{Code: "xlsx_part_too_large", Kind: errs.TooLarge, Params: map[string]string{
		"part": part, "got": strconv.FormatUint(got, 10), "limit": strconv.FormatInt(limit, 10)}}
}

func unzipTooLarge(opt Options) error {
	return &Problem{Code: "xlsx_unzip_too_large", Kind: errs.TooLarge, Params: map[string]string{
		"limit": strconv.FormatInt(opt.MaxUnzipBytes>>20, 10), "option": "max_unzip_mb"}}
}

// inflateBudget counts the bytes inflated from every part read.
type inflateBudget struct{ left int64 }

var errInflateBudget = errors.New("inflated past max_unzip_mb")

type budgetReader struct {
	r io.Reader
	b *inflateBudget
}

func (r budgetReader) Read(p []byte) (int, error) {
	if r.b.left <= 0 {
		return 0, errInflateBudget
	}
	if int64(len(p)) > r.b.left {
		p = p[:r.b.left+1] // one byte over tells a part that ends exactly at the limit from one that goes on
	}
	n, err := r.r.Read(p)
	r.b.left -= int64(n)
	if r.b.left < 0 {
		return n, errInflateBudget
	}
	return n, err
}

// sheetNames maps worksheet parts to the names people see, from the
// workbook and its relationships (both small: bounded by xlsxPartMax).
func sheetNames(zr *zip.Reader) map[string]string {
	var wb struct {
		Sheets []struct {
			Name string `xml:"name,attr"`
			RID  string `xml:"http://schemas.openxmlformats.org/officeDocument/2006/relationships id,attr"`
		} `xml:"sheets>sheet"`
	}
	var rels struct {
		Rels []struct {
			ID     string `xml:"Id,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	out := map[string]string{}
	if decodePart(zr, "xl/workbook.xml", &wb) != nil || decodePart(zr, "xl/_rels/workbook.xml.rels", &rels) != nil {
		return out
	}
	target := map[string]string{}
	for _, r := range rels.Rels {
		t := strings.TrimPrefix(r.Target, "/")
		if !strings.HasPrefix(t, "xl/") {
			t = path.Join("xl", t)
		}
		target[r.ID] = strings.ToLower(t)
	}
	for _, s := range wb.Sheets {
		if t := target[s.RID]; t != "" {
			out[t] = s.Name
		}
	}
	return out
}

func decodePart(zr *zip.Reader, name string, v any) error {
	for _, zf := range zr.File {
		if strings.EqualFold(zf.Name, name) {
			rc, err := zf.Open()
			if err != nil {
				return err
			}
			defer rc.Close()
			return xml.NewDecoder(io.LimitReader(rc, xlsxPartMax)).Decode(v)
		}
	}
	return os.ErrNotExist
}

// xmlScanner walks XML markup without keeping it: text is skipped (only
// counted), a tag is looked at in the reader's buffer. Nothing it reads
// is held past the next call, so memory is the buffer whatever the input.
type xmlScanner struct {
	br    *bufio.Reader
	limit int64 // the longest text run or tag accepted
	count int64 // bytes read, for the caller's per-element sums
}

var errRunTooLong = errors.New("run too long")

// text skips to the next '<' (consumed); keep receives the run's first bytes
// (up to cap(keep)) when not nil.
func (s *xmlScanner) text(keep *[]byte) (int64, error) {
	var n int64
	if keep != nil {
		*keep = (*keep)[:0]
	}
	for {
		chunk, err := s.br.ReadSlice('<')
		n += int64(len(chunk))
		s.count += int64(len(chunk))
		if keep != nil && len(*keep) < cap(*keep) {
			*keep = append(*keep, chunk[:min(len(chunk), cap(*keep)-len(*keep))]...)
		}
		switch {
		case err == nil:
			if keep != nil && len(*keep) > 0 && n <= int64(cap(*keep)) {
				*keep = (*keep)[:len(*keep)-1] // the '<'
			}
			return n - 1, nil
		case errors.Is(err, bufio.ErrBufferFull):
			if n > s.limit {
				return n, errRunTooLong
			}
		default:
			return n, err
		}
	}
}

// tag reads the tag after a '<' up to its '>': its local name, whether it
// closes an element, whether it closes itself, and its bytes (valid until
// the next read).
func (s *xmlScanner) tag() (name []byte, closing, selfClosing bool, raw []byte, err error) {
	raw, err = s.br.ReadSlice('>')
	s.count += int64(len(raw))
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, false, false, nil, errRunTooLong
	}
	if err != nil {
		return nil, false, false, nil, err
	}
	raw = raw[:len(raw)-1]
	selfClosing = len(raw) > 0 && raw[len(raw)-1] == '/'
	name = raw
	if len(name) > 0 && name[0] == '/' {
		closing, name = true, name[1:]
	}
	if i := bytes.IndexAny(name, " \t\r\n/"); i >= 0 {
		name = name[:i]
	}
	if i := bytes.IndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	return name, closing, selfClosing, raw, nil
}

// attr finds attribute key's value in a tag's bytes.
func attr(raw []byte, key string) []byte {
	for i := 0; ; {
		j := bytes.Index(raw[i:], []byte(key))
		if j < 0 {
			return nil
		}
		j += i
		end := j + len(key)
		if j > 0 && isXMLSpace(raw[j-1]) && end+1 < len(raw) && raw[end] == '=' && (raw[end+1] == '"' || raw[end+1] == '\'') {
			q := raw[end+1]
			v := raw[end+2:]
			if k := bytes.IndexByte(v, q); k >= 0 {
				return v[:k]
			}
			return nil
		}
		i = end
	}
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func openPart(zf *zip.File, budget *inflateBudget, limit int64) (*xmlScanner, io.Closer, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, nil, wrapBadWorkbook(err)
	}
	size := 64 << 10
	if limit < int64(size) {
		size = int(max(limit, 4096))
	}
	return &xmlScanner{br: bufio.NewReaderSize(budgetReader{r: rc, b: budget}, size), limit: limit}, rc, nil
}

// scanErr turns a read failure into the file's problem.
func scanErr(err error, opt Options) error {
	if errors.Is(err, errInflateBudget) {
		return unzipTooLarge(opt)
	}
	return wrapBadWorkbook(err)
}

// scanSharedStrings returns each entry's length (bytes of markup and text,
// at least the value's length) and the index of the first one past limit
// (-1 when none is).
func scanSharedStrings(zf *zip.File, budget *inflateBudget, limit int64, opt Options) ([]uint32, int, error) {
	s, rc, err := openPart(zf, budget, limit)
	if err != nil {
		return nil, -1, err
	}
	defer rc.Close()
	var lengths []uint32
	in := false
	var start int64
	for {
		if _, err := s.text(nil); err != nil {
			if errors.Is(err, io.EOF) {
				return lengths, -1, nil
			}
			if errors.Is(err, errRunTooLong) && in {
				return lengths, len(lengths), nil
			}
			if errors.Is(err, errRunTooLong) {
				return nil, -1, partTooLarge(zf.Name, uint64(s.count), limit)
			}
			return nil, -1, scanErr(err, opt)
		}
		name, closing, self, _, err := s.tag()
		if err != nil {
			if errors.Is(err, errRunTooLong) {
				return nil, -1, partTooLarge(zf.Name, uint64(s.count), limit)
			}
			return nil, -1, scanErr(err, opt)
		}
		if in && s.count-start > limit {
			return lengths, len(lengths), nil
		}
		if string(name) != "si" {
			continue
		}
		switch {
		case closing:
			in = false
			lengths = append(lengths, uint32(s.count-start))
		case self:
			lengths = append(lengths, 0)
		default:
			in, start = true, s.count
			if len(lengths) >= xlsxSharedStringsCount {
				return nil, -1, &Problem{Code: "xlsx_shared_strings_too_many", Kind: errs.TooLarge, Params: map[string]string{
					"limit": strconv.Itoa(xlsxSharedStringsCount)}}
			}
		}
	}
}

// scanWorksheet refuses the first cell or row past limit: a cell by its own
// markup and text plus the shared string it shows, a row by all of its
// cells; and a row wider than max_columns.
func scanWorksheet(zf *zip.File, sheet string, budget *inflateBudget, limit int64, lengths []uint32, big int, opt Options) error {
	s, rc, err := openPart(zf, budget, limit)
	if err != nil {
		return err
	}
	defer rc.Close()
	w := &sheetScan{s: s, sheet: sheet, limit: limit, lengths: lengths, big: big, opt: opt,
		ref: make([]byte, 0, 16), value: make([]byte, 0, 16)}
	for {
		var keep *[]byte
		if w.inV && w.isS {
			keep = &w.value
		}
		_, err := s.text(keep)
		if errors.Is(err, errRunTooLong) {
			if !w.inCell {
				w.ref = w.ref[:0]
			}
			switch {
			case w.inCell:
				return w.tooLarge("xlsx_cell_too_large")
			case w.inRow:
				return w.tooLarge("xlsx_row_too_large")
			}
			return partTooLarge(zf.Name, uint64(s.count), limit)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return scanErr(err, opt)
		}
		if err := w.check(); err != nil {
			return err
		}
		name, closing, self, raw, err := s.tag()
		if errors.Is(err, errRunTooLong) {
			if w.inRow || w.inCell {
				return w.tooLarge("xlsx_cell_too_large")
			}
			return partTooLarge(zf.Name, uint64(s.count), limit)
		}
		if err != nil {
			return scanErr(err, opt)
		}
		ended, err := w.element(string(name), closing, self, raw)
		if err != nil {
			return err
		}
		if ended {
			continue // a row or a cell closed: checked again after the next text
		}
		if err := w.check(); err != nil {
			return err
		}
	}
}

// sheetScan is scanWorksheet's position in a worksheet: the row and cell
// it is in, where they started and the shared strings they show.
type sheetScan struct {
	s                        *xmlScanner
	sheet                    string
	limit                    int64
	lengths                  []uint32 // shared strings' lengths
	big                      int      // the shared string past the limit, or -1
	opt                      Options
	row, rowStart, cellStart int64
	rowExtra, cellExtra      int64 // shared strings shown in the row and in the cell
	inRow, inCell, inV, isS  bool
	cells                    int
	ref, value               []byte
}

func (w *sheetScan) tooLarge(code string) error {
	return &Problem{Code: code, Kind: errs.TooLarge, Params: map[string]string{
		"sheet": w.sheet, "cell": string(w.ref), "row": strconv.FormatInt(w.row, 10),
		"limit": strconv.FormatInt(w.limit, 10), "option": "max_field_kb"}}
}

// check refuses the open cell or row once past the limit.
func (w *sheetScan) check() error {
	if w.inCell && w.s.count-w.cellStart+w.cellExtra > w.limit {
		return w.tooLarge("xlsx_cell_too_large")
	}
	if w.inRow && w.s.count-w.rowStart+w.rowExtra > w.limit {
		return w.tooLarge("xlsx_row_too_large")
	}
	return nil
}

// element follows a row, cell or value tag; ended is true when a row or a
// cell closes.
func (w *sheetScan) element(name string, closing, self bool, raw []byte) (ended bool, err error) {
	switch name {
	case "row":
		if closing || self {
			w.inRow = false
			return true, nil
		}
		w.inRow, w.rowStart, w.rowExtra, w.cells = true, w.s.count-int64(len(raw))-2, 0, 0
		if r, err := strconv.ParseInt(string(attr(raw, "r")), 10, 64); err == nil {
			w.row = r
		} else {
			w.row++
		}
	case "c":
		if closing {
			w.inCell = false
			return true, nil
		}
		w.cells++
		if w.cells > w.opt.MaxColumns {
			return false, overLimit("too_many_columns", w.row, int64(w.cells), int64(w.opt.MaxColumns), "max_columns")
		}
		w.ref = append(w.ref[:0], attr(raw, "r")...)
		if len(w.ref) > 12 {
			w.ref = w.ref[:12]
		}
		w.isS = string(attr(raw, "t")) == "s"
		w.inCell, w.cellStart, w.cellExtra = !self, w.s.count-int64(len(raw))-2, 0
	case "v":
		w.inV = !closing && !self
		if closing && w.inCell && w.isS {
			i, err := strconv.Atoi(strings.TrimSpace(string(w.value)))
			if err == nil && i == w.big {
				return false, w.tooLarge("xlsx_cell_too_large")
			}
			if err == nil && i >= 0 && i < len(w.lengths) {
				w.cellExtra += int64(w.lengths[i])
				w.rowExtra += int64(w.lengths[i])
			}
		}
	}
	return false, nil
}
