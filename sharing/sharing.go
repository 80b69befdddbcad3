// Package sharing carries data between departments as the regulation sets
// it (A-15 … A-19): unconditionally shared resources are taken directly
// with a stated purpose; conditionally shared ones need a share request that
// the provider answers within 5 working days (overdue requests escalate to
// the leading-group office, whose decision can go on to the leading group);
// not-shared resources are closed, with the recorded legal basis.
package sharing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

// ResponseDays is the provider's deadline.
const ResponseDays = 5

// Request statuses.
const (
	Pending         = "pending"          // waiting for the provider
	Approved        = "approved"         // a grant exists
	Refused         = "refused"          // the provider said no
	EscalatedOffice = "escalated_office" // the leading-group office coordinates
	OfficeRefused   = "office_refused"
	EscalatedGroup  = "escalated_group" // the leading group decides
	GroupRefused    = "group_refused"
)

// Principal is who asks for data: a staff member or a department's system.
type Principal struct {
	UserID       int64
	Name         string
	Role         auth.Role
	DepartmentID int64
	System       bool // a department system credential
}

// FromActor turns a staff actor into a principal.
func FromActor(a auth.Actor) Principal {
	return Principal{UserID: a.ID, Name: a.Name, Role: a.Role, DepartmentID: a.DepartmentID}
}

// Decision says whether a principal reads a resource's full variant.
type Decision struct {
	Allowed bool
	Columns []string // nil: every column
	GrantID int64
	Reason  string // why not: a message key (err.decide.*)
	params  []any  // its parameters, pairs of name and value
}

func refused(key string, kv ...any) Decision { return Decision{Reason: key, params: kv} }

// refusal is the Forbidden error a refused read answers with.
func (d Decision) refusal(code string) error {
	return errs.Forbiddenf(d.Reason, append([]any{"code", code}, d.params...)...)
}

// Service runs sharing.
type Service struct {
	DB       *db.DB
	Catalog  *catalog.Store
	Audit    *audit.Log
	Calendar *calendar.Calendar
	Log      *slog.Logger
	Notify   *notify.Notifier
	Now      db.Clock
	// OpenGrants, when set, finds on-application grants (ReadTarget).
	OpenGrants OpenGrants
}

// Decide applies the share type to a principal (design.md §5). The
// providing department always reads its own data; the bureau and the office
// supervise catalogs and logs but read no department's data by role alone.
func (s *Service) Decide(ctx context.Context, p Principal, r catalog.Resource) (Decision, error) {
	if p.DepartmentID == 0 {
		return refused("err.decide.supervisors"), nil
	}
	if p.DepartmentID == r.DepartmentID {
		return Decision{Allowed: true}, nil
	}
	if r.RetiredAt != nil {
		return refused("err.decide.retired", "reason", r.RetiredReason), nil
	}
	if at := s.stoppedAt(ctx, r.ID); !at.IsZero() && !s.Now.Now().Before(at) {
		return refused("err.decide.stopped", "date", at.In(s.Calendar.Location()).Format("2006-01-02")), nil
	}
	switch r.ShareType {
	case catalog.ShareUnconditional:
		return Decision{Allowed: true}, nil
	case catalog.ShareNone:
		return refused("err.decide.not_shared", "basis", r.ShareBasis), nil
	}
	var id int64
	var cols string
	err := s.DB.QueryRow(ctx, `SELECT id, columns FROM share_grants WHERE resource_id = ? AND department_id = ? AND revoked_at IS NULL AND expires_at > ?
		ORDER BY expires_at DESC LIMIT 1`, r.ID, p.DepartmentID, s.Now.Now()).Scan(&id, &cols)
	if err != nil {
		return refused("err.decide.conditional", "condition", r.ShareCondition), nil
	}
	d := Decision{Allowed: true, GrantID: id}
	json.Unmarshal([]byte(cols), &d.Columns)
	if len(d.Columns) == 0 {
		d.Columns = nil
	}
	return d, nil
}

// Access names how a principal can get a resource: own, direct, granted,
// request or closed (what the shared catalog shows).
func (s *Service) Access(ctx context.Context, p Principal, r catalog.Resource) (string, error) {
	d, err := s.Decide(ctx, p, r)
	if err != nil {
		return "", err
	}
	switch {
	case p.DepartmentID != 0 && p.DepartmentID == r.DepartmentID:
		return "own", nil
	case d.Allowed && d.GrantID != 0:
		return "granted", nil
	case d.Allowed:
		return "direct", nil
	case r.ShareType == catalog.ShareNone || p.DepartmentID == 0:
		return "closed", nil
	}
	return "request", nil
}

// ids runs a query that selects one id column.
func (s *Service) ids(ctx context.Context, q string, args ...any) ([]int64, error) {
	return db.QueryAll(ctx, s.DB, q, db.Value[int64], args...)
}

// loadAll runs q for ids and loads each row with get, in the query's order;
// an empty result is an empty list (JSON []), never null.
func loadAll[T any](ctx context.Context, s *Service, get func(context.Context, int64) (T, error), q string, args ...any) ([]T, error) {
	ids, err := s.ids(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	out := []T{}
	for _, id := range ids {
		v, err := get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// CheckPurpose requires a stated purpose for every internal access.
func CheckPurpose(purpose string) (string, error) {
	purpose = strings.TrimSpace(purpose)
	if utf8.RuneCountInString(purpose) < 4 {
		return "", errs.FieldErrors{"purpose": "err.share.purpose"}
	}
	if utf8.RuneCountInString(purpose) > 500 {
		return "", errs.FieldErrors{"purpose": i18n.Msg("err.field.at_most", "max", 500)}
	}
	return purpose, nil
}

// Request is a share request.
type Request struct {
	ID            int64          `json:"id"`
	ResourceID    int64          `json:"resource_id"`
	DepartmentID  int64          `json:"department_id"`
	RequesterName string         `json:"requester"`
	Purpose       string         `json:"purpose"`
	LegalDuty     string         `json:"legal_duty"`
	Columns       []string       `json:"columns"`
	TermDays      int            `json:"term_days"`
	Status        string         `json:"status"`
	Deadline      time.Time      `json:"deadline"`
	Reason        string         `json:"reason,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
	Left          *calendar.Left `json:"time_left,omitempty"`
	Events        []Event        `json:"events,omitempty"`
}

// Event is a step of a request.
type Event struct {
	Action string    `json:"action"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// NewRequest is what a requester files.
type NewRequest struct {
	ResourceID int64    `json:"resource_id"`
	Purpose    string   `json:"purpose"`
	LegalDuty  string   `json:"legal_duty"`
	Columns    []string `json:"columns"`
	TermDays   int      `json:"term_days"`
}

// auditEvent is the audit record of p's action.
func auditEvent(p Principal, action string, rid int64, purpose, detail string) *audit.Event {
	return &audit.Event{ActorID: p.UserID, ActorName: p.Name, DepartmentID: p.DepartmentID, Action: action,
		ResourceID: rid, Purpose: purpose, Detail: detail}
}

// auditTx appends e in the change's transaction q: no event, no change.
func (s *Service) auditTx(ctx context.Context, q db.Querier, e *audit.Event) error {
	if s.Audit == nil {
		return nil
	}
	_, err := s.Audit.AppendTx(ctx, q, *e)
	return err
}

func (s *Service) event(ctx context.Context, q db.Querier, id int64, action, actor, reason string) error {
	_, err := q.Exec(ctx, "INSERT INTO share_request_events (request_id, action, actor_name, reason, at) VALUES (?, ?, ?, ?, ?)", id, action, actor, reason, s.Now.Now())
	return err
}

// File records a share request; the provider's deadline is 5 working days.
func (s *Service) File(ctx context.Context, p Principal, n NewRequest) (Request, error) {
	if p.DepartmentID == 0 || p.System {
		return Request{}, errs.Forbiddenf("err.share.staff_only")
	}
	r, err := s.Catalog.GetResource(ctx, n.ResourceID)
	if err != nil {
		return Request{}, err
	}
	if r.DepartmentID == p.DepartmentID {
		return Request{}, errs.Conflictf("err.share.own")
	}
	switch r.ShareType {
	case catalog.ShareUnconditional:
		return Request{}, errs.Conflictf("err.share.unconditional", "code", r.Code)
	case catalog.ShareNone:
		return Request{}, errs.Forbiddenf("err.share.not_shared", "code", r.Code, "basis", r.ShareBasis)
	}
	fe := errs.FieldErrors{}
	purpose, err := CheckPurpose(n.Purpose)
	if err != nil {
		fe["purpose"] = err.(errs.FieldErrors)["purpose"]
	}
	if utf8.RuneCountInString(strings.TrimSpace(n.LegalDuty)) < 4 {
		fe["legal_duty"] = "err.field.legal_duty"
	}
	if n.TermDays < 1 || n.TermDays > 3*365 {
		fe["term_days"] = i18n.Msg("err.field.days", "min", 1, "max", 1095)
	}
	for _, c := range n.Columns {
		if _, ok := r.ItemByName(c); !ok {
			fe["columns"] = i18n.Msg("err.field.no_item", "name", c)
		}
	}
	if err := fe.Err(); err != nil {
		return Request{}, err
	}
	cols, _ := json.Marshal(n.Columns)
	now := s.Now.Now()
	deadline := s.Calendar.AddWorkingDays(now, ResponseDays).UTC() // stored in UTC like every time
	var id int64
	err = s.DB.Tx(ctx, func(q db.Querier) error {
		var uid any
		if p.UserID != 0 {
			uid = p.UserID
		}
		id, err = q.InsertID(ctx, `INSERT INTO share_requests (resource_id, department_id, requester_id, requester_name, purpose, legal_duty, columns,
			term_days, status, deadline, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, p.DepartmentID, uid, p.Name, purpose, strings.TrimSpace(n.LegalDuty), string(cols), n.TermDays, Pending, deadline, now, now)
		if err != nil {
			return err
		}
		if err := s.event(ctx, q, id, "filed", p.Name, ""); err != nil {
			return err
		}
		return s.auditTx(ctx, q, auditEvent(p, "share.request_filed", r.ID, purpose, fmt.Sprintf("request %d, deadline %s", id, deadline.Format("2006-01-02"))))
	})
	if err != nil {
		return Request{}, err
	}
	s.Notify.Send(ctx, "share_request_new", notify.Params("id", id, "code", r.Code, "name", r.Name, "requester", p.Name,
		"deadline", deadline.In(s.Calendar.Location()).Format("2006-01-02")), RequestLink(id), notify.To{DepartmentID: r.DepartmentID})
	return s.Get(ctx, id)
}

// Get returns a request with its steps and time left.
func (s *Service) Get(ctx context.Context, id int64) (Request, error) {
	var r Request
	var cols string
	err := s.DB.QueryRow(ctx, `SELECT id, resource_id, department_id, requester_name, purpose, legal_duty, columns, term_days, status, deadline, reason, created_at
		FROM share_requests WHERE id = ?`, id).Scan(&r.ID, &r.ResourceID, &r.DepartmentID, &r.RequesterName, &r.Purpose, &r.LegalDuty, &cols, &r.TermDays,
		&r.Status, &r.Deadline, &r.Reason, &r.CreatedAt)
	if err != nil {
		return r, fmt.Errorf("share request %d: %w", id, db.MapErr(err))
	}
	json.Unmarshal([]byte(cols), &r.Columns)
	if r.Columns == nil {
		r.Columns = []string{} // every column
	}
	if r.Status == Pending {
		l := s.Calendar.TimeLeft(s.Now.Now(), r.Deadline)
		r.Left = &l
	}
	r.Events, err = db.QueryAll(ctx, s.DB, "SELECT action, actor_name, reason, at FROM share_request_events WHERE request_id = ? ORDER BY id", func(row db.Scanner) (Event, error) {
		var e Event
		return e, row.Scan(&e.Action, &e.Actor, &e.Reason, &e.At)
	}, id)
	return r, err
}

// List returns the requests a principal sees: its department's (filed or
// received); the bureau and the office see all.
func (s *Service) List(ctx context.Context, p Principal) ([]Request, error) {
	q, args := "SELECT r.id FROM share_requests r JOIN resources res ON res.id = r.resource_id", []any{}
	if p.Role != auth.RoleBureauAdmin && p.Role != auth.RoleOffice {
		q += " WHERE r.department_id = ? OR res.department_id = ?"
		args = append(args, p.DepartmentID, p.DepartmentID)
	}
	return loadAll(ctx, s, s.Get, q+" ORDER BY r.id DESC LIMIT 500", args...)
}

// move is one decision on a request: the states it leaves and the one it
// enters, the event it records with its reason, who may take it, and, for
// an approval, the grant it makes.
type move struct {
	from   []string
	to     string
	action string
	reason string
	may    func(req Request, res catalog.Resource) bool
	grant  *grantTerms // nil: the decision grants nothing
}

// grantTerms are an approval's columns and term; empty ones take the
// request's.
type grantTerms struct {
	cols     []string
	termDays int
}

// transition moves a request between states after checking who may.
func (s *Service) transition(ctx context.Context, p Principal, id int64, m move) (Request, error) {
	from, to, action, reason := m.from, m.to, m.action, m.reason
	grant := m.grant != nil
	var cols []string
	var termDays int
	if grant {
		cols, termDays = m.grant.cols, m.grant.termDays
	}
	req, err := s.Get(ctx, id)
	if err != nil {
		return req, err
	}
	res, err := s.Catalog.GetResource(ctx, req.ResourceID)
	if err != nil {
		return req, err
	}
	if !m.may(req, res) {
		return req, errs.Forbiddenf("err.share.may_not", "id", id)
	}
	ok := false
	for _, f := range from {
		ok = ok || req.Status == f
	}
	if !ok {
		return req, requestMoved(id)(req.Status)
	}
	if (to == Refused || to == OfficeRefused || to == GroupRefused || to == EscalatedOffice || to == EscalatedGroup) && utf8.RuneCountInString(strings.TrimSpace(reason)) < 2 {
		return req, errs.FieldErrors{"reason": "err.field.refusal_reason"}
	}
	if grant {
		if cols == nil {
			cols = req.Columns
		}
		for _, c := range cols {
			if _, ok := res.ItemByName(c); !ok {
				return req, errs.FieldErrors{"columns": i18n.Msg("err.field.no_item", "name", c)}
			}
		}
		if termDays <= 0 {
			termDays = req.TermDays
		}
	}
	reason = strings.TrimSpace(reason)
	now := s.Now.Now()
	err = workflow.Run(ctx, s.DB, s.Audit, workflow.Step{
		Move: db.Transition{Table: "share_requests", Where: "id = ?", Args: []any{id}, From: from, To: to,
			Set: "reason = ?, updated_at = ?", SetArgs: []any{reason, now}, Refuse: requestMoved(id)},
		Then: func(ctx context.Context, q db.Querier) error {
			if grant {
				c, _ := json.Marshal(cols)
				if _, err := q.Exec(ctx, "INSERT INTO share_grants (resource_id, department_id, columns, request_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
					req.ResourceID, req.DepartmentID, string(c), id, now.Add(time.Duration(termDays)*24*time.Hour), now); err != nil {
					return err
				}
			}
			return s.event(ctx, q, id, action, p.Name, reason)
		},
		Audit: auditEvent(p, "share."+action, req.ResourceID, req.Purpose, fmt.Sprintf("request %d → %s %s", id, to, reason)),
	})
	if err != nil {
		return req, err
	}
	params := notify.Params("id", id, "code", res.Code, "name", res.Name, "status", fmt.Sprintf("share_status.%s", to), "reason", reason)
	link := RequestLink(id)
	switch to {
	case EscalatedOffice:
		s.Notify.Send(ctx, "share_request_escalated", params, link, notify.To{Role: string(auth.RoleOffice)}, notify.To{DepartmentID: res.DepartmentID})
	case EscalatedGroup:
		s.Notify.Send(ctx, "share_request_escalated", params, link, notify.To{Role: string(auth.RoleBureauAdmin)}, notify.To{DepartmentID: res.DepartmentID})
	default:
		s.Notify.Send(ctx, "share_request_decided", params, link, notify.To{DepartmentID: req.DepartmentID})
	}
	return s.Get(ctx, id)
}

// requestMoved words the loser's 409: the request is no longer in the
// state the decision was made from.
func requestMoved(id int64) func(string) error {
	return func(string) error {
		return &errs.Public{Kind: errs.Conflict, Code: "state_changed", Key: "share.err.request_moved",
			Params: map[string]string{"id": fmt.Sprint(id)}}
	}
}

func provider(p Principal) func(Request, catalog.Resource) bool {
	return func(_ Request, res catalog.Resource) bool { return CanAnswer(p, res) }
}

// Approve grants the request (provider), optionally narrowing the columns
// and the term.
func (s *Service) Approve(ctx context.Context, p Principal, id int64, cols []string, termDays int) (Request, error) {
	return s.transition(ctx, p, id, move{from: []string{Pending}, to: Approved, action: "approved", may: provider(p), grant: &grantTerms{cols, termDays}})
}

// Refuse declines the request with reasons (provider).
func (s *Service) Refuse(ctx context.Context, p Principal, id int64, reason string) (Request, error) {
	return s.transition(ctx, p, id, move{from: []string{Pending}, to: Refused, action: "refused", reason: reason, may: provider(p)})
}

// Escalate takes a disagreement up the chain: a refused request to
// the leading-group office, an office refusal to the leading group. The
// requesting department escalates.
func (s *Service) Escalate(ctx context.Context, p Principal, id int64, reason string) (Request, error) {
	req, err := s.Get(ctx, id)
	if err != nil {
		return req, err
	}
	requester := func(r Request, _ catalog.Resource) bool { return CanEscalate(p, r) }
	if req.Status == OfficeRefused {
		return s.transition(ctx, p, id, move{from: []string{OfficeRefused}, to: EscalatedGroup, action: "escalated_to_group", reason: reason, may: requester})
	}
	return s.transition(ctx, p, id, move{from: []string{Refused}, to: EscalatedOffice, action: "escalated_to_office", reason: reason, may: requester})
}

// Decide settles an escalated request: the office for escalated_office;
// the leading group (recorded by the bureau, its secretariat) for
// escalated_group.
func (s *Service) Settle(ctx context.Context, p Principal, id int64, approve bool, reason string, cols []string, termDays int) (Request, error) {
	req, err := s.Get(ctx, id)
	if err != nil {
		return req, err
	}
	switch req.Status {
	case EscalatedOffice:
		office := func(r Request, _ catalog.Resource) bool { return CanSettle(p, r) }
		if approve {
			return s.transition(ctx, p, id, move{from: []string{EscalatedOffice}, to: Approved, action: "office_approved", reason: reason, may: office, grant: &grantTerms{cols, termDays}})
		}
		return s.transition(ctx, p, id, move{from: []string{EscalatedOffice}, to: OfficeRefused, action: "office_refused", reason: reason, may: office})
	case EscalatedGroup:
		group := func(r Request, _ catalog.Resource) bool { return CanSettle(p, r) }
		if approve {
			return s.transition(ctx, p, id, move{from: []string{EscalatedGroup}, to: Approved, action: "group_approved", reason: reason, may: group, grant: &grantTerms{cols, termDays}})
		}
		return s.transition(ctx, p, id, move{from: []string{EscalatedGroup}, to: GroupRefused, action: "group_refused", reason: reason, may: group})
	}
	return req, requestMoved(id)(req.Status)
}

// EscalateOverdue sends pending requests past their deadline to the office
// (run by the server's housekeeping); it returns how many moved.
func (s *Service) EscalateOverdue(ctx context.Context) (int, error) {
	ids, err := s.ids(ctx, "SELECT id FROM share_requests WHERE status = ? AND deadline < ?", Pending, s.Now.Now())
	if err != nil {
		return 0, err
	}
	system := Principal{Name: "system"}
	n := 0
	for _, id := range ids {
		_, err := s.transition(ctx, system, id, move{from: []string{Pending}, to: EscalatedOffice, action: "overdue_escalated",
			reason: "provider did not answer within 5 working days", may: func(Request, catalog.Resource) bool { return true }})
		switch {
		case errors.Is(err, errs.Conflict):
			continue // answered meanwhile, or another instance escalated it
		case err != nil:
			return n, err
		}
		n++
	}
	return n, nil
}

// RemindDue tells providers whose answer is due within one working day
// (once per request, claimed across instances); it returns how many were
// reminded. Overdue requests escalate on their own (EscalateOverdue).
func (s *Service) RemindDue(ctx context.Context) (int, error) {
	return workflow.Nudge(ctx, s.DB, s.Calendar, s.Notify, s.Now.Now(), requestClock{s})
}

// requestClock is the share requests' deadline (workflow.Clock).
type requestClock struct{ s *Service }

func (requestClock) Table() string { return "share_requests" }

func (c requestClock) Open(ctx context.Context) ([]workflow.Item, error) {
	return db.QueryAll(ctx, c.s.DB, `SELECT q.id, q.deadline, r.code, r.name, r.department_id FROM share_requests q JOIN resources r ON r.id = q.resource_id
		WHERE q.status = ? AND q.reminded_at IS NULL`, func(r db.Scanner) (workflow.Item, error) {
		var it workflow.Item
		var code, name string
		var dept int64
		if err := r.Scan(&it.ID, &it.Deadline, &code, &name, &dept); err != nil {
			return it, err
		}
		it.Remind = &workflow.Notice{Kind: "share_request_due", Params: notify.Params("id", it.ID, "code", code, "name", name,
			"deadline", it.Deadline.In(c.s.Calendar.Location()).Format("2006-01-02")), Link: RequestLink(it.ID),
			To: []notify.To{{DepartmentID: dept}}}
		return it, nil
	}, Pending)
}

// RevokeGrant ends a grant at once (provider or bureau).
func (s *Service) RevokeGrant(ctx context.Context, p Principal, grantID int64) error {
	var rid, dept int64
	if err := s.DB.QueryRow(ctx, "SELECT g.resource_id, r.department_id FROM share_grants g JOIN resources r ON r.id = g.resource_id WHERE g.id = ?", grantID).Scan(&rid, &dept); err != nil {
		return fmt.Errorf("grant %d: %w", grantID, db.MapErr(err))
	}
	if p.Role != auth.RoleBureauAdmin && p.DepartmentID != dept {
		return errs.Forbiddenf("err.share.revoke_who")
	}
	return workflow.Run(ctx, s.DB, s.Audit, workflow.Step{
		Move: db.Transition{Table: "share_grants", Where: "id = ?", Args: []any{grantID}, Column: db.NoStatus, Guard: "revoked_at IS NULL",
			Set: "revoked_at = ?", SetArgs: []any{s.Now.Now()}},
		Audit: auditEvent(p, "share.grant_revoked", rid, "", fmt.Sprintf("grant %d", grantID)),
	})
}

// RecordAccess audits one read of shared data. The audit is part of the
// read: when the event cannot be written the caller must not serve the
// data, and gets audit.ErrReadRefused (503) to say so.
func (s *Service) RecordAccess(ctx context.Context, p Principal, rid int64, version int, purpose, remote, detail string) error {
	return s.Audit.RecordRead(ctx, s.Log, audit.Event{ActorID: p.UserID, ActorName: p.Name, DepartmentID: p.DepartmentID, Action: "share.read",
		ResourceID: rid, Version: version, Purpose: purpose, Remote: remote, Detail: detail})
}
