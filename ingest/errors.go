package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"

	"opendata/errs"
	"opendata/i18n"
)

var errEOF = io.EOF

// File-level failures. Each is an errs.Invalid (or TooLarge) so the API
// answers 400/413 with the message; none leaves a version behind.
var (
	ErrEmpty         = errs.Invalidf("err.ingest.empty")
	ErrNoRows        = errs.Invalidf("err.ingest.no_rows")
	ErrBinary        = errs.Invalidf("err.ingest.binary")
	ErrBadJSON       = errs.Invalidf("err.ingest.bad_json")
	ErrBadWorkbook   = errs.Invalidf("err.ingest.bad_workbook")
	ErrMixedEncoding = errs.Invalidf("err.ingest.mixed_encoding")
	ErrFieldTooLarge = errs.TooLargef("err.ingest.field_too_large")
	ErrTooLarge      = errs.TooLargef("err.ingest.too_large")
	ErrUnknownFormat = errs.Invalidf("err.ingest.unknown_format")
	ErrNoStorableRow = errs.Invalidf("err.ingest.no_storable_row")
)

// FileError names the file a failure is about.
type FileError struct {
	File string
	Err  error
}

func (e *FileError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// Problem is a file-level failure the sender can act on, told in their
// language: Code keys the message catalog (ingest.<code>), Params fill it,
// Kind (errs.Invalid or errs.TooLarge) decides the HTTP status.
type Problem struct {
	Code   string
	Params map[string]string
	Kind   error
	// Rows, when set, are the first rows' problems, told after the message.
	Rows []RowError
}

func (p *Problem) Error() string        { return p.Text(i18n.EN) }
func (p *Problem) Is(target error) bool { return target == p.Kind }
func (p *Problem) Text(lang string) string {
	s := i18n.T(lang, "ingest."+p.Code, p.Params)
	if len(p.Rows) == 0 {
		return s
	}
	list := make([]string, len(p.Rows))
	for i, e := range p.Rows {
		list[i] = Describe(lang, e)
	}
	return s + i18n.T(lang, "ingest.first_problems", map[string]string{"list": strings.Join(list, i18n.T(lang, "ingest.problem_sep", nil))})
}

// firstProblemsTold is how many rows' problems a file-level failure names.
const firstProblemsTold = 5

// CheckRejectRatio is the file-level rule: when the share of rows rejected
// (duplicates aside: they repeat data that is stored) is over limit, the
// file is a wrong export rather than dirty data, and fails as a whole with
// the share, the limit and the first rows' problems.
func CheckRejectRatio(rep *Report, limit float64) error {
	if rep.RowsRead == 0 {
		return nil
	}
	rejected := rep.RowsRejected - rep.Duplicates.Count
	share := float64(rejected) / float64(rep.RowsRead)
	if share <= limit {
		return nil
	}
	var first []RowError
	for _, e := range rep.Rejected {
		if e.Code == "duplicate_row" {
			continue
		}
		if first = append(first, e); len(first) == firstProblemsTold {
			break
		}
	}
	return &Problem{Code: "reject_ratio", Kind: errs.Invalid, Rows: first, Params: map[string]string{
		"rejected": strconv.FormatInt(rejected, 10), "read": strconv.FormatInt(rep.RowsRead, 10),
		"ratio": percent(share), "limit": percent(limit), "option": "max_reject_ratio"}}
}

// percent writes a share as a percentage with one decimal (5.0%).
func percent(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

// IsRejectRatio reports whether err is the file-level reject rule's failure.
func IsRejectRatio(err error) bool {
	var p *Problem
	return errors.As(err, &p) && p.Code == "reject_ratio"
}

// overLimit is the Problem for an input past one of the configured limits:
// where it happened, what was found, the limit and the option that sets it.
func overLimit(code string, row int64, got, limit int64, option string) *Problem {
	return &Problem{Code: code, Kind: errs.TooLarge, Params: map[string]string{
		"row": strconv.FormatInt(row, 10), "got": strconv.FormatInt(got, 10), "limit": strconv.FormatInt(limit, 10), "option": option}}
}

// ErrorText is what a person is told about a failed ingest, in lang: the
// file and what is wrong with it for anything the file caused, and a fixed
// sentence for failures of our own (their cause belongs in the log, never
// on a page).
func ErrorText(lang string, err error) string {
	text, _ := Explain(lang, err)
	return text
}

// Explain is ErrorText, and whether the failure is ours rather than the
// file's (whose cause then belongs in a log).
func Explain(lang string, err error) (text string, internal bool) {
	prefix := ""
	var fe *FileError
	if errors.As(err, &fe) && fe.File != "" {
		prefix = fe.File + ": "
	}
	var p *Problem
	var re *RowError
	var pub *errs.Public
	switch {
	case errors.As(err, &p):
		return prefix + p.Text(lang), false
	case errors.As(err, &re):
		return prefix + Describe(lang, *re), false
	case errors.Is(err, context.Canceled):
		return i18n.T(lang, "job.cancelled", nil), false
	case errors.As(err, &pub):
		return prefix + pub.Text(lang), false
	case errors.Is(err, errs.Invalid), errors.Is(err, errs.TooLarge), errors.Is(err, errs.Forbidden), errors.Is(err, errs.NotFound):
		return err.Error(), false // a sentence about the file (not yet in the catalog)
	}
	return i18n.T(lang, "ingest.internal_error", nil), true
}

// Reason is the message key and parameters that tell a failure caused by
// the file in any language, with the file's name as parameter "file"; the
// key is "" for anything else.
func Reason(err error) (key string, params map[string]string) {
	var p *Problem
	var re *RowError
	var pub *errs.Public
	switch {
	case errors.As(err, &p):
		key, params = "ingest."+p.Code, maps.Clone(p.Params)
	case errors.As(err, &pub) && len(pub.KeyParams) == 0:
		key, params = pub.Key, maps.Clone(pub.Params)
	case errors.As(err, &re):
		key, params = "ingest."+re.Code, describeParams(*re)
	default:
		return "", nil
	}
	if params == nil {
		params = map[string]string{}
	}
	var fe *FileError
	if errors.As(err, &fe) && fe.File != "" {
		params["file"] = fe.File
	}
	return key, params
}

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
