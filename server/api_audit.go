package server

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"opendata/audit"
	"opendata/auth"
	"opendata/catalog"
	"opendata/errs"
)

func (s *Server) bindAudit(g *echo.Group) {
	g.GET("/audit", s.apiAudit)
}

// apiAudit lets a providing department see who accessed its data, when and
// why; the bureau and the office see everything. ?format=csv exports.
func (s *Server) apiAudit(c echo.Context) error {
	u, err := staff(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	f := audit.Filter{Action: c.QueryParam("action")}
	if n, err := strconv.Atoi(c.QueryParam("limit")); err == nil {
		f.Limit = n
	}
	if !u.Actor().IsBureau() && u.Role != auth.RoleOffice {
		if u.Role != auth.RoleDeptAdmin && u.Role != auth.RoleDeptStaff {
			return errs.Forbiddenf("not allowed")
		}
		rs, _, err := s.app.Catalog.ListResources(ctx, catalog.Filter{DepartmentID: u.DepartmentID, Limit: 1000})
		if err != nil {
			return err
		}
		f.ResourceIDs = []int64{}
		for _, r := range rs {
			f.ResourceIDs = append(f.ResourceIDs, r.ID)
		}
	}
	if rid := c.QueryParam("resource_id"); rid != "" {
		id, err := strconv.ParseInt(rid, 10, 64)
		if err != nil {
			return errs.Invalidf("resource_id: a number")
		}
		if f.ResourceIDs != nil {
			mine := false
			for _, x := range f.ResourceIDs {
				mine = mine || x == id
			}
			if !mine {
				return errs.NotFoundf("resource %d", id)
			}
		}
		f.ResourceIDs = []int64{id}
	}
	evs, err := s.app.Audit.List(ctx, f)
	if err != nil {
		return err
	}
	if c.QueryParam("format") == "csv" {
		c.Response().Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		c.Response().Header().Set("Content-Disposition", contentDisposition("audit.csv", "审计日志.csv"))
		c.Response().WriteHeader(http.StatusOK)
		return audit.WriteCSV(c.Response(), evs)
	}
	return c.JSON(http.StatusOK, map[string]any{"events": evs})
}
