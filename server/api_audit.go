package server

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"opendata/audit"
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
	scope, err := audit.ScopeFor(u.Actor())
	if err != nil {
		return err
	}
	f := audit.Filter{Scope: scope, Action: c.QueryParam("action")}
	if n, err := strconv.Atoi(c.QueryParam("limit")); err == nil {
		f.Limit = n
	}
	if rid := c.QueryParam("resource_id"); rid != "" {
		id, err := strconv.ParseInt(rid, 10, 64)
		if err != nil {
			return errs.Invalidf("err.number", "name", "resource_id")
		}
		f.ResourceIDs = []int64{id}
	}
	evs, err := s.app.Audit.List(c.Request().Context(), f)
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
