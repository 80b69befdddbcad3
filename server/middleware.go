package server

import (
	"crypto/subtle"
	"errors"
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
	"opendata/logs"
	"opendata/ratelimit"
	"opendata/sharing"
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

const ctxSecure = "secure"

// secureRequest reports whether the visitor reached the platform over
// HTTPS: TLS on this connection, a base_url with https (the documented
// HTTPS proxy in front), or X-Forwarded-Proto: https from a proxy we run
// (trust_proxy). Cookies are then Secure and HSTS is sent.
func (s *Server) secureRequest(r *http.Request) bool {
	if r.TLS != nil || strings.HasPrefix(strings.ToLower(s.app.Config.BaseURL), "https://") {
		return true
	}
	return s.app.Config.TrustProxy && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
}

// isSecure is secureRequest's answer for this request (set by securityHeaders).
func isSecure(c echo.Context) bool {
	b, _ := c.Get(ctxSecure).(bool)
	return b
}

func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		secure := s.secureRequest(c.Request())
		c.Set(ctxSecure, secure)
		if secure {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		return next(c)
	}
}

// startSession sets the session cookie of a login and a fresh CSRF token
// (a token planted before login is worthless after it), and returns the
// token for API clients.
func (s *Server) startSession(c echo.Context, token string) string {
	maxAge := int(s.app.Config.SessionTTL.Seconds())
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: isSecure(c), SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
	return setCSRFCookie(c)
}

// endSession clears the session cookie and rotates the CSRF token.
func (s *Server) endSession(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: isSecure(c), SameSite: http.SameSiteLaxMode, MaxAge: -1})
	setCSRFCookie(c)
}

// setCSRFCookie issues a new double-submit token.
func setCSRFCookie(c echo.Context) string {
	tok, _ := auth.NewToken("")
	c.SetCookie(&http.Cookie{Name: csrfCookie, Value: tok, Path: "/", Secure: isSecure(c), SameSite: http.SameSiteStrictMode})
	return tok
}

// requestID gives every request an id: in the X-Request-ID answer header,
// in the error body and page, and in every log line logged with the
// request's context. Behind a proxy we run (trust_proxy) the proxy's id is
// kept so its log and ours agree.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !s.app.Config.TrustProxy || !logs.ValidRequestID(id) {
			id = logs.NewRequestID()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		c.SetRequest(c.Request().WithContext(logs.WithRequestID(c.Request().Context(), id)))
		return next(c)
	}
}

// logRequests writes one line per request (with its request id, route,
// status, time and, for a refusal, the error's cause) and counts it.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		attrs := []any{"method", c.Request().Method, "path", c.Request().URL.Path, "status", c.Response().Status,
			"duration_ms", time.Since(start).Milliseconds()}
		if cause, ok := c.Get(ctxErr).(error); ok && c.Response().Status < 500 {
			attrs = append(attrs, "err", cause) // a 5xx's cause is logged by the error mapper
		}
		s.log.InfoContext(c.Request().Context(), "request", attrs...)
		s.app.Metrics.ObserveRequest(c.Path(), c.Request().Method, c.Response().Status, time.Since(start))
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
				return s.badCredential(c, err)
			}
			c.Set(ctxCaller, caller)
			return next(c)
		}
		if strings.HasPrefix(h, "Bearer odc_") {
			p, err := s.app.Sharing.Authenticate(c.Request().Context(), strings.TrimPrefix(h, "Bearer "))
			if err != nil {
				return s.badCredential(c, err)
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
				if viaCookie && errors.Is(err, errs.Unauthenticated) {
					return next(c) // a stale cookie just means "logged out"
				}
				return s.badCredential(c, err)
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
			return errs.Forbiddenf("err.csrf")
		}
		return next(c)
	}
}

// viewer is who reads a derived view: the staff member or developer signed
// in, or the zero actor (the public).
func viewer(c echo.Context) auth.Actor {
	if u, ok := c.Get(ctxUser).(auth.User); ok {
		return u.Actor()
	}
	if u, ok := c.Get(ctxDeveloper).(auth.User); ok {
		return u.Actor()
	}
	return auth.Actor{}
}

// currentUser returns the logged-in user or an Unauthenticated error.
func currentUser(c echo.Context) (auth.User, error) {
	u, ok := c.Get(ctxUser).(auth.User)
	if !ok {
		if _, dev := c.Get(ctxDeveloper).(auth.User); dev {
			return auth.User{}, errs.Forbiddenf("err.staff_only")
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
	return u, errs.Forbiddenf("err.role_refused", "role", errs.Key("role."+u.Role))
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

// unlimited paths: static files and probes (a page's own assets must not
// spend the visitor's allowance; load balancers probe often).
func unlimitedPath(path string) bool {
	return strings.HasPrefix(path, "/static/") || path == "/healthz" || path == "/readyz" || path == "/metrics"
}

// limitCalls applies a rate and daily quota to every request that is not
// from government staff or a department's system, whatever its route, so
// no public path (search, dataset pages, previews, department pages,
// disputes, sign-in, sign-up, docs, downloads, the API) is left out:
//   - a call with an API key spends its account's allowance for the key's
//     tier (access.LimitKey): all keys of an account share one count;
//   - a developer's session spends that account's anonymous allowance;
//   - anyone else spends their address's: API calls one count, portal
//     pages another (browsing does not eat an API client's budget).
//
// Answers carry the RateLimit headers; a refusal is 429 with Retry-After.
// If the counter store fails, a call with an API key is refused (503) and
// any other call goes through (logged): the portal stays available
// without Redis, and no key exceeds its allowance.
func (s *Server) limitCalls(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if unlimitedPath(c.Request().URL.Path) {
			return next(c)
		}
		if _, staff := c.Get(ctxUser).(auth.User); staff {
			return next(c)
		}
		if _, system := c.Get(ctxSystem).(sharing.Principal); system {
			return next(c)
		}
		key, tier := s.callerLimit(c)
		if err := s.spend(c, key, tier); err != nil {
			return err
		}
		return next(c)
	}
}

// callerLimit is whose allowance a call spends, and its tier.
func (s *Server) callerLimit(c echo.Context) (string, ratelimit.Tier) {
	if k, ok := apiCaller(c); ok {
		return access.LimitKey(k), s.app.Tiers[k.Key.Tier]
	}
	if u, ok := developer(c); ok {
		return "user:" + strconv.FormatInt(u.ID, 10), s.app.AnonTier
	}
	return addressKey(c), s.app.AnonTier
}

// addressKey is an anonymous caller's count: its address, API and portal apart.
func addressKey(c echo.Context) string {
	if isPortal(c.Request().URL.Path) {
		return "web:ip:" + c.RealIP()
	}
	return "ip:" + c.RealIP()
}

// spend counts one call against key and sets the RateLimit headers; a
// refusal is a RateLimited error (429 with Retry-After).
func (s *Server) spend(c echo.Context, key string, tier ratelimit.Tier) error {
	res, err := s.app.Limits.Check(c.Request().Context(), key, tier)
	if err != nil {
		// An API key's allowance is a promise to its owner and to the
		// departments whose data it reads: without the counter store the
		// call is refused (503, retry). Anyone else — the public portal and
		// anonymous API — goes through, logged, so the portal stays up.
		if _, keyed := apiCaller(c); keyed {
			s.app.Metrics.LimitStoreErrors.WithLabelValues("refused").Inc()
			c.Response().Header().Set("Retry-After", "5")
			return errs.Internal(errs.Unavailable, fmt.Errorf("rate-limit store: %w", err))
		}
		s.app.Metrics.LimitStoreErrors.WithLabelValues("allowed").Inc()
		s.log.WarnContext(c.Request().Context(), "rate limit store failed; call allowed", "err", err)
		return nil
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
		scope, _, _ := strings.Cut(key, ":")
		s.app.Metrics.RateLimited.WithLabelValues(scope).Inc()
		h.Set("Retry-After", strconv.FormatInt(max(1, reset), 10))
		if res.Quota {
			return errs.RateLimitedf("err.quota_day", "limit", res.Limit)
		}
		return errs.RateLimitedf("err.rate_per", "limit", res.Limit, "period", periodWord(tier.Rate.Period))
	}
	return nil
}

// badCredential answers a call with an unknown, revoked or expired key,
// credential or session token: the attempt spends the address's
// allowance, so guessing keys is throttled like any anonymous call.
func (s *Server) badCredential(c echo.Context, err error) error {
	if !errors.Is(err, errs.Unauthenticated) {
		return err
	}
	if lerr := s.spend(c, addressKey(c), s.app.AnonTier); lerr != nil {
		return lerr
	}
	return err
}

// streamedUploads read their own multipart body up to max_upload_mb,
// straight to disk.
var streamedUploads = map[string]bool{
	"/api/v1/catalog/resources/:id/uploads": true,
	"/console/resources/:id/upload":         true,
	"/api/v1/catalog/drafts":                true, // a sample, up to ingest.DraftMaxBytes
	"/console/resources/new/draft":          true,
	"/console/resources/:id/draft":          true,
}

// authRoutes take the small max_auth_body_kb: they are open to anyone
// and their bodies are a name and a password (or, for a dispute, a name,
// a contact and a short description: sharing.MaxProblemRunes).
var authRoutes = map[string]bool{
	"/datasets/:id/disputes": true,
	"/api/v1/auth/login":     true,
	"/api/v1/auth/logout":    true,
	"/api/v1/account/signup": true,
	"/api/v1/users":          true,
	"/login":                 true,
	"/logout":                true,
	"/signup":                true,
	"/account/verify":        true,
}

// limitBodies caps every request body but the streamed uploads': a body
// announced over the limit is refused before a byte is read, and any other
// is cut at the limit (reading past it fails with 413). JSON binding and
// form parsing never see more than the limit.
func (s *Server) limitBodies(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Body == nil || r.Body == http.NoBody || streamedUploads[c.Path()] {
			return next(c)
		}
		limit := int64(s.app.Config.MaxBodyKB) << 10
		if authRoutes[c.Path()] {
			limit = int64(s.app.Config.MaxAuthBodyKB) << 10
		}
		if r.ContentLength > limit {
			return bodyTooLarge(limit)
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
		if strings.HasPrefix(r.Header.Get(echo.HeaderContentType), echo.MIMEApplicationForm) {
			// Parse now: form values read later would hide a cut body as
			// empty fields.
			var mbe *http.MaxBytesError
			if err := r.ParseForm(); errors.As(err, &mbe) {
				return bodyTooLarge(limit)
			}
		}
		return next(c)
	}
}

func bodyTooLarge(limit int64) error {
	return &errs.Public{Kind: errs.TooLarge, Code: "too_large", Key: "error.body_too_large", Params: map[string]string{"kb": strconv.FormatInt(limit>>10, 10)}}
}

// periodWord is a rate limit's period in words (a message key when it is
// one of the usual units).
func periodWord(d time.Duration) any {
	switch d {
	case time.Second:
		return errs.Key("err.period.second")
	case time.Minute:
		return errs.Key("err.period.minute")
	case time.Hour:
		return errs.Key("err.period.hour")
	case 24 * time.Hour:
		return errs.Key("err.period.day")
	}
	return d.String()
}
