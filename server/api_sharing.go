package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"opendata/catalog"
	"opendata/errs"
	"opendata/query"
	"opendata/sharing"
)

func (s *Server) bindSharing(g *echo.Group) {
	g.GET("/share/resources", s.shareCatalog)
	g.GET("/share/resources/:id/data", s.shareData)
	g.POST("/share/requests", s.shareFile)
	g.GET("/share/requests", s.shareList)
	g.GET("/share/requests/:id", s.shareGet)
	g.POST("/share/requests/:id/approve", s.shareApprove)
	g.POST("/share/requests/:id/refuse", s.shareRefuse)
	g.POST("/share/requests/:id/escalate", s.shareEscalate)
	g.POST("/share/requests/:id/settle", s.shareSettle)
	g.POST("/share/grants/:id/revoke", s.shareRevoke)
	g.GET("/credentials", s.credList)
	g.POST("/credentials", s.credCreate)
	g.POST("/credentials/:id/rotate", s.credRotate)
	g.POST("/credentials/:id/revoke", s.credRevoke)
}

// principal is the department identity of a staff member or a system.
func principal(c echo.Context) (sharing.Principal, error) {
	if p, ok := c.Get(ctxSystem).(sharing.Principal); ok {
		return p, nil
	}
	u, err := currentUser(c)
	if err != nil {
		return sharing.Principal{}, err
	}
	return sharing.FromActor(u.Actor()), nil
}

// purposeOf is an internal caller's stated purpose: the X-Purpose header
// or the purpose parameter (query or form).
func purposeOf(c echo.Context) string {
	if p := c.Request().Header.Get("X-Purpose"); p != "" {
		return p
	}
	return c.FormValue("purpose")
}

// readNotByLink refuses an audited read by a browser session that is not
// a POST (the console's form, CSRF-checked): a GET with the session cookie
// can come from a link on any other site, which would make staff perform a
// read, with a purpose of the link's choosing, that the audit then puts on
// their name. Tokens and system credentials are not sent by browsers on
// their own and read by GET as before.
func readNotByLink(c echo.Context) error {
	if via, _ := c.Get(ctxViaCookie).(bool); via && c.Request().Method != http.MethodPost {
		return &errs.Public{Kind: errs.Forbidden, Code: "read_by_post", Key: "share.read_by_post"}
	}
	return nil
}

func staffPrincipal(c echo.Context) (sharing.Principal, error) {
	p, err := principal(c)
	if err == nil && p.System {
		return p, errs.Forbiddenf("err.staff_not_credential")
	}
	return p, err
}

// shareCatalog lists every resource with how the caller can get it:
// direct, granted, request, closed (with the basis), or own.
func (s *Server) shareCatalog(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	rs, _, err := s.app.Catalog.ListResources(ctx, catalog.Filter{Limit: 1000})
	if err != nil {
		return err
	}
	type row struct {
		ID             int64  `json:"id"`
		Code           string `json:"code"`
		Name           string `json:"name"`
		DepartmentID   int64  `json:"department_id"`
		ShareType      string `json:"share_type"`
		ShareCondition string `json:"share_condition,omitempty"`
		ShareBasis     string `json:"share_basis,omitempty"`
		UpdatePeriod   string `json:"update_period"`
		LatestVersion  int    `json:"latest_version"`
		Access         string `json:"access"`
	}
	out := []row{}
	for _, r := range rs {
		access, err := s.app.Sharing.Access(ctx, p, r)
		if err != nil {
			return err
		}
		out = append(out, row{r.ID, r.Code, r.Name, r.DepartmentID, string(r.ShareType), r.ShareCondition, r.ShareBasis, r.UpdatePeriod, r.LatestVersion, access})
	}
	return c.JSON(http.StatusOK, map[string]any{"resources": out})
}

// shareData streams the full variant of the latest version as CSV, limited
// to the columns the caller may read; it needs a purpose and is audited.
func (s *Server) shareData(c echo.Context) error {
	p, id, err := withID(c, principal)
	if err != nil {
		return err
	}
	if err := readNotByLink(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	r, err := s.app.Catalog.GetResource(ctx, id)
	if err != nil {
		return err
	}
	t, err := s.app.Sharing.SharedTarget(ctx, p, purposeOf(c), r)
	if err != nil {
		return err
	}
	if err := s.app.Sharing.RecordAccess(ctx, p, r.ID, t.Version, t.Purpose, c.RealIP(), fmt.Sprintf("columns %v", t.Columns)); err != nil {
		return err // no audit event, no data
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set("Content-Disposition", contentDisposition(fmt.Sprintf("%s-v%d-full.csv", r.Code, t.Version), fmt.Sprintf("%s-v%d-共享.csv", r.Name, t.Version)))
	h.Set("Cache-Control", "no-store")
	pc := query.ParquetCSV{Blobs: s.app.Blobs, TempDir: s.app.Ingest.Limits.TempDir, Location: s.app.Config.Location()}
	return pc.Write(ctx, c.Response(), t.Key, t.Columns)
}

func (s *Server) shareFile(c echo.Context) error {
	p, err := staffPrincipal(c)
	if err != nil {
		return err
	}
	var in sharing.NewRequest
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	r, err := s.app.Sharing.File(c.Request().Context(), p, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

func (s *Server) shareList(c echo.Context) error {
	p, err := staffPrincipal(c)
	if err != nil {
		return err
	}
	rs, err := s.app.Sharing.List(c.Request().Context(), p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"requests": rs})
}

// shareVisible loads a request the caller may see.
func (s *Server) shareVisible(c echo.Context) (sharing.Request, sharing.Principal, error) {
	p, id, err := withID(c, staffPrincipal)
	if err != nil {
		return sharing.Request{}, p, err
	}
	req, err := s.app.Sharing.GetFor(c.Request().Context(), p, id)
	return req, p, err
}

func (s *Server) shareGet(c echo.Context) error {
	req, _, err := s.shareVisible(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, req)
}

type decisionBody struct {
	Approve  bool     `json:"approve"`
	Reason   string   `json:"reason"`
	Columns  []string `json:"columns"`
	TermDays int      `json:"term_days"`
}

func (s *Server) shareDecision(c echo.Context, fn func(ctx context.Context, p sharing.Principal, id int64, in decisionBody) (sharing.Request, error)) error {
	req, p, err := s.shareVisible(c)
	if err != nil {
		return err
	}
	var in decisionBody
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &in); err != nil {
			return err
		}
	}
	out, err := fn(c.Request().Context(), p, req.ID, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) shareApprove(c echo.Context) error {
	return s.shareDecision(c, func(ctx context.Context, p sharing.Principal, id int64, in decisionBody) (sharing.Request, error) {
		return s.app.Sharing.Approve(ctx, p, id, in.Columns, in.TermDays)
	})
}

func (s *Server) shareRefuse(c echo.Context) error {
	return s.shareDecision(c, func(ctx context.Context, p sharing.Principal, id int64, in decisionBody) (sharing.Request, error) {
		return s.app.Sharing.Refuse(ctx, p, id, in.Reason)
	})
}

func (s *Server) shareEscalate(c echo.Context) error {
	return s.shareDecision(c, func(ctx context.Context, p sharing.Principal, id int64, in decisionBody) (sharing.Request, error) {
		return s.app.Sharing.Escalate(ctx, p, id, in.Reason)
	})
}

func (s *Server) shareSettle(c echo.Context) error {
	return s.shareDecision(c, func(ctx context.Context, p sharing.Principal, id int64, in decisionBody) (sharing.Request, error) {
		return s.app.Sharing.Settle(ctx, p, id, in.Approve, in.Reason, in.Columns, in.TermDays)
	})
}

func (s *Server) shareRevoke(c echo.Context) error {
	p, id, err := withID(c, staffPrincipal)
	if err != nil {
		return err
	}
	if err := s.app.Sharing.RevokeGrant(c.Request().Context(), p, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) credList(c echo.Context) error {
	p, err := staffPrincipal(c)
	if err != nil {
		return err
	}
	dept := p.DepartmentID
	if v := c.QueryParam("department_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errs.Invalidf("err.number", "name", "department_id")
		}
		dept = n
	}
	cs, err := s.app.Sharing.Credentials(c.Request().Context(), p, dept)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"credentials": cs})
}

func (s *Server) credCreate(c echo.Context) error {
	p, err := staffPrincipal(c)
	if err != nil {
		return err
	}
	var in struct {
		SystemName   string `json:"system_name"`
		DepartmentID int64  `json:"department_id"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.DepartmentID == 0 {
		in.DepartmentID = p.DepartmentID
	}
	cr, err := s.app.Sharing.CreateCredential(c.Request().Context(), p, in.DepartmentID, in.SystemName)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, cr)
}

func (s *Server) credRotate(c echo.Context) error {
	p, id, err := withID(c, staffPrincipal)
	if err != nil {
		return err
	}
	cr, err := s.app.Sharing.RotateCredential(c.Request().Context(), p, id)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, cr)
}

func (s *Server) credRevoke(c echo.Context) error {
	p, id, err := withID(c, staffPrincipal)
	if err != nil {
		return err
	}
	if err := s.app.Sharing.RevokeCredential(c.Request().Context(), p, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
