package server

import (
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"opendata/auth"
	"opendata/calendar"
	"opendata/errs"
	"opendata/sharing"
)

// Notifications, disputes, stopping a share and the working-day calendar.
func (s *Server) bindSupervision(g *echo.Group) {
	g.GET("/notifications", s.notifications)
	g.POST("/notifications/:id/read", s.notificationRead)
	g.GET("/share/resources/:id/disputes", s.disputeList)
	g.POST("/share/resources/:id/disputes", s.disputeReport)
	g.POST("/disputes/:id/answer", s.disputeAnswer)
	g.GET("/resources/:id/disputes", s.publicDisputes)
	g.POST("/share/resources/:id/stop", s.shareStop)
	g.GET("/calendar/:year", s.calendarYear)
	g.PUT("/calendar/:year", s.calendarPut)
	g.POST("/calendar/import", s.calendarImport)
}

// inboxRole is the role inbox a user reads besides their department's:
// the bureau's or the office's.
func inboxRole(u auth.User) string {
	if u.Role == auth.RoleBureauAdmin || u.Role == auth.RoleOffice {
		return string(u.Role)
	}
	return ""
}

func (s *Server) notifications(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	ns, err := s.app.Notify.Inbox(c.Request().Context(), u.DepartmentID, inboxRole(u), apiLang(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"notifications": ns})
}

func (s *Server) notificationRead(c echo.Context) error {
	u, id, err := withID(c, currentUser)
	if err != nil {
		return err
	}
	if err := s.app.Notify.MarkRead(c.Request().Context(), id, u.DepartmentID, inboxRole(u)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) disputeList(c echo.Context) error {
	p, id, err := withID(c, staffPrincipal)
	if err != nil {
		return err
	}
	r, err := s.app.Catalog.GetResource(c.Request().Context(), id)
	if err != nil {
		return err
	}
	ds, err := s.app.Sharing.DisputesFor(c.Request().Context(), &p, r)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"disputes": ds})
}

func (s *Server) disputeReport(c echo.Context) error {
	p, id, err := withID(c, staffPrincipal)
	if err != nil {
		return err
	}
	r, err := s.app.Catalog.GetResource(c.Request().Context(), id)
	if err != nil {
		return err
	}
	var in sharing.NewDispute
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	d, err := s.app.Sharing.ReportDispute(c.Request().Context(), p, r, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, d)
}

func (s *Server) disputeAnswer(c echo.Context) error {
	p, id, err := withID(c, staffPrincipal)
	if err != nil {
		return err
	}
	var in struct {
		Confirmed      bool   `json:"confirmed"`
		Answer         string `json:"answer"`
		FixedInVersion int    `json:"fixed_in_version"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	d, err := s.app.Sharing.AnswerDispute(c.Request().Context(), p, id, in.Confirmed, in.Answer, in.FixedInVersion)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

// publicDisputes shows the public part of an open dataset's answered
// disputes (sharing.VisibleDisputes).
func (s *Server) publicDisputes(c echo.Context) error {
	r, err := s.publicResource(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	ds, err := s.app.Sharing.DisputesFor(c.Request().Context(), nil, r)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"disputes": ds})
}

func (s *Server) shareStop(c echo.Context) error {
	p, id, err := withID(c, staffPrincipal)
	if err != nil {
		return err
	}
	var in struct {
		Reason     string `json:"reason"`
		NoticeDays int    `json:"notice_days"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	at, err := s.app.Sharing.StopSharing(c.Request().Context(), p, id, in.Reason, in.NoticeDays, s.app.Config.MinNoticeDays)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"resource_id": id, "effective_at": at})
}

func yearParam(c echo.Context) (int, error) {
	y, err := strconv.Atoi(c.Param("year"))
	if err != nil || y < 2000 || y > 2100 {
		return 0, errs.Invalidf("err.year_range")
	}
	return y, nil
}

func (s *Server) calendarYear(c echo.Context) error {
	if _, err := currentUser(c); err != nil {
		return err
	}
	y, err := yearParam(c)
	if err != nil {
		return err
	}
	cal, err := s.app.CalStore.Load(c.Request().Context(), s.app.Config.Location())
	if err != nil {
		return err
	}
	days, err := s.calendarDays(c, y)
	if err != nil {
		return err
	}
	out := map[string]any{"year": y, "days": days, "loaded": len(cal.MissingYears(y, y)) == 0}
	if len(cal.MissingYears(y, y)) > 0 {
		out["warning"] = "no holiday data for this year: deadlines count plain weekdays until the bureau loads the State Council notice"
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) calendarDays(c echo.Context, y int) ([]calendar.Day, error) {
	return s.app.CalStore.Year(c.Request().Context(), y)
}

// reloadCalendar puts an edited year into this instance's calendar at once
// (the others reload it when they see refcache.Calendar move).
func (s *Server) reloadCalendar(c echo.Context, y int) error {
	days, err := s.calendarDays(c, y)
	if err != nil {
		return err
	}
	s.app.Calendar.Set(y, days)
	return nil
}

func (s *Server) calendarPut(c echo.Context) error {
	u, err := requireRole(c, auth.RoleBureauAdmin)
	if err != nil {
		return err
	}
	y, err := yearParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Days []calendar.Day `json:"days"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	for i, d := range in.Days {
		if d.Kind != calendar.Holiday && d.Kind != calendar.Workday {
			return errs.FieldErrors{"days[" + strconv.Itoa(i) + "].kind": "err.field.calendar_kind"}
		}
	}
	if err := s.app.CalStore.ReplaceYear(c.Request().Context(), y, in.Days, "edited by "+u.Username); err != nil {
		return err
	}
	if err := s.reloadCalendar(c, y); err != nil {
		return err
	}
	return s.calendarYear(c)
}

// calendarImport takes "date,kind,name" CSV (the bureau's file import).
func (s *Server) calendarImport(c echo.Context) error {
	u, err := requireRole(c, auth.RoleBureauAdmin)
	if err != nil {
		return err
	}
	years, err := calendar.ParseCSV(io.LimitReader(c.Request().Body, 1<<20))
	if err != nil {
		return err
	}
	imported := map[string]int{}
	for y, days := range years {
		if err := s.app.CalStore.ReplaceYear(c.Request().Context(), y, days, "imported by "+u.Username); err != nil {
			return err
		}
		if err := s.reloadCalendar(c, y); err != nil {
			return err
		}
		imported[strconv.Itoa(y)] = len(days)
	}
	return c.JSON(http.StatusOK, map[string]any{"imported": imported})
}
