package access

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"opendata/audit"
	"opendata/auth"
	"opendata/calendar"
	"opendata/catalog"
	"opendata/db"
	"opendata/errs"
	"opendata/i18n"
	"opendata/notify"
	"opendata/workflow"
)

// Application states.
const (
	Pending   = "pending"
	Approved  = "approved"
	Refused   = "refused"
	Withdrawn = "withdrawn"
)

// Application asks for on-application (依申请开放) data.
type Application struct {
	ID           int64      `json:"id"`
	ResourceID   int64      `json:"resource_id"`
	ResourceCode string     `json:"resource_code"`
	ResourceName string     `json:"resource_name"`
	DepartmentID int64      `json:"department_id"`
	UserID       int64      `json:"user_id"`
	Applicant    string     `json:"applicant"`
	Email        string     `json:"email"`
	Organisation string     `json:"organisation"`
	Purpose      string     `json:"purpose"`
	IntendedUse  string     `json:"intended_use"`
	Columns      []string   `json:"columns"`
	TermDays     int        `json:"term_days"`
	Contact      string     `json:"contact"`
	Status       string     `json:"status"`
	Deadline     time.Time  `json:"deadline"`
	Reason       string     `json:"reason,omitempty"`
	DecidedBy    string     `json:"decided_by,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	DecidedAt    *time.Time `json:"decided_at"`
	Grant        *Grant     `json:"grant,omitempty"`
	// Left is the time left to answer (pending ones).
	Left *calendar.Left `json:"time_left,omitempty"`
}

// Grant lets one account read one on-application dataset until it expires.
type Grant struct {
	ID            int64      `json:"id"`
	ApplicationID int64      `json:"application_id"`
	ResourceID    int64      `json:"resource_id"`
	UserID        int64      `json:"user_id"`
	Columns       []string   `json:"columns"`
	ExpiresAt     time.Time  `json:"expires_at"`
	RevokedAt     *time.Time `json:"revoked_at"`
	CreatedAt     time.Time  `json:"created_at"`
}

// Active reports whether the grant works at t.
func (g Grant) Active(t time.Time) bool { return g.RevokedAt == nil && t.Before(g.ExpiresAt) }

// NewApplication is the application form.
type NewApplication struct {
	ResourceID   int64    `json:"resource_id"`
	Organisation string   `json:"organisation" form:"organisation"`
	Purpose      string   `json:"purpose" form:"purpose"`
	IntendedUse  string   `json:"intended_use" form:"intended_use"`
	Columns      []string `json:"columns" form:"columns"`
	TermDays     int      `json:"term_days" form:"term_days"`
	Contact      string   `json:"contact" form:"contact"`
}

// MaxTermDays is the longest term an application may ask for.
const MaxTermDays = 730

func between(s string, lo, hi int) bool {
	n := utf8.RuneCountInString(strings.TrimSpace(s))
	return n >= lo && n <= hi
}

// Apply files an application; the providing department must answer within
// ApplicationDays working days.
func (s *Service) Apply(ctx context.Context, u auth.User, n NewApplication) (Application, error) {
	if u.Role != auth.RoleDeveloper {
		return Application{}, errs.Forbiddenf("err.app.developer_only")
	}
	r, err := s.Catalog.GetResource(ctx, n.ResourceID)
	if err != nil {
		return Application{}, err
	}
	if r.OpenType != catalog.OpenOnApplication || r.PublishedVersion == 0 {
		return Application{}, errs.FieldErrors{"resource_id": "err.field.not_on_application"}
	}
	fe := errs.FieldErrors{}
	if !between(n.Organisation, 2, 100) {
		fe["organisation"] = "err.field.organisation"
	}
	if !between(n.Purpose, 5, 500) {
		fe["purpose"] = "err.field.application_purpose"
	}
	if !between(n.IntendedUse, 5, 1000) {
		fe["intended_use"] = "err.field.intended_use"
	}
	if !between(n.Contact, 3, 100) {
		fe["contact"] = "err.field.contact"
	}
	if n.TermDays < 1 || n.TermDays > MaxTermDays {
		fe["term_days"] = i18n.Msg("err.field.days", "min", 1, "max", MaxTermDays)
	}
	for _, c := range n.Columns {
		if _, ok := r.ItemByName(c); !ok {
			fe["columns"] = i18n.Msg("err.field.no_item", "name", c)
		}
	}
	if err := fe.Err(); err != nil {
		return Application{}, err
	}
	var open int
	s.DB.QueryRow(ctx, "SELECT COUNT(*) FROM open_applications WHERE resource_id = ? AND user_id = ? AND status = ?", r.ID, u.ID, Pending).Scan(&open)
	if open > 0 {
		return Application{}, errs.Conflictf("err.app.pending", "code", r.Code)
	}
	cols, _ := json.Marshal(nonNil(n.Columns))
	now := s.Now.Now()
	deadline := s.Calendar.AddWorkingDays(now, s.ApplicationDays)
	var id int64
	err = s.DB.Tx(ctx, func(q db.Querier) error {
		var err error
		id, err = q.InsertID(ctx, `INSERT INTO open_applications (resource_id, user_id, organisation, purpose, intended_use, columns, term_days, contact, status, deadline, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, u.ID, strings.TrimSpace(n.Organisation), strings.TrimSpace(n.Purpose), strings.TrimSpace(n.IntendedUse),
			string(cols), n.TermDays, strings.TrimSpace(n.Contact), Pending, deadline, now)
		if err != nil {
			return err
		}
		return s.auditTx(ctx, q, u.Actor(), "application.file", r.ID, n.Purpose, fmt.Sprintf("application %d, %d days", id, n.TermDays))
	})
	if err != nil {
		return Application{}, err
	}
	s.Notify.Send(ctx, "application_filed", notify.Params("id", id, "code", r.Code, "name", r.Name, "organisation", n.Organisation,
		"deadline", deadline.In(s.Calendar.Location()).Format("2006-01-02")), "/console/applications", notify.To{DepartmentID: r.DepartmentID})
	return s.GetApplication(ctx, id)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const appCols = `a.id, a.resource_id, r.code, r.name, r.department_id, a.user_id, u.display_name, u.email, a.organisation, a.purpose, a.intended_use,
	a.columns, a.term_days, a.contact, a.status, a.deadline, a.reason, a.decided_by, a.created_at, a.decided_at`

const appFrom = " FROM open_applications a JOIN resources r ON r.id = a.resource_id JOIN users u ON u.id = a.user_id"

func (s *Service) scanApps(ctx context.Context, where string, args ...any) ([]Application, error) {
	out, err := db.QueryAll(ctx, s.DB, "SELECT "+appCols+appFrom+" WHERE "+where+" ORDER BY a.id DESC LIMIT 500", func(r db.Scanner) (Application, error) {
		var a Application
		var cols string
		if err := r.Scan(&a.ID, &a.ResourceID, &a.ResourceCode, &a.ResourceName, &a.DepartmentID, &a.UserID, &a.Applicant, &a.Email, &a.Organisation,
			&a.Purpose, &a.IntendedUse, &cols, &a.TermDays, &a.Contact, &a.Status, &a.Deadline, &a.Reason, &a.DecidedBy, &a.CreatedAt, &a.DecidedAt); err != nil {
			return a, err
		}
		json.Unmarshal([]byte(cols), &a.Columns)
		a.Columns = nonNil(a.Columns)
		if a.Status == Pending {
			l := s.Calendar.TimeLeft(s.Now.Now(), a.Deadline)
			a.Left = &l
		}
		return a, nil
	}, args...)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Status == Approved {
			g, err := s.grantOf(ctx, out[i].ID)
			if err == nil {
				out[i].Grant = &g
			}
		}
	}
	return out, nil
}

// GetApplication returns one application with its grant.
func (s *Service) GetApplication(ctx context.Context, id int64) (Application, error) {
	as, err := s.scanApps(ctx, "a.id = ?", id)
	if err != nil {
		return Application{}, err
	}
	if len(as) == 0 {
		return Application{}, errs.NotFoundf("err.app.not_found", "id", id)
	}
	return as[0], nil
}

// ApplicationFor returns an application the user may see: the applicant,
// the providing department or the bureau. Others get "not found".
func (s *Service) ApplicationFor(ctx context.Context, u auth.User, id int64) (Application, error) {
	a, err := s.GetApplication(ctx, id)
	if err != nil {
		return a, err
	}
	if a.UserID == u.ID || u.Role == auth.RoleBureauAdmin || (u.Role.NeedsDepartment() && u.DepartmentID == a.DepartmentID) {
		return a, nil
	}
	return Application{}, errs.NotFoundf("err.app.not_found", "id", id)
}

// Applications lists what the user may see: their own (developers), their
// department's (department staff) or all (bureau, office).
func (s *Service) Applications(ctx context.Context, u auth.User) ([]Application, error) {
	switch {
	case u.Role == auth.RoleDeveloper:
		return s.scanApps(ctx, "a.user_id = ?", u.ID)
	case u.Role.NeedsDepartment():
		return s.scanApps(ctx, "r.department_id = ?", u.DepartmentID)
	case u.Role == auth.RoleBureauAdmin || u.Role == auth.RoleOffice:
		return s.scanApps(ctx, "1 = 1")
	}
	return nil, errs.Forbiddenf("err.app.role")
}

// Approve grants the application, with the provider's scope and term
// (defaults: what was asked).
func (s *Service) Approve(ctx context.Context, by auth.User, id int64, cols []string, termDays int) (Application, error) {
	return s.decide(ctx, by, id, true, "", cols, termDays)
}

// Refuse turns the application down with a reason the applicant sees.
func (s *Service) Refuse(ctx context.Context, by auth.User, id int64, reason string) (Application, error) {
	return s.decide(ctx, by, id, false, reason, nil, 0)
}

func (s *Service) decide(ctx context.Context, by auth.User, id int64, approve bool, reason string, cols []string, termDays int) (Application, error) {
	a, err := s.GetApplication(ctx, id)
	if err != nil {
		return a, err
	}
	if !by.Actor().CanEditDepartment(a.DepartmentID) {
		if by.Role.NeedsDepartment() {
			return Application{}, errs.NotFoundf("err.app.not_found", "id", id)
		}
		return Application{}, errs.Forbiddenf("err.app.who_answers")
	}
	if a.Status != Pending {
		return a, applicationMoved(id)(a.Status)
	}
	reason = strings.TrimSpace(reason)
	status := Refused
	var r catalog.Resource
	if approve {
		status = Approved
		if r, err = s.Catalog.GetResource(ctx, a.ResourceID); err != nil {
			return a, err
		}
		if cols == nil {
			cols = a.Columns
		}
		for _, c := range cols {
			if _, ok := r.ItemByName(c); !ok {
				return a, errs.FieldErrors{"columns": i18n.Msg("err.field.no_item", "name", c)}
			}
		}
		if termDays == 0 {
			termDays = a.TermDays
		}
		if termDays < 1 || termDays > MaxTermDays {
			return a, errs.FieldErrors{"term_days": i18n.Msg("err.field.days", "min", 1, "max", MaxTermDays)}
		}
	} else if utf8.RuneCountInString(reason) < 2 {
		return a, errs.FieldErrors{"reason": "err.field.applicant_reason"}
	}
	now := s.Now.Now()
	err = workflow.Run(ctx, s.DB, s.Audit, workflow.Step{
		Move: db.Transition{Table: "open_applications", Where: "id = ?", Args: []any{id}, From: []string{Pending}, To: status,
			Set: "reason = ?, decided_by = ?, decided_at = ?", SetArgs: []any{reason, by.Username, now}, Refuse: applicationMoved(id)},
		Then: func(ctx context.Context, q db.Querier) error {
			if !approve {
				return nil
			}
			c, _ := json.Marshal(nonNil(cols))
			_, err := q.Exec(ctx, "INSERT INTO open_grants (application_id, resource_id, user_id, columns, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
				id, a.ResourceID, a.UserID, string(c), now.Add(time.Duration(termDays)*24*time.Hour), now)
			return err
		},
		Audit: actorEvent(by.Actor(), "application."+status, a.ResourceID, a.Purpose, fmt.Sprintf("application %d of %s: %s %s", id, a.Email, status, reason)),
	})
	if err != nil {
		return a, err
	}
	kind := "application_refused"
	if approve {
		kind = "application_approved"
	}
	s.Notify.Send(ctx, kind, notify.Params("id", id, "code", a.ResourceCode, "name", a.ResourceName, "reason", reason, "days", termDays),
		fmt.Sprintf("/datasets/%d", a.ResourceID), notify.To{UserID: a.UserID})
	return s.GetApplication(ctx, id)
}

func (s *Service) grantOf(ctx context.Context, appID int64) (Grant, error) {
	gs, err := s.grants(ctx, "application_id = ?", appID)
	if err != nil {
		return Grant{}, err
	}
	if len(gs) == 0 {
		return Grant{}, errs.NotFoundf("err.app.grant_not_found", "id", appID)
	}
	return gs[0], nil
}

func (s *Service) grants(ctx context.Context, where string, args ...any) ([]Grant, error) {
	return db.QueryAll(ctx, s.DB, "SELECT id, application_id, resource_id, user_id, columns, expires_at, revoked_at, created_at FROM open_grants WHERE "+where+" ORDER BY expires_at DESC", func(r db.Scanner) (Grant, error) {
		var g Grant
		var cols string
		if err := r.Scan(&g.ID, &g.ApplicationID, &g.ResourceID, &g.UserID, &cols, &g.ExpiresAt, &g.RevokedAt, &g.CreatedAt); err != nil {
			return g, err
		}
		json.Unmarshal([]byte(cols), &g.Columns)
		if len(g.Columns) == 0 {
			g.Columns = nil
		}
		return g, nil
	}, args...)
}

// ActiveGrant is the account's grant for a resource in force now, if any:
// the gateway asks on every call, so expiry and revocation act at once.
func (s *Service) ActiveGrant(ctx context.Context, resource, user int64) (Grant, bool, error) {
	gs, err := s.grants(ctx, "resource_id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?", resource, user, s.Now.Now())
	if err != nil || len(gs) == 0 {
		return Grant{}, false, err
	}
	return gs[0], true, nil
}

// RevokeGrant ends an approved application's access at once (the provider
// or the bureau).
func (s *Service) RevokeGrant(ctx context.Context, by auth.User, appID int64, reason string) (Application, error) {
	a, err := s.GetApplication(ctx, appID)
	if err != nil {
		return a, err
	}
	if !by.Actor().CanEditDepartment(a.DepartmentID) {
		return Application{}, errs.NotFoundf("err.app.not_found", "id", appID)
	}
	if a.Grant == nil || a.Grant.RevokedAt != nil {
		return a, errs.Conflictf("err.app.no_grant", "id", appID)
	}
	if utf8.RuneCountInString(strings.TrimSpace(reason)) < 2 {
		return a, errs.FieldErrors{"reason": "err.field.applicant_reason"}
	}
	err = workflow.Run(ctx, s.DB, s.Audit, workflow.Step{
		Move: db.Transition{Table: "open_grants", Where: "id = ?", Args: []any{a.Grant.ID}, Column: db.NoStatus, Guard: "revoked_at IS NULL",
			Set: "revoked_at = ?", SetArgs: []any{s.Now.Now()}},
		Audit: actorEvent(by.Actor(), "application.revoke", a.ResourceID, a.Purpose, fmt.Sprintf("grant %d of %s: %s", a.Grant.ID, a.Email, reason)),
	})
	if err != nil {
		return a, err
	}
	s.Notify.Send(ctx, "application_revoked", notify.Params("id", appID, "code", a.ResourceCode, "name", a.ResourceName, "reason", strings.TrimSpace(reason)),
		fmt.Sprintf("/datasets/%d", a.ResourceID), notify.To{UserID: a.UserID})
	return s.GetApplication(ctx, appID)
}

// applicationMoved words the loser's 409.
func applicationMoved(id int64) func(string) error {
	return func(string) error {
		return &errs.Public{Kind: errs.Conflict, Code: "state_changed", Key: "access.err.application_moved", Params: map[string]string{"id": fmt.Sprint(id)}}
	}
}

// RecordGrantedRead audits a read of on-application data under a grant;
// an error means the read must be refused (audit.ErrReadRefused).
func (s *Service) RecordGrantedRead(ctx context.Context, user int64, name string, key, resource int64, version int, appID int64, remote string) error {
	return s.Audit.RecordRead(ctx, s.Log, audit.Event{ActorID: user, ActorName: name, Action: "open.read", ResourceID: resource, Version: version,
		Remote: remote, Detail: fmt.Sprintf("application %d, key %d", appID, key)})
}

// RemindApplications tells the providing department when an application
// has one working day left, and the department and the bureau when it is
// overdue; each once, claimed across instances. It returns how many
// notices went out.
func (s *Service) RemindApplications(ctx context.Context) (int, error) {
	return workflow.Nudge(ctx, s.DB, s.Calendar, s.Notify, s.Now.Now(), applicationClock{s})
}

// applicationClock is the applications' deadline (workflow.Clock).
type applicationClock struct{ s *Service }

func (applicationClock) Table() string { return "open_applications" }

func (c applicationClock) Open(ctx context.Context) ([]workflow.Item, error) {
	return db.QueryAll(ctx, c.s.DB, `SELECT a.id, a.deadline, r.code, r.name, r.department_id, a.reminded_at IS NOT NULL, a.overdue_at IS NOT NULL
		FROM open_applications a JOIN resources r ON r.id = a.resource_id WHERE a.status = ? AND (a.reminded_at IS NULL OR a.overdue_at IS NULL)`, func(r db.Scanner) (workflow.Item, error) {
		var it workflow.Item
		var code, name string
		var dept int64
		if err := r.Scan(&it.ID, &it.Deadline, &code, &name, &dept, &it.Reminded, &it.ToldOverdue); err != nil {
			return it, err
		}
		params := notify.Params("id", it.ID, "code", code, "name", name, "deadline", it.Deadline.In(c.s.Calendar.Location()).Format("2006-01-02"))
		it.Remind = &workflow.Notice{Kind: "application_due", Params: params, Link: "/console/applications", To: []notify.To{{DepartmentID: dept}}}
		it.Overdue = &workflow.Notice{Kind: "application_overdue", Params: params, Link: "/console/applications",
			To: []notify.To{{DepartmentID: dept}, {Role: string(auth.RoleBureauAdmin)}}}
		return it, nil
	}, Pending)
}

// Withdraw lets the applicant take back a pending application.
func (s *Service) Withdraw(ctx context.Context, u auth.User, id int64) (Application, error) {
	a, err := s.GetApplication(ctx, id)
	if err != nil {
		return a, err
	}
	if a.UserID != u.ID {
		return Application{}, errs.NotFoundf("err.app.not_found", "id", id)
	}
	err = workflow.Run(ctx, s.DB, s.Audit, workflow.Step{
		Move: db.Transition{Table: "open_applications", Where: "id = ?", Args: []any{id}, From: []string{Pending}, To: Withdrawn,
			Set: "decided_by = ?, decided_at = ?", SetArgs: []any{u.Username, s.Now.Now()}, Refuse: applicationMoved(id)},
		Audit: actorEvent(u.Actor(), "application.withdrawn", a.ResourceID, a.Purpose, fmt.Sprintf("application %d", id)),
	})
	if err != nil {
		return a, err
	}
	s.Notify.Send(ctx, "application_withdrawn", notify.Params("id", id, "code", a.ResourceCode, "name", a.ResourceName),
		"/console/applications", notify.To{DepartmentID: a.DepartmentID})
	return s.GetApplication(ctx, id)
}
