package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"opendata/access"
	"opendata/auth"
	"opendata/errs"
	"opendata/i18n"
	"opendata/notify"
)

// The open API gateway: developer accounts and keys, the records API,
// applications for on-application data, usage.
func (s *Server) bindGateway(g *echo.Group) {
	g.GET("/resources/:id/records", s.records)
	g.GET("/key", s.currentKey)
	g.POST("/account/signup", s.apiSignup)
	g.GET("/keys", s.listKeys)
	g.POST("/keys", s.createKey)
	g.POST("/keys/:id/revoke", s.revokeKey)
	g.POST("/keys/:id/tier", s.setKeyTier)
	g.GET("/applications", s.listApplications)
	g.POST("/applications", s.fileApplication)
	g.GET("/applications/:id", s.getApplication)
	g.POST("/applications/:id/approve", s.approveApplication)
	g.POST("/applications/:id/refuse", s.refuseApplication)
	g.POST("/applications/:id/revoke", s.revokeApplication)
	g.POST("/applications/:id/withdraw", s.withdrawApplication)
	g.GET("/usage", s.apiUsage)
	g.GET("/developers", s.listDevelopers)
	g.POST("/developers/:id/activate", s.activateDeveloper)
	g.POST("/developers/:id/suspend", s.suspendDeveloper)
}

func bureauAdmin(c echo.Context) (auth.User, error) { return requireRole(c, auth.RoleBureauAdmin) }

// sessionAccount is an account logged in with a session (not an API key:
// keys call the data API, they do not manage keys or applications).
func sessionAccount(c echo.Context) (auth.User, error) {
	if _, ok := apiCaller(c); ok {
		return auth.User{}, errs.Forbiddenf("err.key_data_only")
	}
	return account(c)
}

func (s *Server) requireDeveloper(c echo.Context) (auth.User, error) {
	u, err := sessionAccount(c)
	if err != nil {
		return u, err
	}
	if u.Role != auth.RoleDeveloper {
		return u, errs.Forbiddenf("err.developer_only")
	}
	return u, nil
}

func (s *Server) apiSignup(c echo.Context) error {
	var in access.SignUp
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	reg, err := s.signup(c, in)
	if err != nil {
		return err
	}
	// The same answer whether or not the address already had an account.
	return c.JSON(http.StatusAccepted, map[string]any{"next": reg.Next,
		"message": i18n.T(apiLang(c), "signup.next_"+reg.Next, nil)})
}

// signup registers and mails the address: the verification link for a
// new account (with e-mail verification on), or, when the address already
// has an account, a note to its owner that someone tried to register it.
// Whoever signed up is told the same in both cases.
func (s *Server) signup(c echo.Context, in access.SignUp) (access.Registered, error) {
	reg, err := s.app.Access.Register(c.Request().Context(), in)
	if err != nil || !s.app.Notify.Mails() {
		return reg, err
	}
	base := s.baseURL(c)
	var to, subject, body string
	switch {
	case reg.Existing:
		to = strings.ToLower(strings.TrimSpace(in.Email))
		subject, body = bilingual("mail.signup_exists_subject", nil), bilingual("mail.signup_exists_body", map[string]string{"login": base + "/login"})
	case reg.VerifyToken != "":
		to = reg.User.Email
		link := base + "/account/verify?token=" + reg.VerifyToken
		subject, body = bilingual("mail.verify_subject", nil), bilingual("mail.verify_body", map[string]string{"link": link})
	default:
		return reg, nil
	}
	if _, err := s.app.Notify.Mail(c.Request().Context(), notify.Mail{To: []string{to}, Subject: subject, Body: body, Kind: "signup"}); err != nil {
		s.log.WarnContext(c.Request().Context(), "sign-up e-mail not queued", "err", err)
	}
	return reg, nil
}

// bilingual is a message in Chinese, then English (for e-mails, whose
// reader's language is not known).
func bilingual(key string, params map[string]string) string {
	zh, en := i18n.T(i18n.ZH, key, params), i18n.T(i18n.EN, key, params)
	if strings.Contains(key, "subject") {
		return zh + " / " + en
	}
	return zh + "\n\n" + en
}

func (s *Server) baseURL(c echo.Context) string {
	if s.app.Config.BaseURL != "" {
		return s.app.Config.BaseURL
	}
	scheme := "http"
	if c.Request().TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request().Host
}

func (s *Server) listKeys(c echo.Context) error {
	u, err := sessionAccount(c)
	if err != nil {
		return err
	}
	var uid int64
	switch u.Role {
	case auth.RoleDeveloper:
		uid = u.ID
	case auth.RoleBureauAdmin:
		uid = 0
	default:
		return errs.Forbiddenf("err.keys_for_developers")
	}
	keys, err := s.app.Access.ListKeys(c.Request().Context(), uid)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"keys": keys})
}

func (s *Server) createKey(c echo.Context) error {
	u, err := s.requireDeveloper(c)
	if err != nil {
		return err
	}
	var in struct {
		Name string `json:"name"`
		Days int    `json:"expires_in_days"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	k, token, err := s.app.Access.CreateKey(c.Request().Context(), u, in.Name, in.Days)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"key": k, "token": token,
		"note": "the key is shown this once; store it now (send it as Authorization: Bearer <key> or X-API-Key)"})
}

func (s *Server) revokeKey(c echo.Context) error {
	u, id, err := withID(c, sessionAccount)
	if err != nil {
		return err
	}
	if err := s.app.Access.RevokeKey(c.Request().Context(), u, id); err != nil {
		return err
	}
	k, err := s.app.Access.GetKey(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, k)
}

func (s *Server) setKeyTier(c echo.Context) error {
	u, id, err := withID(c, bureauAdmin)
	if err != nil {
		return err
	}
	var in struct {
		Tier string `json:"tier"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	k, err := s.app.Access.SetTier(c.Request().Context(), u, id, in.Tier)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, k)
}

func (s *Server) listApplications(c echo.Context) error {
	u, err := sessionAccount(c)
	if err != nil {
		return err
	}
	as, err := s.app.Access.Applications(c.Request().Context(), u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"applications": as})
}

func (s *Server) fileApplication(c echo.Context) error {
	u, err := s.requireDeveloper(c)
	if err != nil {
		return err
	}
	var in access.NewApplication
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if _, err := s.publicResource(c.Request().Context(), strconv.FormatInt(in.ResourceID, 10)); err != nil {
		return errs.FieldErrors{"resource_id": "err.field.not_published"}
	}
	a, err := s.app.Access.Apply(c.Request().Context(), u, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, a)
}

func (s *Server) getApplication(c echo.Context) error {
	u, id, err := withID(c, sessionAccount)
	if err != nil {
		return err
	}
	a, err := s.app.Access.ApplicationFor(c.Request().Context(), u, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

func (s *Server) approveApplication(c echo.Context) error {
	u, id, err := withID(c, currentUser)
	if err != nil {
		return err
	}
	var in struct {
		Columns  []string `json:"columns"`
		TermDays int      `json:"term_days"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	a, err := s.app.Access.Approve(c.Request().Context(), u, id, in.Columns, in.TermDays)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

func (s *Server) refuseApplication(c echo.Context) error {
	return s.withReason(c, func(u auth.User, id int64, reason string) (access.Application, error) {
		return s.app.Access.Refuse(c.Request().Context(), u, id, reason)
	})
}

func (s *Server) revokeApplication(c echo.Context) error {
	return s.withReason(c, func(u auth.User, id int64, reason string) (access.Application, error) {
		return s.app.Access.RevokeGrant(c.Request().Context(), u, id, reason)
	})
}

func (s *Server) withReason(c echo.Context, fn func(auth.User, int64, string) (access.Application, error)) error {
	u, id, err := withID(c, currentUser)
	if err != nil {
		return err
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	a, err := fn(u, id, in.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

// usageScope is whose usage the account sees: a developer their own, a
// department who uses its data, the bureau and the office everything.
func usageScope(u auth.User) (access.UsageScope, error) {
	switch {
	case u.Role == auth.RoleDeveloper:
		return access.UsageScope{UserID: u.ID}, nil
	case u.Role.NeedsDepartment():
		return access.UsageScope{DepartmentID: u.DepartmentID}, nil
	case u.Role == auth.RoleBureauAdmin || u.Role == auth.RoleOffice:
		return access.UsageScope{}, nil
	}
	return access.UsageScope{}, errs.Forbiddenf("err.no_usage_role")
}

func usageDays(c echo.Context) (int, error) {
	days := 30
	if v := c.QueryParam("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 366 {
			return 0, errs.FieldErrors{"days": i18n.Msg("err.field.days", "min", 1, "max", 366)}
		}
		days = n
	}
	return days, nil
}

func (s *Server) apiUsage(c echo.Context) error {
	rep, _, err := s.usageReport(c, sessionAccount)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rep)
}

// usageReport is the usage the caller may see over ?days= (30 by default),
// with the counts buffered so far included.
func (s *Server) usageReport(c echo.Context, who func(echo.Context) (auth.User, error)) (access.Report, access.UsageScope, error) {
	u, err := who(c)
	if err != nil {
		return access.Report{}, access.UsageScope{}, err
	}
	scope, err := usageScope(u)
	if err != nil {
		return access.Report{}, scope, err
	}
	days, err := usageDays(c)
	if err != nil {
		return access.Report{}, scope, err
	}
	s.flushUsage(c.Request().Context())
	rep, err := s.app.Access.Report(c.Request().Context(), scope, days)
	return rep, scope, err
}

func (s *Server) listDevelopers(c echo.Context) error {
	if _, err := requireRole(c, auth.RoleBureauAdmin); err != nil {
		return err
	}
	us, err := s.app.Users.ListByRole(c.Request().Context(), auth.RoleDeveloper)
	if err != nil {
		return err
	}
	if us == nil {
		us = []auth.User{}
	}
	return c.JSON(http.StatusOK, map[string]any{"developers": us})
}

func (s *Server) activateDeveloper(c echo.Context) error { return s.setDeveloper(c, true) }
func (s *Server) suspendDeveloper(c echo.Context) error  { return s.setDeveloper(c, false) }
func (s *Server) setDeveloper(c echo.Context, active bool) error {
	u, id, err := withID(c, bureauAdmin)
	if err != nil {
		return err
	}
	d, err := s.app.Access.SetDeveloperActive(c.Request().Context(), u, id, active)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

// currentKey tells a key's holder which key the call used and its limits
// (the RateLimit headers carry what is left).
func (s *Server) currentKey(c echo.Context) error {
	k, ok := apiCaller(c)
	if !ok {
		return errs.Unauthenticatedf("err.need_key")
	}
	t := s.app.Tiers[k.Key.Tier]
	return c.JSON(http.StatusOK, keyInfo{Key: k.Key, Limits: keyLimits{Rate: t.Rate.Limit, PeriodSeconds: int64(t.Rate.Period.Seconds()), Daily: t.Daily}})
}

type keyLimits struct {
	Rate          int64 `json:"rate"`
	PeriodSeconds int64 `json:"period_seconds"`
	Daily         int64 `json:"daily"`
}

type keyInfo struct {
	Key    access.Key `json:"key"`
	Limits keyLimits  `json:"limits"`
}

func (s *Server) withdrawApplication(c echo.Context) error {
	u, id, err := withID(c, s.requireDeveloper)
	if err != nil {
		return err
	}
	a, err := s.app.Access.Withdraw(c.Request().Context(), u, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}
