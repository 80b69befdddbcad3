package sharing

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"opendata/auth"
	"opendata/catalog"
	"opendata/db"
	"opendata/errs"
	"opendata/notify"
	"opendata/workflow"
)

// DisputeDays is the provider's time to verify a reported error.
const DisputeDays = 5

// Dispute is a reported doubtful or wrong value (疑义/错误数据校核, A-20).
type Dispute struct {
	ID             int64      `json:"id"`
	ResourceID     int64      `json:"resource_id"`
	Version        int        `json:"version"`
	Reporter       string     `json:"reporter"`
	RowKey         string     `json:"row_key"`
	Column         string     `json:"column"`
	Problem        string     `json:"problem"`
	Evidence       string     `json:"evidence,omitempty"`
	Status         string     `json:"status"` // open, confirmed, rejected
	Answer         string     `json:"answer,omitempty"`
	FixedInVersion int        `json:"fixed_in_version,omitempty"`
	Deadline       time.Time  `json:"deadline"`
	CreatedAt      time.Time  `json:"created_at"`
	AnsweredAt     *time.Time `json:"answered_at,omitempty"`
	// ReporterDepartment is the reporting department (0: none); who sees
	// the dispute depends on it (CanSeeDispute).
	ReporterDepartment int64 `json:"-"`
}

// NewDispute is what a user reports.
type NewDispute struct {
	Version  int    `json:"version"`
	RowKey   string `json:"row_key"`
	Column   string `json:"column"`
	Problem  string `json:"problem"`
	Evidence string `json:"evidence"`
}

// ReportDispute files a dispute on a version; the provider is told and the
// bureau copied.
func (s *Service) ReportDispute(ctx context.Context, p Principal, r catalog.Resource, n NewDispute) (Dispute, error) {
	may, err := s.CanReportDispute(ctx, p, r)
	if err != nil {
		return Dispute{}, err
	}
	if !may {
		// Data the reporter cannot read is not theirs to dispute; saying
		// NotFound does not confirm what it holds.
		return Dispute{}, errs.NotFoundf("err.resource_not_found", "id", r.ID)
	}
	fe := errs.FieldErrors{}
	if strings.TrimSpace(n.RowKey) == "" {
		fe["row_key"] = "which record (its key or row number)"
	}
	if _, ok := r.ItemByName(n.Column); !ok {
		fe["column"] = "a data item of the resource"
	}
	if utf8.RuneCountInString(strings.TrimSpace(n.Problem)) < 4 {
		fe["problem"] = "say what is wrong"
	}
	if len(n.Evidence) > 4000 || len(n.Problem) > 2000 {
		fe["evidence"] = "at most 4000 characters"
	}
	if _, err := s.Catalog.GetVersion(ctx, r.ID, n.Version); err != nil {
		fe["version"] = "no such version"
	}
	if err := fe.Err(); err != nil {
		return Dispute{}, err
	}
	now := s.now()
	deadline := s.Calendar.AddWorkingDays(now, DisputeDays).UTC()
	var dept any
	if p.DepartmentID != 0 {
		dept = p.DepartmentID
	}
	var id int64
	err = s.DB.Tx(ctx, func(q db.Querier) error {
		var err error
		id, err = q.InsertID(ctx, `INSERT INTO disputes (resource_id, version_number, reporter_department, reporter_name, row_key, column_name, problem, evidence, status, deadline, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)`, r.ID, n.Version, dept, p.Name, strings.TrimSpace(n.RowKey), n.Column, strings.TrimSpace(n.Problem), strings.TrimSpace(n.Evidence), deadline, now)
		if err != nil {
			return err
		}
		return s.auditTx(ctx, q, auditEvent(p, "dispute.reported", r.ID, "", fmt.Sprintf("dispute %d on v%d, %s / %s", id, n.Version, n.RowKey, n.Column)))
	})
	if err != nil {
		return Dispute{}, err
	}
	s.Notify.Send(ctx, "dispute_new", notify.Params("id", id, "name", r.Name, "reporter", p.Name, "version", n.Version,
		"deadline", deadline.In(s.Calendar.Location()).Format("2006-01-02")), fmt.Sprintf("/datasets/%d", r.ID),
		notify.To{DepartmentID: r.DepartmentID}, notify.To{Role: string(auth.RoleBureauAdmin)})
	return s.GetDispute(ctx, id)
}

// GetDispute returns one dispute.
func (s *Service) GetDispute(ctx context.Context, id int64) (Dispute, error) {
	var d Dispute
	err := s.DB.QueryRow(ctx, `SELECT id, resource_id, version_number, reporter_name, row_key, column_name, problem, evidence, status, answer, fixed_in_version,
		deadline, created_at, answered_at, COALESCE(reporter_department, 0) FROM disputes WHERE id = ?`, id).Scan(&d.ID, &d.ResourceID, &d.Version, &d.Reporter, &d.RowKey, &d.Column,
		&d.Problem, &d.Evidence, &d.Status, &d.Answer, &d.FixedInVersion, &d.Deadline, &d.CreatedAt, &d.AnsweredAt, &d.ReporterDepartment)
	if err != nil {
		return d, fmt.Errorf("dispute %d: %w", id, db.MapErr(err))
	}
	return d, nil
}

// DisputesFor lists what p sees of resource r's disputes, newest first
// (VisibleDisputes); p nil is the public.
func (s *Service) DisputesFor(ctx context.Context, p *Principal, r catalog.Resource) ([]Dispute, error) {
	ds, err := s.Disputes(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	return VisibleDisputes(p, r, r.IsPublic(s.now()), ds), nil
}

// CanReportDispute reports whether p may file a dispute on r: only on data
// p can read — the provider's own, data shared with p's department
// (Decide), or data the open catalog offers to everyone.
func (s *Service) CanReportDispute(ctx context.Context, p Principal, r catalog.Resource) (bool, error) {
	if r.RetiredAt != nil {
		return false, nil
	}
	if r.IsPublic(s.now()) && r.OpenType == catalog.OpenUnconditional {
		return true, nil
	}
	d, err := s.Decide(ctx, p, r)
	return d.Allowed, err
}

// Disputes lists a resource's disputes, newest first.
func (s *Service) Disputes(ctx context.Context, rid int64) ([]Dispute, error) {
	return loadAll(ctx, s, s.GetDispute, "SELECT id FROM disputes WHERE resource_id = ? ORDER BY id DESC", rid)
}

// AnswerDispute records the provider's verification: confirmed (to be, or
// already, fixed in a later version) or rejected with a reason.
func (s *Service) AnswerDispute(ctx context.Context, p Principal, id int64, confirmed bool, answer string, fixedIn int) (Dispute, error) {
	d, err := s.GetDispute(ctx, id)
	if err != nil {
		return d, err
	}
	r, err := s.Catalog.GetResource(ctx, d.ResourceID)
	if err != nil {
		return d, err
	}
	if p.System || p.DepartmentID != r.DepartmentID {
		return d, errs.Forbiddenf("err.dispute.who")
	}
	if d.Status != "open" {
		return d, disputeMoved(id)("")
	}
	if utf8.RuneCountInString(strings.TrimSpace(answer)) < 2 {
		return d, errs.FieldErrors{"answer": "say what was found"}
	}
	status := "rejected"
	if confirmed {
		status = "confirmed"
		if fixedIn != 0 && fixedIn <= d.Version {
			return d, errs.FieldErrors{"fixed_in_version": "a version after the disputed one"}
		}
	} else {
		fixedIn = 0
	}
	answer = strings.TrimSpace(answer)
	err = workflow.Run(ctx, s.DB, s.Audit, workflow.Step{
		Move: db.Transition{Table: "disputes", Where: "id = ?", Args: []any{id}, From: []string{"open"}, To: status,
			Set: "answer = ?, fixed_in_version = ?, answered_at = ?", SetArgs: []any{answer, fixedIn, s.now()},
			Refuse: disputeMoved(id)},
		Audit: auditEvent(p, "dispute."+status, r.ID, "", fmt.Sprintf("dispute %d: %s", id, answer)),
	})
	if err != nil {
		return d, err
	}
	var reporterDept int64
	s.DB.QueryRow(ctx, "SELECT COALESCE(reporter_department, 0) FROM disputes WHERE id = ?", id).Scan(&reporterDept)
	to := []notify.To{{Role: string(auth.RoleBureauAdmin)}}
	if reporterDept != 0 {
		to = append(to, notify.To{DepartmentID: reporterDept})
	}
	s.Notify.Send(ctx, "dispute_answered", notify.Params("id", id, "name", r.Name, "status", status, "answer", answer), fmt.Sprintf("/datasets/%d", r.ID), to...)
	return s.GetDispute(ctx, id)
}

// disputeMoved words the loser's 409: the dispute was answered first.
func disputeMoved(id int64) func(string) error {
	return func(string) error {
		return &errs.Public{Kind: errs.Conflict, Code: "state_changed", Key: "share.err.dispute_moved", Params: map[string]string{"id": fmt.Sprint(id)}}
	}
}

// StopSharing files the provider's decision to stop sharing a resource
// with the bureau, with reasons and a notice period; grant holders
// are told. Access continues until it takes effect.
func (s *Service) StopSharing(ctx context.Context, p Principal, rid int64, reason string, noticeDays, minNotice int) (time.Time, error) {
	r, err := s.Catalog.GetResource(ctx, rid)
	if err != nil {
		return time.Time{}, err
	}
	if p.System || !(p.Role == auth.RoleBureauAdmin || (p.Role == auth.RoleDeptAdmin && p.DepartmentID == r.DepartmentID)) {
		return time.Time{}, errs.Forbiddenf("err.dispute.stop_who")
	}
	fe := errs.FieldErrors{}
	if utf8.RuneCountInString(strings.TrimSpace(reason)) < 4 {
		fe["reason"] = "state why sharing stops (A-19)"
	}
	if noticeDays < minNotice {
		fe["notice_days"] = fmt.Sprintf("at least %d days of notice", minNotice)
	}
	if r.ShareType == catalog.ShareNone {
		fe["share_type"] = "the resource is not shared"
	}
	if err := fe.Err(); err != nil {
		return time.Time{}, err
	}
	at := s.now().Add(time.Duration(noticeDays) * 24 * time.Hour)
	err = s.DB.Tx(ctx, func(q db.Querier) error {
		q.Exec(ctx, "DELETE FROM share_stops WHERE resource_id = ?", rid)
		if _, err := q.Exec(ctx, "INSERT INTO share_stops (resource_id, reason, effective_at, filed_by, filed_at) VALUES (?, ?, ?, ?, ?)",
			rid, strings.TrimSpace(reason), at, p.Name, s.now()); err != nil {
			return err
		}
		return s.auditTx(ctx, q, auditEvent(p, "share.stop_filed", rid, "", fmt.Sprintf("%s (effective %s)", strings.TrimSpace(reason), at.Format("2006-01-02"))))
	})
	if err != nil {
		return at, err
	}
	to := []notify.To{{Role: string(auth.RoleBureauAdmin)}}
	rows, err := s.DB.Query(ctx, "SELECT DISTINCT department_id FROM share_grants WHERE resource_id = ? AND revoked_at IS NULL AND expires_at > ?", rid, s.now())
	if err == nil {
		for rows.Next() {
			var d int64
			rows.Scan(&d)
			to = append(to, notify.To{DepartmentID: d})
		}
		rows.Close()
	}
	s.Notify.Send(ctx, "share_stop", notify.Params("code", r.Code, "name", r.Name, "date", at.In(s.Calendar.Location()).Format("2006-01-02"), "reason", strings.TrimSpace(reason)), "", to...)
	return at, nil
}

// stoppedAt returns when sharing of rid stops (zero when not filed).
func (s *Service) stoppedAt(ctx context.Context, rid int64) time.Time {
	var at time.Time
	s.DB.QueryRow(ctx, "SELECT effective_at FROM share_stops WHERE resource_id = ?", rid).Scan(&at)
	return at
}

// RemindDisputes tells providers of open disputes due within one working
// day, and the provider and the bureau of disputes past their deadline
// (each once, claimed across instances); it returns how many notices went
// out.
func (s *Service) RemindDisputes(ctx context.Context) (int, error) {
	return workflow.Nudge(ctx, s.DB, s.Calendar, s.Notify, s.now(), disputeClock{s})
}

// disputeClock is the disputes' deadline (workflow.Clock).
type disputeClock struct{ s *Service }

func (disputeClock) Table() string { return "disputes" }

func (c disputeClock) Open(ctx context.Context) ([]workflow.Item, error) {
	rows, err := c.s.DB.Query(ctx, `SELECT d.id, d.deadline, d.reminded_at IS NOT NULL, r.name, r.department_id
		FROM disputes d JOIN resources r ON r.id = d.resource_id WHERE d.status = 'open' AND d.overdue_at IS NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []workflow.Item
	for rows.Next() {
		var it workflow.Item
		var name string
		var dept int64
		if err := rows.Scan(&it.ID, &it.Deadline, &it.Reminded, &name, &dept); err != nil {
			return nil, err
		}
		params := notify.Params("id", it.ID, "name", name, "deadline", it.Deadline.In(c.s.Calendar.Location()).Format("2006-01-02"))
		link := fmt.Sprintf("/api/v1/share/resources/%d/disputes", it.ID)
		it.Remind = &workflow.Notice{Kind: "dispute_due", Params: params, Link: link, To: []notify.To{{DepartmentID: dept}}}
		it.Overdue = &workflow.Notice{Kind: "dispute_overdue", Params: params, Link: link, To: []notify.To{{DepartmentID: dept}, {Role: string(auth.RoleBureauAdmin)}}}
		out = append(out, it)
	}
	return out, rows.Err()
}
