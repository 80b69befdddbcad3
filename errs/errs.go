// Package errs defines the error kinds the whole program shares and wraps
// them with context. One place (server.errorHandler) maps kinds to HTTP.
package errs

import (
	"errors"
	"fmt"
	"sort"
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
