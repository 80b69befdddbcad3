package server

import (
	"crypto/subtle"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"opendata/access"
	"opendata/auth"
	"opendata/errs"
)

const (
	sessionCookie = "opendata_session"
	csrfCookie    = "opendata_csrf"
	csrfHeader    = "X-CSRF-Token"
	ctxUser       = "user"
	ctxViaCookie  = "via_cookie"
	ctxSystem     = "system_principal"
	ctxCaller     = "api_key_caller"
	ctxDeveloper  = "developer"
)

func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if c.Request().TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		return next(c)
	}
}

func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		s.log.Info("request", "method", c.Request().Method, "path", c.Request().URL.Path, "status", c.Response().Status,
			"duration_ms", time.Since(start).Milliseconds(), "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		return nil
	}
}

// authenticate resolves who calls: an API key ("Authorization: Bearer
// oda_…" or "X-API-Key"), a department system credential (odc_…), or a
// session (ods_… or the cookie). A bad key or token is an error; no
// credentials is fine here (routes that need a user say so). Staff land in
// ctxUser; developer accounts in ctxDeveloper, so no staff check can ever
// pass for them.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token, viaCookie := "", false
		h := c.Request().Header.Get("Authorization")
		if k := c.Request().Header.Get("X-API-Key"); k != "" || strings.HasPrefix(h, "Bearer "+access.KeyPrefix) {
			if k == "" {
				k = strings.TrimPrefix(h, "Bearer ")
			}
			caller, err := s.app.Access.Authenticate(c.Request().Context(), k)
			if err != nil {
				return err
			}
			c.Set(ctxCaller, caller)
			return next(c)
		}
		if strings.HasPrefix(h, "Bearer odc_") {
			p, err := s.app.Sharing.Authenticate(c.Request().Context(), strings.TrimPrefix(h, "Bearer "))
			if err != nil {
				return err
			}
			c.Set(ctxSystem, p)
			return next(c)
		} else if strings.HasPrefix(h, "Bearer ods_") {
			token = strings.TrimPrefix(h, "Bearer ")
		} else if ck, err := c.Cookie(sessionCookie); err == nil && ck.Value != "" {
			token, viaCookie = ck.Value, true
		}
		if token != "" {
			u, err := s.app.Users.Session(c.Request().Context(), token)
			if err != nil {
				if viaCookie {
					return next(c) // a stale cookie just means "logged out"
				}
				return err
			}
			if u.Role == auth.RoleDeveloper {
				c.Set(ctxDeveloper, u)
			} else {
				c.Set(ctxUser, u)
			}
			c.Set(ctxViaCookie, viaCookie)
		}
		return next(c)
	}
}

// csrfForCookies requires the double-submit token on state-changing
// requests authenticated by cookie (bearer tokens are not sent by browsers
// on their own, so they need none).
func csrfForCookies(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		via, _ := c.Get(ctxViaCookie).(bool)
		// Portal forms are checked even before login (login CSRF).
		if !via && !isPortal(c.Request().URL.Path) {
			return next(c)
		}
		ck, err := c.Cookie(csrfCookie)
		h := c.Request().Header.Get(csrfHeader)
		if h == "" {
			// A multipart upload form carries it in the URL: reading the
			// body here would buffer the file.
			h = c.QueryParam("csrf_token")
		}
		if h == "" && strings.HasPrefix(c.Request().Header.Get(echo.HeaderContentType), echo.MIMEApplicationForm) {
			h = c.FormValue("csrf_token")
		}
		if err != nil || h == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(h)) != 1 {
			return errs.Forbiddenf("missing or wrong CSRF token")
		}
		return next(c)
	}
}

// currentUser returns the logged-in user or an Unauthenticated error.
func currentUser(c echo.Context) (auth.User, error) {
	u, ok := c.Get(ctxUser).(auth.User)
	if !ok {
		if _, dev := c.Get(ctxDeveloper).(auth.User); dev {
			return auth.User{}, errs.Forbiddenf("this is for government staff; developer accounts use keys, applications and usage")
		}
		return auth.User{}, errs.Unauthenticated
	}
	return u, nil
}

// requireRole returns the user when their role is one of roles.
func requireRole(c echo.Context, roles ...auth.Role) (auth.User, error) {
	u, err := currentUser(c)
	if err != nil {
		return u, err
	}
	for _, r := range roles {
		if u.Role == r {
			return u, nil
		}
	}
	return u, errs.Forbiddenf("your role (%s) may not do this", u.Role)
}

// developer returns the logged-in developer account.
func developer(c echo.Context) (auth.User, bool) {
	u, ok := c.Get(ctxDeveloper).(auth.User)
	return u, ok
}

// account is anyone logged in: staff or developer.
func account(c echo.Context) (auth.User, error) {
	if u, ok := developer(c); ok {
		return u, nil
	}
	return currentUser(c)
}

// apiCaller returns the API key of the call, if one was sent.
func apiCaller(c echo.Context) (access.Caller, bool) {
	k, ok := c.Get(ctxCaller).(access.Caller)
	return k, ok
}

// limitPublic applies the caller's tier to public API calls — the key's
// tier for a call with an API key, the anonymous per-IP tier otherwise —
// and answers with the standard RateLimit headers; a refusal is a 429 with
// the JSON error body and Retry-After. If the counter store fails, the
// call goes through (logged): the catalog stays available without Redis.
func (s *Server) limitPublic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key, tier := "ip:"+c.RealIP(), s.app.AnonTier
		if k, ok := apiCaller(c); ok {
			key, tier = "key:"+strconv.FormatInt(k.Key.ID, 10), s.app.Tiers[k.Key.Tier]
		}
		res, err := s.app.Limits.Check(c.Request().Context(), key, tier)
		if err != nil {
			s.log.Warn("rate limit store failed; call allowed", "err", err)
			return next(c)
		}
		h := c.Response().Header()
		reset := int64(math.Ceil(time.Until(res.Reset).Seconds()))
		if reset < 0 {
			reset = 0
		}
		h.Set("RateLimit-Limit", strconv.FormatInt(res.Limit, 10))
		h.Set("RateLimit-Remaining", strconv.FormatInt(res.Remaining, 10))
		h.Set("RateLimit-Reset", strconv.FormatInt(reset, 10))
		if !res.Allowed {
			h.Set("Retry-After", strconv.FormatInt(max(1, reset), 10))
			if res.Quota {
				return fmt.Errorf("%w: the daily quota of %d calls is used up", errs.RateLimited, res.Limit)
			}
			return fmt.Errorf("%w: %d calls per %s", errs.RateLimited, res.Limit, tier.Rate.Period)
		}
		return next(c)
	}
}
