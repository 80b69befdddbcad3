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

// Key is a parameter of a catalog message that is itself a message key
// (a role, a period, a reason): it is rendered in the reader's language.
type Key string

// Invalidf is an Invalid error whose words are the catalog's message key,
// filled from kv, pairs of placeholder name and value:
//
//	errs.Invalidf("err.search.q_long", "max", MaxQueryRunes)
//
// The server renders it as the answer's detail in the reader's language;
// Error() gives the English text for logs and the command line. (A key
// that is not in the catalog is taken as a fmt format of English text, the
// old way; TestErrorKeysAreInTheCatalog refuses such calls.)
func Invalidf(key string, kv ...any) error { return Msgf(Invalid, key, kv...) }

// NotFoundf is a NotFound error with a catalog message (see Invalidf).
func NotFoundf(key string, kv ...any) error { return Msgf(NotFound, key, kv...) }

// Forbiddenf is a Forbidden error with a catalog message (see Invalidf).
func Forbiddenf(key string, kv ...any) error { return Msgf(Forbidden, key, kv...) }

// Unauthenticatedf is an Unauthenticated error with a catalog message.
func Unauthenticatedf(key string, kv ...any) error { return Msgf(Unauthenticated, key, kv...) }

// Conflictf is a Conflict error with a catalog message (see Invalidf).
func Conflictf(key string, kv ...any) error { return Msgf(Conflict, key, kv...) }

// TooLargef is a TooLarge error with a catalog message (see Invalidf).
func TooLargef(key string, kv ...any) error { return Msgf(TooLarge, key, kv...) }

// Unavailablef is an Unavailable error with a catalog message.
func Unavailablef(key string, kv ...any) error { return Msgf(Unavailable, key, kv...) }

// RateLimitedf is a RateLimited error with a catalog message.
func RateLimitedf(key string, kv ...any) error { return Msgf(RateLimited, key, kv...) }

// Fieldf is an Invalid error about one named field or parameter (filter,
// sort, cursor …) with a catalog message: the answer lists it under the
// field's name, in the reader's language, and as the detail.
func Fieldf(field, key string, kv ...any) error {
	err := Msgf(Invalid, key, kv...)
	if p, ok := err.(*Public); ok {
		p.Field = field
		return p
	}
	return FieldErrors{field: err.Error()}
}

// Msgf is an error of kind with a catalog message key and its parameters
// (pairs of name and value; a Key value is rendered too), shown as the
// detail under the kind's own message.
func Msgf(kind error, key string, kv ...any) error {
	if !i18n.Has(key) {
		return fmt.Errorf("%w: %s", kind, legacyText(key, kv))
	}
	p := &Public{Kind: kind, Key: key, AsDetail: true}
	for i := 0; i+1 < len(kv); i += 2 {
		name := fmt.Sprint(kv[i])
		if k, ok := kv[i+1].(Key); ok {
			if p.KeyParams == nil {
				p.KeyParams = map[string]string{}
			}
			p.KeyParams[name] = string(k)
			continue
		}
		if p.Params == nil {
			p.Params = map[string]string{}
		}
		p.Params[name] = fmt.Sprint(kv[i+1])
	}
	return p
}

// legacyText is the English text of an old-style call whose first argument
// is a format rather than a key (not a printf wrapper: vet would then
// read every key as a format).
func legacyText(format string, args []any) string {
	var b strings.Builder
	fmt.Fprintf(&b, format, args...)
	return b.String()
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
	// KeyParams are parameters that are message keys themselves (a role,
	// a period), rendered in the same language.
	KeyParams map[string]string
	// AsDetail: the words say what in particular was wrong (the answer's
	// detail), under the kind's own message, rather than replace it.
	AsDetail bool
	// Field, when set, is the field or parameter the words are about.
	Field string
}

// Text renders the error's words in lang.
func (p *Public) Text(lang string) string {
	params := p.Params
	if len(p.KeyParams) > 0 {
		params = make(map[string]string, len(p.Params)+len(p.KeyParams))
		for k, v := range p.Params {
			params[k] = v
		}
		for k, v := range p.KeyParams {
			params[k] = i18n.T(lang, v, nil)
		}
	}
	return i18n.T(lang, p.Key, params)
}

func (p *Public) Error() string {
	if p.Field != "" {
		return fmt.Sprintf("%v: %s: %s", p.Kind, p.Field, p.Text(i18n.EN))
	}
	if p.AsDetail {
		return fmt.Sprintf("%v: %s", p.Kind, p.Text(i18n.EN))
	}
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
