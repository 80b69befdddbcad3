package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"opendata/auth"
	"opendata/catalog"
	"opendata/errs"
	"opendata/i18n"
)

func (s *Server) bindCatalog(g *echo.Group) {
	g.GET("/departments", s.listDepartments)
	g.POST("/departments", s.createDepartment)
	g.GET("/catalog/resources", s.listResources)
	g.POST("/catalog/resources", s.createResource)
	g.GET("/catalog/resources/:id", s.getResource)
	g.PUT("/catalog/resources/:id", s.updateResource)
	g.GET("/catalog/resources/:id/history", s.resourceHistory)
	g.GET("/catalog/resources/:id/versions", s.listVersions)
	g.GET("/catalog/resources/:id/versions/:n", s.getVersion)
}

// staff is any logged-in staff account: the internal catalog is for them.
func staff(c echo.Context) (auth.User, error) { return currentUser(c) }

func (s *Server) listDepartments(c echo.Context) error {
	ds, err := s.app.Catalog.ListDepartments(c.Request().Context())
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []catalog.Department{}
	}
	return c.JSON(http.StatusOK, map[string]any{"departments": ds})
}

func (s *Server) createDepartment(c echo.Context) error {
	if _, err := requireRole(c, auth.RoleBureauAdmin); err != nil {
		return err
	}
	var d catalog.Department
	if err := bindJSON(c, &d); err != nil {
		return err
	}
	d, err := s.app.Catalog.CreateDepartment(c.Request().Context(), d)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, d)
}

func queryInt(c echo.Context, name string, def int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errs.Invalidf("err.non_negative", "name", name)
	}
	return n, nil
}

func (s *Server) listResources(c echo.Context) error {
	if _, err := staff(c); err != nil {
		return err
	}
	f := catalog.Filter{Domain: c.QueryParam("domain"), ShareType: catalog.ShareType(c.QueryParam("share_type")), OpenType: catalog.OpenType(c.QueryParam("open_type"))}
	var err error
	if f.Limit, err = queryInt(c, "limit", 50); err != nil {
		return err
	}
	if f.Offset, err = queryInt(c, "offset", 0); err != nil {
		return err
	}
	dept, err := queryInt(c, "department_id", 0)
	if err != nil {
		return err
	}
	f.DepartmentID = int64(dept)
	rs, total, err := s.app.Catalog.ListResources(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []catalog.Resource{}
	}
	return c.JSON(http.StatusOK, map[string]any{"resources": rs, "total": total, "limit": f.Limit, "offset": f.Offset})
}

// decodeEntry reads a catalog entry strictly: an unknown field is an error
// (a misspelt field must not be silently dropped).
func decodeEntry(c echo.Context) (catalog.Entry, int, error) {
	var in struct {
		catalog.Entry
		Revision int `json:"revision"`
	}
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return catalog.Entry{}, 0, errs.Invalidf("err.catalog.bad_entry")
	}
	return in.Entry, in.Revision, nil
}

func (s *Server) createResource(c echo.Context) error {
	u, err := staff(c)
	if err != nil {
		return err
	}
	e, _, err := decodeEntry(c)
	if err != nil {
		return err
	}
	r, err := s.app.Catalog.CreateResource(c.Request().Context(), u.Actor(), e)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

func (s *Server) getResource(c echo.Context) error {
	_, id, err := withID(c, staff)
	if err != nil {
		return err
	}
	r, err := s.app.Catalog.GetResource(c.Request().Context(), id)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", `"r`+strconv.Itoa(r.Revision)+`"`)
	return c.JSON(http.StatusOK, r)
}

func (s *Server) updateResource(c echo.Context) error {
	u, id, err := withID(c, staff)
	if err != nil {
		return err
	}
	e, rev, err := decodeEntry(c)
	if err != nil {
		return err
	}
	if m := c.Request().Header.Get("If-Match"); m != "" {
		n, err := strconv.Atoi(trimETag(m))
		if err != nil {
			return errs.Invalidf("err.if_match")
		}
		rev = n
	}
	// A change that widens who reads the data waits for review (202).
	r, pending, err := s.app.Publish.Edit(c.Request().Context(), u.Actor(), id, rev, e)
	if pending != nil {
		return c.JSON(http.StatusAccepted, map[string]any{"pending_edit": pending, "message": i18n.T(lang(c), "entry.pending_review", nil)})
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func trimETag(s string) string {
	if len(s) >= 3 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if len(s) > 0 && s[0] == 'r' {
		s = s[1:]
	}
	return s
}

func (s *Server) resourceHistory(c echo.Context) error {
	_, id, err := withID(c, staff)
	if err != nil {
		return err
	}
	h, err := s.app.Catalog.History(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"history": h})
}

func (s *Server) listVersions(c echo.Context) error {
	_, id, err := withID(c, staff)
	if err != nil {
		return err
	}
	if _, err := s.app.Catalog.GetResource(c.Request().Context(), id); err != nil {
		return err
	}
	vs, err := s.app.Catalog.ListVersions(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"versions": vs})
}

// getVersion returns a version with its quality report. The report names
// rejected values, so only the providing department and the bureau see it.
func (s *Server) getVersion(c echo.Context) error {
	u, id, err := withID(c, staff)
	if err != nil {
		return err
	}
	n, err := pathID(c, "n")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	r, err := s.app.Catalog.GetResource(ctx, id)
	if err != nil {
		return err
	}
	v, err := s.app.Catalog.GetVersion(ctx, id, int(n))
	if err != nil {
		return err
	}
	out := map[string]any{"version": v}
	if catalog.QualityVisibleTo(u.Actor(), r) {
		rc, _, err := s.app.Blobs.Get(ctx, v.Prefix()+"quality.json")
		if err != nil {
			return err
		}
		defer rc.Close()
		var q json.RawMessage
		if err := json.NewDecoder(rc).Decode(&q); err != nil {
			return err
		}
		out["quality"] = q
	}
	return c.JSON(http.StatusOK, out)
}
