package server

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"opendata/errs"
	"opendata/i18n"
)

// apiError is the one error body every route answers with.
type apiError struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Detail  string            `json:"detail,omitempty"`
		Fields  map[string]string `json:"fields,omitempty"`
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

// errorHandler maps every error to a status and the JSON body. Internal
// errors are logged and never shown to the client.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	lang := i18n.Lang(c.Request().Header.Get("Accept-Language"))
	var body apiError
	status := http.StatusInternalServerError
	body.Error.Code = "internal"
	var he *echo.HTTPError
	var fe errs.FieldErrors
	var mbe *http.MaxBytesError
	var pub *errs.Public
	switch {
	case errors.As(err, &pub):
		// Words from the catalog, in the reader's language; nothing else.
		for _, k := range kinds {
			if errors.Is(pub.Kind, k.err) {
				status, body.Error.Code = k.status, k.code
				break
			}
		}
		if pub.Code != "" {
			body.Error.Code = pub.Code
		}
		if pub.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(pub.RetryAfter.Seconds()))))
		}
		if status < 500 {
			body.Error.Message = i18n.T(lang, pub.Key, pub.Params)
		}
	case errors.As(err, &mbe):
		status, body.Error.Code = http.StatusRequestEntityTooLarge, "too_large"
		body.Error.Detail = fmt.Sprintf("the request body is over the %d KiB limit", mbe.Limit>>10)
	case errors.As(err, &he):
		status = he.Code
		body.Error.Code = http.StatusText(status)
		if m, ok := he.Message.(string); ok {
			body.Error.Detail = m
		}
		switch status {
		case http.StatusNotFound:
			body.Error.Code = "not_found"
		case http.StatusMethodNotAllowed:
			body.Error.Code = "method_not_allowed"
		case http.StatusRequestEntityTooLarge:
			body.Error.Code = "too_large"
		case http.StatusBadRequest:
			body.Error.Code = "invalid"
		case http.StatusForbidden:
			body.Error.Code = "forbidden"
		}
	default:
		for _, k := range kinds {
			if errors.Is(err, k.err) {
				status, body.Error.Code = k.status, k.code
				body.Error.Detail = err.Error()
				break
			}
		}
		if errors.As(err, &fe) {
			// A field's text may be a message key (auth.password.short).
			body.Error.Fields = map[string]string{}
			for k, v := range fe {
				body.Error.Fields[k] = i18n.Text(lang, v)
			}
		}
	}
	if body.Error.Message == "" {
		body.Error.Message = i18n.T(lang, "error."+body.Error.Code, nil)
	}
	if body.Error.Message == i18n.Missing+"error."+body.Error.Code {
		body.Error.Message = http.StatusText(status)
	}
	if status >= 500 {
		s.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
		body.Error.Detail = ""
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	if isPortal(c.Request().URL.Path) && s.pages != nil {
		msg := body.Error.Message
		if body.Error.Detail != "" && status < 500 {
			msg += ": " + body.Error.Detail
		}
		if err := s.render(c, status, "error", s.newPage(c, msg, map[string]any{"Message": msg})); err == nil {
			return
		}
	}
	c.JSON(status, body)
}
