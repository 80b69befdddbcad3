package ingest

import (
	"errors"
	"fmt"
	"io"

	"opendata/errs"
)

var errEOF = io.EOF

// File-level failures. Each is an errs.Invalid (or TooLarge) so the API
// answers 400/413 with the message; none leaves a version behind.
var (
	ErrEmpty         = fmt.Errorf("%w: the file is empty", errs.Invalid)
	ErrNoRows        = fmt.Errorf("%w: the file has a header but no data rows", errs.Invalid)
	ErrBinary        = fmt.Errorf("%w: the file is not text (binary data found); is it really a CSV file?", errs.Invalid)
	ErrBadJSON       = fmt.Errorf("%w: invalid JSON", errs.Invalid)
	ErrBadWorkbook   = fmt.Errorf("%w: unreadable Excel workbook", errs.Invalid)
	ErrMixedEncoding = fmt.Errorf("%w: invalid UTF-8 after the start of the file; save it as UTF-8 or pass the encoding (gbk)", errs.Invalid)
	ErrFieldTooLarge = fmt.Errorf("%w: a field is larger than the limit", errs.TooLarge)
	ErrTooLarge      = fmt.Errorf("%w: the file is too large", errs.TooLarge)
	ErrUnknownFormat = fmt.Errorf("%w: unknown file format; use .csv, .xlsx, .json or .ndjson", errs.Invalid)
	ErrNoStorableRow = fmt.Errorf("%w: every data row was rejected; nothing to store", errs.Invalid)
)

// FileError names the file a failure is about.
type FileError struct {
	File string
	Err  error
}

func (e *FileError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// RowError is a problem with one record or cell. Code keys the message
// catalog (ingest.<code>); Params fill it.
type RowError struct {
	Row    int64             `json:"row"`
	Column string            `json:"column,omitempty"`
	Code   string            `json:"code"`
	Value  string            `json:"value,omitempty"`
	Params map[string]string `json:"params,omitempty"`
}

func (e *RowError) Error() string {
	s := fmt.Sprintf("row %d", e.Row)
	if e.Column != "" {
		s += fmt.Sprintf(", field %q", e.Column)
	}
	s += ": " + e.Code
	if e.Value != "" {
		s += fmt.Sprintf(" (%q)", short(e.Value, 40))
	}
	return s
}

func isRowError(err error) (*RowError, bool) {
	var re *RowError
	ok := errors.As(err, &re)
	return re, ok
}
