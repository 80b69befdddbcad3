package server

import (
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"opendata/auth"
	"opendata/catalog"
	"opendata/errs"
	"opendata/i18n"
	"opendata/search"
)

func (s *Server) departmentsPage(c echo.Context) error {
	ctx := c.Request().Context()
	res, _, err := s.app.Publish.Search(ctx, search.Query{PerPage: 1})
	if err != nil {
		return err
	}
	counts := map[string]int{}
	for _, f := range res.Facets["department"] {
		counts[f.Value] = f.Count
	}
	ds, err := s.app.Catalog.ListDepartments(ctx)
	if err != nil {
		return err
	}
	var out []labeled
	for _, d := range ds {
		if d.Kind == "department" || d.Kind == "town" || counts[d.Code] > 0 {
			out = append(out, labeled{d.Code, d.NameIn(lang(c)), counts[d.Code]})
		}
	}
	return s.render(c, http.StatusOK, "departments", s.newPage(c, "", out))
}

func (s *Server) departmentPage(c echo.Context) error {
	ctx := c.Request().Context()
	d, err := s.app.Catalog.GetDepartmentByCode(ctx, c.Param("code"))
	if err != nil {
		return err
	}
	rs, _, err := s.app.Catalog.ListResources(ctx, catalog.Filter{DepartmentID: d.ID, Public: true, Now: time.Now(), Limit: 1000})
	if err != nil {
		return err
	}
	p := s.newPage(c, d.NameIn(lang(c)), map[string]any{"Department": d, "Resources": rs})
	p.Feeds = append([]feedLink{departmentFeedLink(p.Lang, d)}, p.Feeds...)
	return s.render(c, http.StatusOK, "department", p)
}

// safeNext is where a login goes on to: a path on this site, or /console.
// It is checked as a browser would read it: anything with a control
// character, a space or a backslash (browsers drop tabs and newlines and
// read \\ as /, so "/\t/evil.example" is "//evil.example"), a scheme, a
// host, or a path starting with // (also once decoded) is refused.
func safeNext(next string) string {
	const home = "/console"
	if next == "" || len(next) > 2048 || !strings.HasPrefix(next, "/") {
		return home
	}
	if strings.ContainsFunc(next, func(r rune) bool {
		return r <= ' ' || r == 0x7f || r == '\\' || unicode.IsSpace(r) || !unicode.IsPrint(r)
	}) {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return home
	}
	if !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") || strings.ContainsAny(u.Path, "\\") ||
		strings.ContainsFunc(u.Path, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return home
	}
	out := u.String()
	if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") {
		return home
	}
	return out
}

func (s *Server) loginPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "login", s.newPage(c, "", map[string]any{"Next": safeNext(c.QueryParam("next"))}))
}

// loginForm is the one sign-in of staff and developers (username or
// e-mail). A refusal is said on the form in the catalog's words: wrong
// name or password, awaiting activation, locked (and for how long),
// throttled, busy.
func (s *Server) loginForm(c echo.Context) error {
	next := safeNext(c.FormValue("next"))
	token, u, err := s.app.Users.Login(c.Request().Context(), auth.LoginAttempt{Username: c.FormValue("username"), Password: c.FormValue("password"), IP: c.RealIP()}, s.app.Config.SessionTTL)
	var pub *errs.Public
	if errors.As(err, &pub) {
		if pub.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(pub.RetryAfter.Seconds()))))
		}
		l := lang(c)
		return s.render(c, statusOf(pub), "login", s.newPage(c, "", map[string]any{"Failed": i18n.T(l, pub.Key, pub.Params),
			"Next": next, "Username": c.FormValue("username")}))
	}
	if err != nil {
		return err
	}
	s.startSession(c, token)
	if u.Role == auth.RoleDeveloper && strings.HasPrefix(next, "/console") {
		next = "/account"
	}
	return c.Redirect(http.StatusSeeOther, next)
}

func (s *Server) logoutForm(c echo.Context) error {
	if ck, err := c.Cookie(sessionCookie); err == nil {
		s.app.Users.Logout(c.Request().Context(), ck.Value)
	}
	s.endSession(c)
	return c.Redirect(http.StatusSeeOther, "/")
}

// contentDisposition names the download; filename* carries the Chinese
// name (RFC 6266/5987), filename an ASCII fallback.
func contentDisposition(ascii, utf8name string) string {
	return mime.FormatMediaType("attachment", map[string]string{"filename": ascii}) + "; filename*=UTF-8''" + url.PathEscape(utf8name)
}

// download serves a published open variant with ETag, Last-Modified and
// Range. Only unconditionally open resources are downloadable here.
func (s *Server) download(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.publicResource(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	file := c.Param("file")
	if file != "open.csv" && file != "open.parquet" {
		return errs.NotFoundf("err.download_file", "file", file)
	}
	if r.OpenType != catalog.OpenUnconditional {
		return errs.Forbiddenf("err.open_on_application", "code", r.Code, "condition", r.OpenCondition)
	}
	n := 0
	if v := c.QueryParam("version"); v != "" {
		if _, err := fmt.Sscanf(v, "%d", &n); err != nil || n <= 0 {
			return errs.Invalidf("err.version_number")
		}
	}
	v, err := s.app.Publish.PublicVersion(ctx, r, n)
	if err != nil {
		return err
	}
	n = v.Number
	rc, info, err := s.app.Blobs.Get(ctx, v.Prefix()+file)
	if err != nil {
		return err
	}
	defer rc.Close()
	ext := strings.TrimPrefix(file, "open.")
	h := c.Response().Header()
	h.Set("Content-Disposition", contentDisposition(fmt.Sprintf("%s-v%d.%s", r.Code, n, ext), fmt.Sprintf("%s-v%d.%s", r.Name, n, ext)))
	h.Set("ETag", `"`+strings.Trim(info.ETag, `"`)+`"`)
	h.Set("Cache-Control", "public, max-age=300")
	if ext == "csv" {
		h.Set("Content-Type", "text/csv; charset=utf-8")
	} else {
		h.Set("Content-Type", "application/vnd.apache.parquet")
	}
	if rg := c.Request().Header.Get("Range"); c.Request().Method == http.MethodGet && (rg == "" || strings.HasPrefix(rg, "bytes=0-")) {
		s.app.Counter.Download(r.ID)
	}
	if rs, ok := rc.(io.ReadSeeker); ok {
		http.ServeContent(c.Response(), c.Request(), "", info.Modified, rs)
		return nil
	}
	h.Set("Last-Modified", info.Modified.UTC().Format(http.TimeFormat))
	h.Set("Content-Length", fmt.Sprint(info.Size))
	c.Response().WriteHeader(http.StatusOK)
	_, err = io.Copy(c.Response(), rc)
	return err
}
