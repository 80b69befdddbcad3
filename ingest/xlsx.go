package ingest

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// xlsxReader streams one sheet. It walks the sheet twice in lockstep, once
// for raw values (exact numbers) and once formatted (to see which cells are
// formatted as dates); a date-formatted serial number becomes an ISO date.
type xlsxReader struct {
	f         *excelize.File
	raw, fmtd *excelize.Rows
	row       int64
	size      int64
	rec       []string
	loc       *time.Location
	maxCols   int
	choice    *SheetChoice
}

var errNoSheets = errors.New("the workbook has no sheets")

// sheetChoiceOf is the sheet choice of a workbook's reader (nil for others).
func sheetChoiceOf(r rowReader) *SheetChoice {
	if x, ok := r.(*xlsxReader); ok {
		return x.choice
	}
	return nil
}

// warnings tell the choice in the quality report: the sheet read and why,
// each sheet skipped and why.
func (c *SheetChoice) warnings() []RowError {
	out := []RowError{{Code: "sheet_used_" + string(c.Reason), Value: c.Used, Params: map[string]string{"sheet": c.Used}}}
	for _, s := range c.Skipped {
		out = append(out, RowError{Code: "sheet_skipped_" + string(s.Reason), Value: s.Name, Params: map[string]string{"sheet": s.Name}})
	}
	return out
}

func openXLSX(path string, opt Options) (*xlsxReader, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 {
		return nil, ErrEmpty
	}
	if err := checkWorkbook(path, opt); err != nil {
		return nil, err
	}
	f, err := excelize.OpenFile(path, excelize.Options{
		UnzipSizeLimit:    opt.MaxUnzipBytes,
		UnzipXMLSizeLimit: min(xlsxInMemoryXML, opt.MaxUnzipBytes),
		TmpDir:            opt.TempDir,
		CultureInfo:       excelize.CultureNameZhCN,
	})
	if err != nil {
		if strings.Contains(err.Error(), "unzip size exceeds") {
			return nil, unzipTooLarge(opt)
		}
		return nil, fmt.Errorf("%w: %v", ErrBadWorkbook, err)
	}
	choice, err := chooseSheet(f, opt)
	if err != nil {
		f.Close()
		return nil, err
	}
	sheet := choice.Used
	raw, err1 := f.Rows(sheet)
	fmtd, err2 := f.Rows(sheet)
	if err := errors.Join(err1, err2); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: sheet %q: %v", ErrBadWorkbook, sheet, err)
	}
	return &xlsxReader{f: f, raw: raw, fmtd: fmtd, size: st.Size(), loc: opt.Location, maxCols: opt.MaxColumns, choice: choice}, nil
}

func pickSheet(f *excelize.File, want string) (string, error) {
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return "", wrapBadWorkbook(errNoSheets)
	}
	if want == "" {
		for _, s := range sheets {
			if v, _ := f.GetSheetVisible(s); v {
				return s, nil
			}
		}
		return sheets[0], nil
	}
	for _, s := range sheets {
		if s == want {
			return s, nil
		}
	}
	if n, err := strconv.Atoi(want); err == nil && n >= 1 && n <= len(sheets) {
		return sheets[n-1], nil
	}
	return "", fmt.Errorf("%w: no sheet %q; the workbook has %s", ErrBadWorkbook, want, strings.Join(sheets, ", "))
}

func (x *xlsxReader) Next() ([]string, error) {
	if !x.raw.Next() {
		if err := x.raw.Error(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadWorkbook, err)
		}
		return nil, errEOF
	}
	x.fmtd.Next()
	x.row++
	raw, err := x.raw.Columns(excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, fmt.Errorf("%w: row %d: %v", ErrBadWorkbook, x.row, err)
	}
	if len(raw) > x.maxCols {
		return nil, overLimit("too_many_columns", x.row, int64(len(raw)), int64(x.maxCols), "max_columns")
	}
	shown, _ := x.fmtd.Columns()
	x.rec = x.rec[:0]
	for i, r := range raw {
		v := r
		if i < len(shown) && shown[i] != r {
			v = reconcile(r, shown[i], x.loc)
		}
		x.rec = append(x.rec, v)
	}
	return x.rec, nil
}

// reconcile picks the value to keep when the raw and formatted forms of a
// cell differ: a serial shown as a date becomes an ISO date (or date-time);
// otherwise the raw value keeps full precision ("3.14159" over "3.14").
func reconcile(raw, shown string, loc *time.Location) string {
	serial, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		return shown
	}
	_, isDate := parseDate(shown)
	_, isTS := parseTimestamp(shown, loc)
	if !isDate && !isTS && !looksLikeDate(shown) {
		return raw
	}
	t, err := excelize.ExcelDateToTime(serial, false)
	if err != nil {
		return shown
	}
	if serial == float64(int64(serial)) {
		return t.Format("2006-01-02")
	}
	return t.Format("2006-01-02 15:04:05")
}

func looksLikeDate(s string) bool {
	return strings.ContainsAny(s, "年月/") || (strings.Count(s, "-") == 2 && len(s) <= 19) || strings.Count(s, ":") >= 1
}

// excelSerialDate converts a serial number in a column declared as a date.
func excelSerialDate(v string) (string, bool) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 1 || f > 2958465 {
		return "", false
	}
	t, err := excelize.ExcelDateToTime(f, false)
	if err != nil {
		return "", false
	}
	if f == float64(int64(f)) {
		return t.Format("2006-01-02"), true
	}
	return t.Format("2006-01-02 15:04:05"), true
}

func (x *xlsxReader) Row() int64     { return x.row }
func (x *xlsxReader) Offset() int64  { return 0 }
func (x *xlsxReader) Keys() []string { return nil }
func (x *xlsxReader) Close() error {
	x.raw.Close()
	x.fmtd.Close()
	return x.f.Close()
}
