package server

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"opendata/audit"
	"opendata/auth"
	"opendata/calendar"
	"opendata/catalog"
	"opendata/i18n"
	"opendata/notify"
	"opendata/sharing"
)

func (s *Server) bindConsoleShare(g *echo.Group) {
	g.GET("/share", s.consoleShare)
	g.GET("/share/:id/data", s.oneResourceForm("share_read")) // confirm first: the read is the POST
	g.POST("/share/:id/data", s.shareData)
	g.GET("/share/:id/request", s.oneResourceForm("share_request"))
	g.POST("/share/:id/request", s.consoleShareRequest)
	g.GET("/share/requests", s.consoleShareRequests)
	g.POST("/share/requests/:id/:action", s.consoleShareDecision)
	g.GET("/notifications", s.consoleNotifications)
	g.POST("/notifications/read", s.consoleNotificationsRead)
	g.GET("/audit", s.consoleAudit)
	g.GET("/calendar", s.consoleCalendar)
	g.POST("/calendar/import", s.consoleCalendarImport)
}

type shareRow struct {
	ID            int64
	Code, Name    string
	ShareType     catalog.ShareType
	ShareBasis    string
	Access        string
	LatestVersion int
}

func (s *Server) consoleShare(c echo.Context) error {
	u, _ := currentUser(c)
	p := sharing.FromActor(u.Actor())
	ctx := c.Request().Context()
	rs, _, err := s.app.Catalog.ListResources(ctx, catalog.Filter{Limit: 1000})
	if err != nil {
		return err
	}
	var rows []shareRow
	for _, r := range rs {
		access, err := s.app.Sharing.Access(ctx, p, r)
		if err != nil {
			return err
		}
		rows = append(rows, shareRow{r.ID, r.Code, r.NameIn(lang(c)), r.ShareType, r.ShareBasis, access, r.LatestVersion})
	}
	return s.render(c, http.StatusOK, "share", s.newPage(c, i18n.T(lang(c), "share.title", nil), map[string]any{"Rows": rows}))
}

// oneResourceForm renders a console form about one resource (template name):
// the share request form, the confirmation before an audited read.
func (s *Server) oneResourceForm(name string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		r, err := s.app.Catalog.GetResource(c.Request().Context(), id)
		if err != nil {
			return err
		}
		return s.render(c, http.StatusOK, name, s.newPage(c, r.Name, map[string]any{"Resource": r}))
	}
}

func (s *Server) consoleShareRequest(c echo.Context) error {
	u, _ := currentUser(c)
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	term, _ := strconv.Atoi(c.FormValue("term_days"))
	form, _ := c.FormParams()
	_, err = s.app.Sharing.File(c.Request().Context(), sharing.FromActor(u.Actor()), sharing.NewRequest{ResourceID: id,
		Purpose: c.FormValue("purpose"), LegalDuty: c.FormValue("legal_duty"), Columns: form["columns"], TermDays: term})
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/console/share/requests?done=1")
}

type requestRow struct {
	Req                 sharing.Request
	ResourceName        string
	Requester, Provider string // the departments, by name
	sharing.Actions
}

// consoleShareRequests lists share requests in the reader's lists:
// incoming (on their department's data, to answer), outgoing (filed by
// their department) and, for the bureau and the office, the rest.
func (s *Server) consoleShareRequests(c echo.Context) error {
	u, _ := currentUser(c)
	p := sharing.FromActor(u.Actor())
	ctx, l := c.Request().Context(), lang(c)
	reqs, err := s.app.Sharing.List(ctx, p)
	if err != nil {
		return err
	}
	depts, err := s.deptNamesIn(ctx, l)
	if err != nil {
		return err
	}
	lists := map[string][]requestRow{}
	for _, r := range reqs {
		res, err := s.app.Catalog.GetResource(ctx, r.ResourceID)
		if err != nil {
			return err
		}
		dir := sharing.DirectionOf(p, r, res)
		lists[dir] = append(lists[dir], requestRow{Req: r, ResourceName: res.NameIn(l), Requester: depts[r.DepartmentID],
			Provider: depts[res.DepartmentID], Actions: sharing.ActionsFor(p, r, res)})
	}
	return s.render(c, http.StatusOK, "share_requests", s.newPage(c, i18n.T(l, "share.requests", nil), map[string]any{
		"Incoming": lists[sharing.Incoming], "Outgoing": lists[sharing.Outgoing], "Supervised": lists[sharing.Supervised],
		"Staff": u.DepartmentID != 0}))
}

func (s *Server) consoleShareDecision(c echo.Context) error {
	u, _ := currentUser(c)
	p := sharing.FromActor(u.Actor())
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx, reason := c.Request().Context(), c.FormValue("reason")
	switch c.Param("action") {
	case "approve":
		term, _ := strconv.Atoi(c.FormValue("term_days"))
		_, err = s.app.Sharing.Approve(ctx, p, id, nil, term)
	case "refuse":
		_, err = s.app.Sharing.Refuse(ctx, p, id, reason)
	case "escalate":
		_, err = s.app.Sharing.Escalate(ctx, p, id, reason)
	case "settle":
		_, err = s.app.Sharing.Settle(ctx, p, id, c.FormValue("approve") == "true", reason, nil, 0)
	default:
		return echo.ErrNotFound
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/console/share/requests?done=1")
}

// consoleNotifications lists the department's (or role's) notices and
// the user's own (a lockout notice, say); opening the page marks nothing:
// the button does, by POST.
func (s *Server) consoleNotifications(c echo.Context) error {
	u, _ := currentUser(c)
	ns, err := s.inboxOf(c, u)
	if err != nil {
		return err
	}
	unread := 0
	for i, n := range ns {
		ns[i].Link = sharing.PageLink(n.Link)
		if !n.Read {
			unread++
		}
	}
	return s.render(c, http.StatusOK, "notifications", s.newPage(c, i18n.T(lang(c), "nav.notifications", nil), map[string]any{"Notices": ns, "Unread": unread}))
}

// inboxOf is a staff member's inbox: their department's or role's notices
// and their own, newest first.
func (s *Server) inboxOf(c echo.Context, u auth.User) ([]notify.Notice, error) {
	ctx := c.Request().Context()
	ns, err := s.app.Notify.Inbox(ctx, u.DepartmentID, inboxRole(u), lang(c))
	if err != nil {
		return nil, err
	}
	own, err := s.app.Notify.UserInbox(ctx, u.ID, lang(c))
	if err != nil {
		return nil, err
	}
	ns = append(ns, own...)
	sort.SliceStable(ns, func(i, j int) bool { return ns[i].ID > ns[j].ID })
	return ns, nil
}

func (s *Server) consoleNotificationsRead(c echo.Context) error {
	u, _ := currentUser(c)
	ns, err := s.inboxOf(c, u)
	if err != nil {
		return err
	}
	for _, n := range ns {
		if !n.Read {
			if err := s.app.Notify.MarkRead(c.Request().Context(), n.ID, u.DepartmentID, inboxRole(u)); err != nil {
				return err
			}
			if err := s.app.Notify.MarkUserRead(c.Request().Context(), n.ID, u.ID); err != nil {
				return err
			}
		}
	}
	return c.Redirect(http.StatusSeeOther, "/console/notifications?done=1")
}

// auditRow is one event as the log page shows it: the resource and the
// actor's department by name, the action in words.
type auditRow struct {
	audit.Event
	ResourceName, DepartmentName, ActionText string
}

// consoleAudit is the audit log page: filters (resource, department,
// action, period) and pages of audit.PageSize, within the reader's scope.
func (s *Server) consoleAudit(c echo.Context) error {
	u, _ := currentUser(c)
	ctx, l := c.Request().Context(), lang(c)
	scope, err := audit.ScopeFor(u.Actor())
	if err != nil {
		return err
	}
	q := audit.Query{Resource: c.QueryParam("resource"), Department: c.QueryParam("department"), Action: c.QueryParam("action"),
		From: c.QueryParam("from"), To: c.QueryParam("to"), Before: c.QueryParam("before")}
	f, err := audit.FilterFor(scope, q, s.app.Config.Location())
	if err != nil {
		return err
	}
	evs, err := s.app.Audit.List(ctx, f)
	if err != nil {
		return err
	}
	ds, err := s.app.Catalog.ListDepartments(ctx)
	if err != nil {
		return err
	}
	depts := map[int64]string{}
	for _, d := range ds {
		depts[d.ID] = d.NameIn(l)
	}
	rf := catalog.Filter{Limit: 1000}
	if scope.DepartmentID != 0 {
		rf.DepartmentID = scope.DepartmentID
	}
	rs, _, err := s.app.Catalog.ListResources(ctx, rf)
	if err != nil {
		return err
	}
	names := map[int64]string{}
	for _, r := range rs {
		names[r.ID] = r.NameIn(l)
	}
	rows := make([]auditRow, 0, len(evs))
	for _, e := range evs {
		key := "audit.act." + e.Action
		if !i18n.Has(key) {
			key = "audit.act.other"
		}
		row := auditRow{Event: e, DepartmentName: depts[e.DepartmentID], ActionText: i18n.T(l, key, nil), ResourceName: names[e.ResourceID]}
		if row.ResourceName == "" && e.ResourceID != 0 {
			if r, err := s.app.Catalog.GetResource(ctx, e.ResourceID); err == nil {
				row.ResourceName = r.NameIn(l)
			}
		}
		rows = append(rows, row)
	}
	older := ""
	if len(evs) == f.Limit {
		v := c.QueryParams()
		v.Set("before", strconv.FormatInt(evs[len(evs)-1].ID, 10))
		older = "/console/audit?" + v.Encode()
	}
	type opt struct {
		Value, Label string
		Selected     bool
	}
	var actions, resources, departments []opt
	for _, a := range audit.Actions {
		actions = append(actions, opt{a, i18n.T(l, "audit.act."+a, nil), a == f.Action})
	}
	for _, r := range rs {
		resources = append(resources, opt{strconv.FormatInt(r.ID, 10), names[r.ID], len(f.ResourceIDs) == 1 && f.ResourceIDs[0] == r.ID})
	}
	for _, d := range ds {
		departments = append(departments, opt{strconv.FormatInt(d.ID, 10), depts[d.ID], d.ID == f.DepartmentID})
	}
	return s.render(c, http.StatusOK, "auditlog", s.newPage(c, i18n.T(l, "nav.audit", nil), map[string]any{
		"Rows": rows, "Older": older, "Paged": q.Before != "", "Q": q,
		"Actions": actions, "Resources": resources, "Departments": departments}))
}

func (s *Server) consoleCalendar(c echo.Context) error {
	u, _ := currentUser(c)
	y := time.Now().In(s.app.Config.Location()).Year()
	if v, err := strconv.Atoi(c.QueryParam("year")); err == nil && v >= 2000 && v <= 2100 {
		y = v
	}
	days, err := s.calendarDays(c, y)
	if err != nil {
		return err
	}
	loaded := len(s.app.Calendar.MissingYears(y, y)) == 0
	return s.render(c, http.StatusOK, "calendar", s.newPage(c, i18n.T(lang(c), "nav.calendar", nil),
		map[string]any{"Year": y, "Days": days, "Loaded": loaded, "CanEdit": u.Role == auth.RoleBureauAdmin}))
}

func (s *Server) consoleCalendarImport(c echo.Context) error {
	u, err := requireRole(c, auth.RoleBureauAdmin)
	if err != nil {
		return err
	}
	years, err := calendar.ParseCSV(strings.NewReader(c.FormValue("csv")))
	if err != nil {
		return err
	}
	first := 0
	for y, days := range years {
		if err := s.app.CalStore.ReplaceYear(c.Request().Context(), y, days, "imported by "+u.Username); err != nil {
			return err
		}
		if err := s.reloadCalendar(c, y); err != nil {
			return err
		}
		first = y
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/calendar?year=%d&done=1", first))
}
