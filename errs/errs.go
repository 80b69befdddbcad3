// Package errs defines the error kinds the whole program shares and wraps
// them with context. One place (server.errorHandler) maps kinds to HTTP.
package errs

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"opendata/i18n"
)

// Kinds. Wrap them with %w; test with errors.Is.
var (
	NotFound        = errors.New("not found")
	Invalid         = errors.New("invalid argument")
	Conflict        = errors.New("conflict")
	Forbidden       = errors.New("forbidden")
	Unauthenticated = errors.New("unauthenticated")
	TooLarge        = errors.New("too large")
	Unavailable     = errors.New("unavailable")
	RateLimited     = errors.New("rate limit reached")
)

// Wrap adds context to *errp when it is non-nil:
//
//	defer errs.Wrap(&err, "GetResource(%d)", id)
func Wrap(errp *error, format string, args ...any) {
	if *errp != nil {
		*errp = fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), *errp)
	}
}

// FieldErrors is a validation failure naming each offending field.
// It is an Invalid error.
type FieldErrors map[string]string

// Error names each field with its message in English (a value may be a
// message key of the catalog, rendered here for logs and the command line).
func (f FieldErrors) Error() string {
	s := "invalid fields:"
	for _, k := range sortedKeys(f) {
		s += fmt.Sprintf(" %s: %s;", k, i18n.Text(i18n.EN, f[k]))
	}
	return s
}

func (f FieldErrors) Is(target error) bool { return target == Invalid }

// Err returns nil when there are no field errors.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	return f
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Invalidf returns an Invalid error with a message.
func Invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", Invalid, fmt.Sprintf(format, args...))
}

// NotFoundf returns a NotFound error with a message.
func NotFoundf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", NotFound, fmt.Sprintf(format, args...))
}

// Forbiddenf returns a Forbidden error with a message.
func Forbiddenf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", Forbidden, fmt.Sprintf(format, args...))
}

// Unauthenticatedf is an Unauthenticated error with a message.
func Unauthenticatedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", Unauthenticated, fmt.Sprintf(format, args...))
}

// Public is an error whose words for people come from the message catalog:
// Key and Params are rendered in the reader's language where the error is
// shown, Kind decides the status, Code (optional) names the case for
// programs, and RetryAfter tells a refused caller when to come back.
type Public struct {
	Kind       error
	Code       string
	Key        string
	Params     map[string]string
	RetryAfter time.Duration
}

func (p *Public) Error() string {
	if p.Code != "" {
		return fmt.Sprintf("%v: %s", p.Kind, p.Code)
	}
	return fmt.Sprintf("%v: %s", p.Kind, p.Key)
}

// Is makes errors.Is(p, Kind) hold.
func (p *Public) Is(target error) bool { return target == p.Kind }

// Internal is an error of a kind whose cause is for the log only: a
// driver's, SDK's or library's text (a constraint name, "sql: no rows in
// result set", a connection refused) never reaches a client, who sees the
// kind's message. Error keeps the whole text for the log.
func Internal(kind, cause error) error {
	if cause == nil {
		return nil
	}
	return &internal{kind: kind, cause: cause}
}

type internal struct{ kind, cause error }

func (e *internal) Error() string   { return e.kind.Error() + ": " + e.cause.Error() }
func (e *internal) Unwrap() []error { return []error{e.kind, e.cause} }

// Duplicate is a write refused because a value that must be unique is
// taken: which table and columns, for a message in words ("a department
// with this code already exists"). It is a Conflict.
type Duplicate struct {
	Table   string
	Columns []string
	Cause   error
}

func (d *Duplicate) Error() string {
	return fmt.Sprintf("%v: duplicate %s(%s): %v", Conflict, d.Table, strings.Join(d.Columns, ", "), d.Cause)
}
func (d *Duplicate) Is(target error) bool { return target == Conflict }
func (d *Duplicate) Unwrap() error        { return d.Cause }

// kinds in the order KindOf tries them.
var allKinds = []error{NotFound, Invalid, Conflict, Forbidden, Unauthenticated, TooLarge, Unavailable, RateLimited}

// KindOf is the kind an error is of, or nil for an unexpected error.
func KindOf(err error) error {
	if err == nil {
		return nil
	}
	for _, k := range allKinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// Detail is the part of err's text written for people: what the code that
// raised the kind said ("random.csv: the file is not text"), without the
// kind's own name and without any Internal cause (a driver's text). It is
// "" when nothing was said beyond the kind (and for field errors, whose
// fields speak).
func Detail(err error) string {
	kind := KindOf(err)
	if kind == nil {
		return ""
	}
	var fe FieldErrors
	var dup *Duplicate
	var pub *Public
	if errors.As(err, &fe) || errors.As(err, &dup) || errors.As(err, &pub) {
		return ""
	}
	text := err.Error()
	walk(err, func(e error) {
		if in, ok := e.(*internal); ok {
			text = strings.Replace(text, in.Error(), in.kind.Error(), 1)
		}
	})
	k := kind.Error()
	switch {
	case strings.Contains(text, ": "+k+": "):
		text = strings.Replace(text, ": "+k+": ", ": ", 1)
	case strings.HasPrefix(text, k+": "):
		text = text[len(k)+2:]
	case strings.HasSuffix(text, ": "+k):
		text = text[:len(text)-len(k)-2]
	case text == k:
		text = ""
	}
	return text
}

// walk visits every error in err's tree.
func walk(err error, fn func(error)) {
	if err == nil {
		return
	}
	fn(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walk(u.Unwrap(), fn)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walk(e, fn)
		}
	}
}
