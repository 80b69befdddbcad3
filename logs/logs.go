// Package logs carries what every log line of a piece of work must name —
// the request id of an HTTP request, the job id of a background job —
// through its context, and a slog handler that adds it to each record
// logged with that context (Logger.InfoContext and friends).
package logs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
)

type attrsKey struct{}
type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return With(context.WithValue(ctx, requestIDKey{}, id), slog.String("request_id", id))
}

// RequestID is the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// With returns ctx carrying attrs for every record logged with it, after
// those ctx already carries.
func With(ctx context.Context, attrs ...slog.Attr) context.Context {
	prev, _ := ctx.Value(attrsKey{}).([]slog.Attr)
	all := make([]slog.Attr, 0, len(prev)+len(attrs))
	all = append(append(all, prev...), attrs...)
	return context.WithValue(ctx, attrsKey{}, all)
}

// NewRequestID is a fresh random request id (24 hex digits).
func NewRequestID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ValidRequestID accepts an id a proxy we run sent (X-Request-ID): 8 to 64
// letters, digits, '-', '_' or '.', so nothing odd reaches the log.
func ValidRequestID(id string) bool {
	if len(id) < 8 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Handler adds the attributes a record's context carries (once, however
// often it is applied).
func Handler(inner slog.Handler) slog.Handler {
	if h, ok := inner.(handler); ok {
		return h
	}
	return handler{inner}
}

type handler struct{ slog.Handler }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if attrs, _ := ctx.Value(attrsKey{}).([]slog.Attr); len(attrs) > 0 {
			r = r.Clone()
			r.AddAttrs(attrs...)
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(attrs)}
}
func (h handler) WithGroup(name string) slog.Handler { return handler{h.Handler.WithGroup(name)} }
