package server

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"opendata/access"
	"opendata/auth"
	"opendata/frontend"
)

// The staff side of the gateway: the application review queue, usage of
// the department's data (or everything, for the bureau), developer
// accounts and key tiers (bureau).
func (s *Server) bindConsoleGateway(g *echo.Group) {
	g.GET("/applications", s.consoleApplications)
	g.POST("/applications/:id/:action", s.consoleApplicationAction)
	g.GET("/usage", s.consoleUsage)
	g.GET("/developers", s.consoleDevelopers)
	g.POST("/developers/:id/:action", s.consoleDeveloperAction)
	g.POST("/keys/:id/tier", s.consoleKeyTier)
}

func (s *Server) consoleApplications(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	as, err := s.app.Access.Applications(c.Request().Context(), u)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "applications", s.newPage(c, "", map[string]any{"Applications": as, "Days": s.app.Config.ApplicationDays}))
}

func (s *Server) consoleApplicationAction(c echo.Context) error {
	u, id, err := withID(c, currentUser)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	switch c.Param("action") {
	case "approve":
		term, _ := strconv.Atoi(c.FormValue("term_days"))
		_, err = s.app.Access.Approve(ctx, u, id, nil, term)
	case "refuse":
		_, err = s.app.Access.Refuse(ctx, u, id, c.FormValue("reason"))
	case "revoke":
		_, err = s.app.Access.RevokeGrant(ctx, u, id, c.FormValue("reason"))
	default:
		return echo.ErrNotFound
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/console/applications?done=1")
}

// chartDays is a usage report's daily series as the chart takes it.
func chartDays(rep access.Report) []frontend.DayCalls {
	out := make([]frontend.DayCalls, 0, len(rep.Days))
	for i, d := range rep.Days {
		if i < len(rep.Daily) {
			out = append(out, frontend.DayCalls{Day: d, Calls: rep.Daily[i].Calls, Rows: rep.Daily[i].Rows})
		}
	}
	return out
}

func (s *Server) consoleUsage(c echo.Context) error {
	rep, scope, err := s.usageReport(c, currentUser)
	if err != nil {
		return err
	}
	help, by := "usage.help_bureau", "usage.dataset"
	if scope.DepartmentID != 0 {
		help, by = "usage.help_department", "usage.user"
	}
	return s.render(c, http.StatusOK, "usage", s.newPage(c, "", map[string]any{"Usage": rep, "UsageDays": chartDays(rep), "Help": help, "ByLabel": by}))
}

func (s *Server) consoleDevelopers(c echo.Context) error {
	if _, err := bureauAdmin(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	devs, err := s.app.Users.ListByRole(ctx, auth.RoleDeveloper)
	if err != nil {
		return err
	}
	keys, err := s.app.Access.ListKeys(ctx, 0)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "developers", s.newPage(c, "", map[string]any{"Developers": devs, "Keys": s.keyRows(keys)}))
}

func (s *Server) consoleDeveloperAction(c echo.Context) error {
	u, id, err := withID(c, bureauAdmin)
	if err != nil {
		return err
	}
	action := c.Param("action")
	if action != "activate" && action != "suspend" {
		return echo.ErrNotFound
	}
	if _, err := s.app.Access.SetDeveloperActive(c.Request().Context(), u, id, action == "activate"); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/console/developers?done=1")
}

func (s *Server) consoleKeyTier(c echo.Context) error {
	u, id, err := withID(c, bureauAdmin)
	if err != nil {
		return err
	}
	if _, err := s.app.Access.SetTier(c.Request().Context(), u, id, c.FormValue("tier")); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/developers?done=%d", id))
}
