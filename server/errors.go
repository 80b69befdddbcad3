package server

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"opendata/app"
	"opendata/errs"
	"opendata/i18n"
	"opendata/logs"
)

// apiError is the one error body every route answers with.
type apiError struct {
	Error struct {
		Code      string            `json:"code"`
		Message   string            `json:"message"`
		Detail    string            `json:"detail,omitempty"`
		Fields    map[string]string `json:"fields,omitempty"`
		RequestID string            `json:"request_id,omitempty"`
	} `json:"error"`
}

var kinds = []struct {
	err    error
	status int
	code   string
}{
	{errs.NotFound, http.StatusNotFound, "not_found"},
	{errs.Invalid, http.StatusBadRequest, "invalid"},
	{errs.Conflict, http.StatusConflict, "conflict"},
	{errs.Forbidden, http.StatusForbidden, "forbidden"},
	{errs.Unauthenticated, http.StatusUnauthorized, "unauthenticated"},
	{errs.TooLarge, http.StatusRequestEntityTooLarge, "too_large"},
	{errs.Unavailable, http.StatusServiceUnavailable, "unavailable"},
	{errs.RateLimited, http.StatusTooManyRequests, "rate_limited"},
}

// statusOf is the HTTP status of an error's kind (500 for none).
func statusOf(err error) int {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.status
		}
	}
	return http.StatusInternalServerError
}

// unavailableRetry is the Retry-After of a 503 that names no time of its
// own: a database or object store restart takes seconds.
const unavailableRetry = 2 * time.Second

// answer is what a client is told about an error: only words from the
// message catalog (in the reader's language) and text the raising code
// wrote for people; never a driver's, library's or Go runtime's text.
type answer struct {
	status     int
	code       string
	message    string
	detail     string
	fields     map[string]string
	retryAfter time.Duration
}

// describe splits an error into its public answer; the error itself (the
// cause) is for the log.
func describe(err error, lang string) answer {
	a := answer{status: http.StatusInternalServerError, code: "internal"}
	var he *echo.HTTPError
	var mbe *http.MaxBytesError
	var pub *errs.Public
	var dup *errs.Duplicate
	if errs.KindOf(err) == nil {
		err = app.Classify(err) // a raw driver or network error: classify it
	}
	switch {
	case errors.As(err, &pub):
		a.status, a.code = statusOf(pub.Kind), codeOf(pub.Kind)
		if pub.Code != "" {
			a.code = pub.Code
		}
		a.retryAfter = pub.RetryAfter
		if pub.Field != "" {
			a.fields = map[string]string{pub.Field: pub.Text(lang)}
		}
		if pub.AsDetail {
			a.detail = pub.Text(lang) // under the kind's message
		} else {
			a.message = pub.Text(lang)
		}
	case errors.As(err, &mbe):
		a.status, a.code = http.StatusRequestEntityTooLarge, "too_large"
		a.detail = i18n.T(lang, "error.body_too_large", map[string]string{"kb": strconv.FormatInt(mbe.Limit>>10, 10)})
	case errors.As(err, &he):
		// echo's own answers (unknown route, wrong method): its text is
		// English library text, so the catalog speaks instead.
		a.status = he.Code
		switch he.Code {
		case http.StatusNotFound:
			a.code = "not_found"
		case http.StatusMethodNotAllowed:
			a.code = "method_not_allowed"
		case http.StatusRequestEntityTooLarge:
			a.code = "too_large"
		case http.StatusBadRequest:
			a.code = "invalid"
		case http.StatusForbidden:
			a.code = "forbidden"
		case http.StatusUnauthorized:
			a.code = "unauthenticated"
		case http.StatusServiceUnavailable:
			a.code = "unavailable"
		default:
			if he.Code < 500 {
				a.code = strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "_"))
			}
		}
	case errors.As(err, &dup):
		a.status, a.code = http.StatusConflict, "duplicate"
		field := strings.Join(dup.Columns, ", ")
		key := "error.duplicate." + dup.Table + "." + strings.Join(dup.Columns, "_")
		if !i18n.Has(key) {
			key = "error.duplicate"
		}
		a.message = i18n.T(lang, key, map[string]string{"field": field})
		if len(dup.Columns) > 0 {
			a.fields = map[string]string{}
			for _, c := range dup.Columns {
				a.fields[c] = i18n.T(lang, "error.duplicate.field", nil)
			}
		}
	default:
		kind := errs.KindOf(err)
		if kind == nil {
			break
		}
		a.status, a.code = statusOf(kind), codeOf(kind)
		a.detail = errs.Detail(err)
		var fe errs.FieldErrors
		if errors.As(err, &fe) {
			// A field's text may be a message key (auth.password.short).
			a.fields = map[string]string{}
			for k, v := range fe {
				a.fields[k] = i18n.Text(lang, v)
			}
		}
	}
	if a.message == "" {
		a.message = i18n.T(lang, "error."+a.code, nil)
		if strings.HasPrefix(a.message, i18n.Missing) {
			a.message = i18n.T(lang, "error.status", map[string]string{"status": strconv.Itoa(a.status)})
		}
	}
	if a.status >= 500 {
		a.detail, a.fields = "", nil
	}
	if a.status == http.StatusServiceUnavailable && a.retryAfter == 0 {
		a.retryAfter = unavailableRetry
	}
	return a
}

func codeOf(kind error) string {
	for _, k := range kinds {
		if errors.Is(kind, k.err) {
			return k.code
		}
	}
	return "internal"
}

// apiLang is the language an API answer speaks: ?lang= when given (the
// records API takes it), else the Accept-Language header, else Chinese.
func apiLang(c echo.Context) string {
	if l := c.QueryParam("lang"); l != "" {
		return i18n.Lang(l)
	}
	return i18n.Lang(c.Request().Header.Get("Accept-Language"))
}

// ctxErr holds the error a request ended with, for its log line.
const ctxErr = "request_error"

// errorHandler is the one error mapper: every error any route returns
// becomes its public answer (JSON for the API, a page for the portal) with
// the request id, and the cause goes to the log under the same id.
func (s *Server) errorHandler(err error, c echo.Context) {
	ctx := c.Request().Context()
	c.Set(ctxErr, err)
	if c.Response().Committed {
		// Streaming had begun: nothing more can be said to the client.
		s.log.WarnContext(ctx, "request failed after the answer began", "path", c.Request().URL.Path, "err", err)
		return
	}
	l := apiLang(c)
	portal := isPortal(c.Request().URL.Path) && s.pages != nil
	if portal {
		l = lang(c) // a page speaks the visitor's chosen language
	}
	a := describe(err, l)
	if a.status >= 500 {
		s.log.ErrorContext(ctx, "request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "status", a.status, "err", err)
	}
	if a.retryAfter > 0 && c.Response().Header().Get("Retry-After") == "" {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(a.retryAfter.Seconds()))))
	}
	rid := logs.RequestID(ctx)
	if c.Request().Method == http.MethodHead {
		c.NoContent(a.status)
		return
	}
	if portal {
		msg := a.message
		if a.detail != "" {
			msg += ": " + a.detail
		}
		data := map[string]any{"Message": msg, "RequestID": rid, "Status": a.status}
		if err := s.render(c, a.status, "error", s.newPage(c, a.message, data)); err == nil {
			return
		}
	}
	var body apiError
	body.Error.Code, body.Error.Message, body.Error.Detail, body.Error.Fields, body.Error.RequestID = a.code, a.message, a.detail, a.fields, rid
	c.JSON(a.status, body)
}

// jobErrorText is what a failed job's record says (staff read it on the
// job's page and in the API): the file and row problems the ingest names,
// or a message key for a failure that is not the file's fault. Never the
// cause's text — a panic's stack, a driver's or the object store's words —
// which the runner logs with the job id.
func jobErrorText(err error) string {
	if errs.KindOf(err) == nil {
		err = app.Classify(err)
	}
	var pub *errs.Public
	if errors.As(err, &pub) {
		if len(pub.Params)+len(pub.KeyParams) > 0 {
			return pub.Text(i18n.ZH) // a record keeps one text: Chinese first
		}
		return pub.Key
	}
	switch kind := errs.KindOf(err); kind {
	case errs.Invalid, errs.TooLarge, errs.Conflict, errs.NotFound, errs.Forbidden:
		var fe errs.FieldErrors
		if errors.As(err, &fe) {
			return fe.Error()
		}
		if d := errs.Detail(err); d != "" {
			return d
		}
		return "error." + codeOf(kind)
	case errs.Unavailable:
		return "error.job_unavailable"
	}
	return "error.job_internal"
}
