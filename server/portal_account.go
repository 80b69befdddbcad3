package server

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"opendata/access"
	"opendata/auth"
	"opendata/catalog"
	"opendata/errs"
	"opendata/openapi"
	"opendata/ratelimit"
)

// The developer's side of the portal: sign-up, verification, the account
// page (keys, usage, applications), applying for on-application data and
// the API documentation.
func (s *Server) bindAccount(e *echo.Echo) {
	e.GET("/signup", s.signupPage)
	e.POST("/signup", s.signupForm)
	e.GET("/account/verify", s.verifyPage)
	e.POST("/account/verify", s.verifyForm)
	e.GET("/account", s.accountPage)
	e.POST("/account/keys", s.accountCreateKey)
	e.POST("/account/keys/:id/revoke", s.accountRevokeKey)
	e.POST("/account/applications/:id/withdraw", s.accountWithdraw)
	e.POST("/datasets/:id/apply", s.applyForm)
	e.GET("/docs/api", s.apiDocsPage)
}

func (s *Server) notice(c echo.Context, status int, title, text, link, linkText string) error {
	return s.render(c, status, "notice", s.newPage(c, "", map[string]string{"Title": title, "Text": text, "Link": link, "LinkText": linkText}))
}

func (s *Server) signupPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "signup", s.newPage(c, "", map[string]any{"In": access.SignUp{}}))
}

func (s *Server) signupForm(c echo.Context) error {
	in := access.SignUp{Email: c.FormValue("email"), Password: c.FormValue("password"), DisplayName: c.FormValue("display_name"), Organisation: c.FormValue("organisation")}
	reg, err := s.signup(c, in)
	var fe errs.FieldErrors
	if errors.As(err, &fe) {
		in.Password = ""
		return s.render(c, http.StatusBadRequest, "signup", s.newPage(c, "", map[string]any{"In": in, "Errors": fe}))
	}
	if err != nil {
		return err
	}
	return s.notice(c, http.StatusAccepted, "signup.done", "signup.next_"+reg.Next, "/login?next=/account", "nav.login")
}

// verifyPage asks to confirm the mailed link: opening it changes nothing
// (mail scanners and link previews open links too); the button does.
func (s *Server) verifyPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "verify", s.newPage(c, "", map[string]string{"Token": c.QueryParam("token")}))
}

func (s *Server) verifyForm(c echo.Context) error {
	if _, err := s.app.Access.Verify(c.Request().Context(), c.FormValue("token")); err != nil {
		return s.notice(c, http.StatusBadRequest, "verify.title", "verify.failed", "/signup", "nav.signup")
	}
	return s.notice(c, http.StatusOK, "verify.title", "verify.done", "/login?next=/account", "nav.login")
}

type keyRow struct {
	Key    access.Key
	Status string
	Limit  string
}

func (s *Server) keyRows(keys []access.Key) []keyRow {
	now := time.Now()
	out := make([]keyRow, 0, len(keys))
	for _, k := range keys {
		out = append(out, keyRow{Key: k, Status: k.Status(now), Limit: tierText(s.app.Tiers[k.Tier])})
	}
	return out
}

// tierText is "20/s · 100000/day".
func tierText(t ratelimit.Tier) string {
	out := fmt.Sprintf("%d/%s", t.Rate.Limit, periodName(t.Rate.Period))
	if t.Daily > 0 {
		out += fmt.Sprintf(" · %d/day", t.Daily)
	}
	return out
}

func periodName(d time.Duration) string {
	switch d {
	case time.Second:
		return "s"
	case time.Minute:
		return "min"
	case time.Hour:
		return "h"
	}
	return d.String()
}

// developerPage returns the logged-in developer or sends others where
// they belong (staff to the console, visitors to the login form).
func (s *Server) developerPage(c echo.Context) (auth.User, bool, error) {
	if u, ok := developer(c); ok {
		return u, true, nil
	}
	if _, err := currentUser(c); err == nil {
		return auth.User{}, false, c.Redirect(http.StatusSeeOther, "/console")
	}
	return auth.User{}, false, c.Redirect(http.StatusSeeOther, "/login?next=/account")
}

func (s *Server) accountPage(c echo.Context) error {
	u, ok, err := s.developerPage(c)
	if !ok {
		return err
	}
	return s.renderAccount(c, u, "")
}

func (s *Server) renderAccount(c echo.Context, u auth.User, newToken string) error {
	ctx := c.Request().Context()
	keys, err := s.app.Access.ListKeys(ctx, u.ID)
	if err != nil {
		return err
	}
	rep, _, err := s.usageReport(c, func(echo.Context) (auth.User, error) { return u, nil })
	if err != nil {
		return err
	}
	apps, err := s.app.Access.Applications(ctx, u)
	if err != nil {
		return err
	}
	notices, err := s.app.Notify.UserInbox(ctx, u.ID, lang(c))
	if err != nil {
		return err
	}
	exampleID := int64(1)
	rs, _, err := s.app.Catalog.ListResources(ctx, catalog.Filter{Public: true, OpenType: catalog.OpenUnconditional, Now: time.Now(), Limit: 1})
	if err != nil {
		return err
	}
	if len(rs) > 0 {
		exampleID = rs[0].ID
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.render(c, http.StatusOK, "account", s.newPage(c, "", map[string]any{"Keys": s.keyRows(keys), "Usage": rep, "UsageDays": chartDays(rep), "Applications": apps,
		"Notices": notices, "NewToken": newToken, "MaxDays": s.app.Config.KeyMaxDays, "Base": s.baseURL(c), "ExampleID": exampleID}))
}

func (s *Server) accountCreateKey(c echo.Context) error {
	u, ok, err := s.developerPage(c)
	if !ok {
		return err
	}
	days, _ := strconv.Atoi(c.FormValue("expires_in_days"))
	_, token, err := s.app.Access.CreateKey(c.Request().Context(), u, c.FormValue("name"), days)
	if err != nil {
		return err
	}
	return s.renderAccount(c, u, token)
}

func (s *Server) accountRevokeKey(c echo.Context) error {
	u, ok, err := s.developerPage(c)
	if !ok {
		return err
	}
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := s.app.Access.RevokeKey(c.Request().Context(), u, id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/account?done=1")
}

func (s *Server) applyForm(c echo.Context) error {
	u, ok := developer(c)
	if !ok {
		return c.Redirect(http.StatusSeeOther, "/login?next="+c.Request().URL.Path)
	}
	r, err := s.publicResource(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	form, _ := c.FormParams()
	term, _ := strconv.Atoi(c.FormValue("term_days"))
	_, err = s.app.Access.Apply(c.Request().Context(), u, access.NewApplication{ResourceID: r.ID, Organisation: c.FormValue("organisation"),
		Purpose: c.FormValue("purpose"), IntendedUse: c.FormValue("intended_use"), Columns: form["columns"], TermDays: term, Contact: c.FormValue("contact")})
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/datasets/%d?done=1#apply", r.ID))
}

// API documentation rendered from the embedded openapi.yaml.
type docOp struct {
	ID, Method, Path, Summary, Description string
	Params                                 []docParam
	Responses                              []string
}

type docParam struct{ Name, In, Description string }

type docGroup struct {
	Tag string
	Ops []docOp
}

// docSection is one part of the docs page as the template shows it.
type docSection struct {
	ID, Title, Help string
	Groups          []docGroup
}

// apiDocSections are the docs page's two parts: what the public and
// developers call, and what staff and department systems call.
type apiDocSections struct {
	Public, Staff []docGroup
}

// publicOp reports whether an operation is for the public: callable
// without credentials or with an API key, or marked x-audience: developer
// (a developer's session: keys, applications, usage).
func publicOp(path string, op *openapi3.Operation) bool {
	if path == "/healthz" || path == "/readyz" {
		return false
	}
	if a, ok := op.Extensions["x-audience"]; ok && a == "developer" {
		return true
	}
	if op.Security == nil {
		return false // the document's default: a staff session
	}
	if len(*op.Security) == 0 {
		return true
	}
	for _, req := range *op.Security {
		if _, key := req["apiKey"]; len(req) == 0 || key {
			return true
		}
	}
	return false
}

// apiDocs is the rendered spec, public and staff apart; the spec is
// embedded, so it is built once.
var apiDocs = sync.OnceValues(func() (apiDocSections, error) {
	pub, err := docGroups(true)
	if err != nil {
		return apiDocSections{}, err
	}
	staff, err := docGroups(false)
	return apiDocSections{Public: pub, Staff: staff}, err
})

func docGroups(public bool) ([]docGroup, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Spec)
	if err != nil {
		return nil, err
	}
	groups := map[string]*docGroup{}
	var order []string
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Find(path)
		for _, method := range []string{"GET", "POST", "PUT", "DELETE"} {
			op := item.GetOperation(method)
			if op == nil || publicOp(path, op) != public {
				continue
			}
			tag := docTag(path)
			g := groups[tag]
			if g == nil {
				g = &docGroup{Tag: tag}
				groups[tag] = g
				order = append(order, tag)
			}
			d := docOp{ID: strings.NewReplacer("/", "-", "{", "", "}", "").Replace(method + path), Method: method, Path: path, Summary: op.Summary, Description: op.Description}
			params := append(append(openapi3.Parameters{}, item.Parameters...), op.Parameters...)
			for _, p := range params {
				if p.Value != nil {
					d.Params = append(d.Params, docParam{p.Value.Name, p.Value.In, p.Value.Description})
				}
			}
			for code := range op.Responses.Map() {
				d.Responses = append(d.Responses, code)
			}
			sort.Strings(d.Responses)
			g.Ops = append(g.Ops, d)
		}
	}
	var out []docGroup
	// The developer's routes first, then the rest in name order.
	first := map[string]int{"resources": 0, "key": 1, "keys": 2, "account": 3, "applications": 4, "usage": 5, "catalog": 6}
	sort.Slice(order, func(i, j int) bool {
		pi, oki := first[order[i]]
		pj, okj := first[order[j]]
		switch {
		case oki && okj:
			return pi < pj
		case oki != okj:
			return oki
		}
		return order[i] < order[j]
	})
	for _, t := range order {
		ops := groups[t].Ops
		sort.SliceStable(ops, func(i, j int) bool { return ops[i].Path < ops[j].Path })
		out = append(out, *groups[t])
	}
	return out, nil
}

func (s *Server) apiDocsPage(c echo.Context) error {
	out, err := apiDocs()
	if err != nil {
		return err
	}
	sections := []docSection{{"public", "docs.public", "docs.public_help", out.Public}, {"staff", "docs.staff", "docs.staff_help", out.Staff}}
	return s.render(c, http.StatusOK, "apidocs", s.newPage(c, "API", map[string]any{"Sections": sections, "Base": s.baseURL(c),
		"Anon": tierText(s.app.AnonTier), "Registered": tierText(s.app.Tiers[access.TierRegistered]), "Partner": tierText(s.app.Tiers[access.TierPartner])}))
}

// docTag groups paths by their first segment after /api/v1.
func docTag(path string) string {
	rest := strings.TrimPrefix(path, "/api/v1/")
	if rest == path {
		return "service"
	}
	seg, _, _ := strings.Cut(rest, "/")
	seg, _, _ = strings.Cut(seg, ".")
	return seg
}

func (s *Server) accountWithdraw(c echo.Context) error {
	u, ok, err := s.developerPage(c)
	if !ok {
		return err
	}
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.app.Access.Withdraw(c.Request().Context(), u, id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/account?done=1")
}
