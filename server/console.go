package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"opendata/auth"
	"opendata/catalog"
	"opendata/i18n"
	"opendata/ingest"
	"opendata/publish"
)

func (s *Server) bindConsole(e *echo.Echo) {
	g := e.Group("/console", s.requireLoginPage)
	g.GET("", s.consolePage)
	g.GET("/resources/:id", s.consoleResource)
	g.POST("/resources/:id/upload", s.consoleUpload)
	g.GET("/jobs/:job", s.consoleJob)
	g.POST("/resources/:id/versions/:n/:action", s.consoleVersionAction)
	g.POST("/resources/:id/withdraw", s.consoleWithdraw)
	g.POST("/resources/:id/withdraw/cancel", s.consoleCancelWithdraw)
	g.POST("/edits/:id/:action", s.consoleEditDecision)
	s.bindConsoleCatalog(g)
	s.bindConsoleReview(g)
	s.bindConsoleShare(g)
	s.bindConsoleDisputes(g)
	s.bindConsoleGateway(g)
	s.bindConsoleSearch(g)
}

// requireLoginPage sends anonymous visitors to the login form.
func (s *Server) requireLoginPage(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := c.Get(ctxUser).(auth.User); !ok {
			if _, dev := developer(c); dev {
				return c.Redirect(http.StatusSeeOther, "/account")
			}
			return c.Redirect(http.StatusSeeOther, "/login?next="+c.Request().URL.RequestURI())
		}
		return next(c)
	}
}

func (s *Server) consolePage(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := currentUser(c)
	f := catalog.Filter{Limit: 1000}
	if !u.Actor().IsBureau() && u.Role != auth.RoleOffice {
		f.DepartmentID = u.DepartmentID
	}
	rs, _, err := s.app.Catalog.ListResources(ctx, f)
	if err != nil {
		return err
	}
	queue, err := s.app.Publish.Queue(ctx, u.Actor())
	if err != nil {
		return err
	}
	edits, err := s.app.Publish.PendingEdits(ctx, u.Actor())
	if err != nil {
		return err
	}
	var ev []editView
	for _, p := range edits {
		ev = append(ev, editView{PendingEdit: p, Words: widensWords(lang(c), p)})
	}
	return s.render(c, http.StatusOK, "console", s.newPage(c, "", map[string]any{"Resources": rs, "Queue": queue, "CanReview": s.app.Publish.Reviews(u.Actor()),
		"CanCreate": mayCreate(u) == nil, "Edits": ev}))
}

// editView is a pending edit with what it widens in words.
type editView struct {
	publish.PendingEdit
	Words []string
}

// widensWords says what a pending edit widens, in the reader's language.
func widensWords(l string, p publish.PendingEdit) []string {
	var out []string
	for _, w := range p.Widens {
		switch {
		case w == "open_type":
			out = append(out, i18n.T(l, "edit.widens_open_type", map[string]string{"to": p.Entry.OpenType.Label(l)}))
		case w == "share_type":
			out = append(out, i18n.T(l, "edit.widens_share_type", map[string]string{"to": p.Entry.ShareType.Label(l)}))
		case strings.HasPrefix(w, "items."):
			item := strings.TrimPrefix(w, "items.")
			key := "edit.widens_personal"
			if strings.HasSuffix(item, ".personal_action") {
				key = "edit.widens_personal_action"
			}
			item = strings.TrimSuffix(strings.TrimSuffix(item, ".personal_action"), ".personal")
			out = append(out, i18n.T(l, key, map[string]string{"item": item}))
		}
	}
	return out
}

// consoleEditDecision approves or rejects a pending widening edit (a
// second person with the approver's role).
func (s *Server) consoleEditDecision(c echo.Context) error {
	u, _ := currentUser(c)
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	action := c.Param("action")
	if action != "approve" && action != "reject" {
		return echo.ErrNotFound
	}
	if err := s.app.Publish.DecideEdit(c.Request().Context(), u.Actor(), id, action == "approve", c.FormValue("reason")); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/console?done=edit_"+action)
}

type versionRow struct {
	Number         int
	Rows, Rejected int64
	Score          float64
	State, Source  string
}

func (s *Server) consoleResource(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	return s.resourcePage(c, http.StatusOK, id, "")
}

// consoleUpload is the form twin of the upload API: same checks, then the
// job page.
func (s *Server) consoleUpload(c echo.Context) error {
	c.Request().Header.Set("Accept-Language", lang(c))
	j, _, err := s.startUpload(c)
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/console/jobs/"+j.ID)
}

func (s *Server) consoleJob(c echo.Context) error {
	j, _, err := s.jobFor(c)
	if err != nil {
		return err
	}
	l := lang(c)
	running := j.Status == "queued" || j.Status == "running"
	data := map[string]any{"Job": j, "StatusText": i18n.T(l, "job."+j.Status, nil), "Running": running, "Percent": 0, "Phase": jobPhase(l, j.Phase),
		"Error": jobError(j, l), "MaxAttempts": s.app.Jobs.MaxAttempts}
	if j.TotalBytes > 0 {
		data["Percent"] = min(100, 100*j.ProgressBytes/j.TotalBytes)
	}
	if len(j.Result) > 0 {
		var out ingest.Outcome
		if json.Unmarshal(j.Result, &out) == nil {
			data["Outcome"] = out
		}
	}
	if running {
		c.Response().Header().Set("Refresh", "2")
	}
	return s.render(c, http.StatusOK, "job", s.newPage(c, i18n.T(l, "job.title", nil), data))
}

// jobPhase is a job's phase in words: scan, convert, upload:<file>.
func jobPhase(l, phase string) string {
	if phase == "" {
		return ""
	}
	name, _, _ := strings.Cut(phase, ":")
	if !i18n.Has("job.phase." + name) {
		name = "other"
	}
	return i18n.T(l, "job.phase."+name, nil)
}

func (s *Server) consoleVersionAction(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := currentUser(c)
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	n, err := pathID(c, "n")
	if err != nil {
		return err
	}
	switch c.Param("action") {
	case "submit":
		err = s.app.Publish.Submit(ctx, u.Actor(), id, int(n))
	case "approve":
		err = s.app.Publish.Approve(ctx, u.Actor(), id, int(n))
	case "reject":
		err = s.app.Publish.Reject(ctx, u.Actor(), id, int(n), c.FormValue("reason"))
	default:
		return echo.ErrNotFound
	}
	if c.FormValue("from") == "version" {
		return s.afterVersionAction(c, id, int(n), c.Param("action"), err)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/resources/%d?done=1", id))
}

func (s *Server) consoleWithdraw(c echo.Context) error {
	u, _ := currentUser(c)
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	days, _ := strconv.Atoi(c.FormValue("notice_days"))
	if err := s.app.Publish.Withdraw(c.Request().Context(), u.Actor(), id, c.FormValue("reason"), days); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/resources/%d?done=1", id))
}

func (s *Server) consoleCancelWithdraw(c echo.Context) error {
	u, _ := currentUser(c)
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := s.app.Publish.CancelWithdrawal(c.Request().Context(), u.Actor(), id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/resources/%d?done=1", id))
}
