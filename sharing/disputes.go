package sharing

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"opendata/auth"
	"opendata/calendar"
	"opendata/catalog"
	"opendata/db"
	"opendata/errs"
	"opendata/i18n"
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
	// Contact is a citizen reporter's phone or e-mail (empty when staff
	// reported): only the providing department sees it (CanSeeDisputeContact).
	Contact string `json:"reporter_contact,omitempty"`
	// Left is the working days left to answer an open dispute (DisputeQueue).
	Left *calendar.Left `json:"time_left,omitempty"`
}

// ByCitizen reports whether a member of the public, not signed in,
// reported d (staff report with their account and leave no contact).
func (d Dispute) ByCitizen() bool { return d.Contact != "" }

// Citizen is a member of the public reporting a dispute on the portal
// without an account: the providing department answers them at Contact.
type Citizen struct {
	Name    string
	Contact string
}

// Limits of what a dispute's fields hold (the web form keeps them in its
// small body, see the server's authRoutes).
const (
	MaxProblemRunes  = 1000
	MaxEvidenceRunes = 2000
	MaxRowKeyRunes   = 200
	MaxNameRunes     = 50
	MaxContactRunes  = 100
)

// CheckDispute validates what a reporter says of resource r, each
// problem a message key of the catalog by field.
func CheckDispute(r catalog.Resource, n NewDispute) errs.FieldErrors {
	fe := errs.FieldErrors{}
	if k := utf8.RuneCountInString(strings.TrimSpace(n.RowKey)); k == 0 || k > MaxRowKeyRunes {
		fe["row_key"] = "dispute.err.row_key"
	}
	if _, ok := r.ItemByName(n.Column); !ok {
		fe["column"] = "dispute.err.column"
	}
	switch k := utf8.RuneCountInString(strings.TrimSpace(n.Problem)); {
	case k < 4:
		fe["problem"] = "dispute.err.problem"
	case k > MaxProblemRunes:
		fe["problem"] = "dispute.err.problem_long"
	}
	if utf8.RuneCountInString(n.Evidence) > MaxEvidenceRunes {
		fe["evidence"] = "dispute.err.evidence_long"
	}
	return fe
}

// CheckCitizen validates a citizen reporter: a name and a contact the
// provider can answer at (ValidContact).
func CheckCitizen(c Citizen) errs.FieldErrors {
	fe := errs.FieldErrors{}
	if k := utf8.RuneCountInString(strings.TrimSpace(c.Name)); k == 0 || k > MaxNameRunes {
		fe["name"] = "dispute.err.name"
	}
	if !ValidContact(c.Contact) {
		fe["contact"] = "dispute.err.contact"
	}
	return fe
}

// ValidContact reports whether s is an e-mail address or a telephone
// number (7 to 15 digits, spaces, dashes, parentheses and a leading +
// allowed).
func ValidContact(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || utf8.RuneCountInString(s) > MaxContactRunes {
		return false
	}
	if local, domain, ok := strings.Cut(s, "@"); ok {
		return local != "" && !strings.ContainsAny(s, " \t<>,;") && !strings.Contains(domain, "@") &&
			strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
	}
	digits := 0
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == ' ' || c == '-' || c == '(' || c == ')':
		case c == '+' && i == 0:
		default:
			return false
		}
	}
	return digits >= 7 && digits <= 15
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
	return s.fileDispute(ctx, p, "", r, n, CheckDispute(r, n))
}

// ReportCitizenDispute files a dispute from a member of the public on a
// dataset the portal shows (CanCitizenReportDispute); their contact is
// kept for the providing department alone.
func (s *Service) ReportCitizenDispute(ctx context.Context, c Citizen, r catalog.Resource, n NewDispute) (Dispute, error) {
	if !CanCitizenReportDispute(r, s.Now.Now()) {
		return Dispute{}, errs.NotFoundf("err.resource_not_found", "id", r.ID)
	}
	fe := CheckDispute(r, n)
	for k, v := range CheckCitizen(c) {
		fe[k] = v
	}
	p := Principal{Name: strings.TrimSpace(c.Name)}
	return s.fileDispute(ctx, p, strings.TrimSpace(c.Contact), r, n, fe)
}

// fileDispute stores a checked dispute (fe: what the checks found), audits
// it and tells the provider, the bureau copied.
func (s *Service) fileDispute(ctx context.Context, p Principal, contact string, r catalog.Resource, n NewDispute, fe errs.FieldErrors) (Dispute, error) {
	if _, err := s.Catalog.GetVersion(ctx, r.ID, n.Version); err != nil {
		fe["version"] = "dispute.err.version"
	}
	if err := fe.Err(); err != nil {
		return Dispute{}, err
	}
	now := s.Now.Now()
	deadline := s.Calendar.AddWorkingDays(now, DisputeDays).UTC()
	var dept any
	if p.DepartmentID != 0 {
		dept = p.DepartmentID
	}
	var id int64
	err := s.DB.Tx(ctx, func(q db.Querier) error {
		var err error
		id, err = q.InsertID(ctx, `INSERT INTO disputes (resource_id, version_number, reporter_department, reporter_name, reporter_contact, row_key, column_name, problem, evidence, status, deadline, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)`, r.ID, n.Version, dept, p.Name, contact, strings.TrimSpace(n.RowKey), n.Column, strings.TrimSpace(n.Problem), strings.TrimSpace(n.Evidence), deadline, now)
		if err != nil {
			return err
		}
		// The audit names the reporter, never a citizen's contact.
		return s.auditTx(ctx, q, auditEvent(p, "dispute.reported", r.ID, "", fmt.Sprintf("dispute %d on v%d, %s / %s", id, n.Version, n.RowKey, n.Column)))
	})
	if err != nil {
		return Dispute{}, err
	}
	s.Notify.Send(ctx, "dispute_new", notify.Params("id", id, "name", r.Name, "reporter", p.Name, "version", n.Version,
		"deadline", deadline.In(s.Calendar.Location()).Format("2006-01-02")), DisputeLink(id),
		notify.To{DepartmentID: r.DepartmentID}, notify.To{Role: string(auth.RoleBureauAdmin)})
	return s.GetDispute(ctx, id)
}

// GetDispute returns one dispute.
func (s *Service) GetDispute(ctx context.Context, id int64) (Dispute, error) {
	var d Dispute
	err := s.DB.QueryRow(ctx, `SELECT id, resource_id, version_number, reporter_name, row_key, column_name, problem, evidence, status, answer, fixed_in_version,
		deadline, created_at, answered_at, COALESCE(reporter_department, 0), reporter_contact FROM disputes WHERE id = ?`, id).Scan(&d.ID, &d.ResourceID, &d.Version, &d.Reporter, &d.RowKey, &d.Column,
		&d.Problem, &d.Evidence, &d.Status, &d.Answer, &d.FixedInVersion, &d.Deadline, &d.CreatedAt, &d.AnsweredAt, &d.ReporterDepartment, &d.Contact)
	if err != nil {
		return d, fmt.Errorf("dispute %d: %w", id, db.MapErr(err))
	}
	return d, nil
}

// CheckAnswer validates a provider's answer to d: what was found, and a
// version that fixes it later than the disputed one (when confirmed).
func CheckAnswer(d Dispute, confirmed bool, answer string, fixedIn int) errs.FieldErrors {
	fe := errs.FieldErrors{}
	switch k := utf8.RuneCountInString(strings.TrimSpace(answer)); {
	case k < 2:
		fe["answer"] = "dispute.err.answer"
	case k > MaxProblemRunes:
		fe["answer"] = "dispute.err.answer_long"
	}
	if confirmed && (fixedIn < 0 || (fixedIn != 0 && fixedIn <= d.Version)) {
		fe["fixed_in_version"] = "dispute.err.fixed_in"
	}
	return fe
}

// DisputesFor lists what p sees of resource r's disputes, newest first
// (VisibleDisputes); p nil is the public.
func (s *Service) DisputesFor(ctx context.Context, p *Principal, r catalog.Resource) ([]Dispute, error) {
	ds, err := s.Disputes(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	return VisibleDisputes(p, r, r.IsPublic(s.Now.Now()), ds), nil
}

// CanReportDispute reports whether p may file a dispute on r: only on data
// p can read — the provider's own, data shared with p's department
// (Decide), or data the open catalog offers to everyone.
func (s *Service) CanReportDispute(ctx context.Context, p Principal, r catalog.Resource) (bool, error) {
	if r.RetiredAt != nil {
		return false, nil
	}
	if r.IsPublic(s.Now.Now()) && r.OpenType == catalog.OpenUnconditional {
		return true, nil
	}
	d, err := s.Decide(ctx, p, r)
	return d.Allowed, err
}

// DisputeQueue is the disputes p's department must answer (on its
// resources), open ones first by deadline, each with its resource and the
// working days left; the bureau and the office, who supervise, see every
// department's. A citizen's contact is kept only where CanSeeDisputeContact.
func (s *Service) DisputeQueue(ctx context.Context, p Principal) ([]QueuedDispute, error) {
	if p.System || (p.DepartmentID == 0 && !supervises(p)) {
		return []QueuedDispute{}, nil
	}
	where, args := "r.department_id = ?", []any{p.DepartmentID}
	if supervises(p) {
		where, args = "1 = 1", nil
	}
	ds, err := loadAll(ctx, s, s.GetDispute, `SELECT d.id FROM disputes d JOIN resources r ON r.id = d.resource_id WHERE `+where+`
		ORDER BY CASE WHEN d.status = 'open' THEN 0 ELSE 1 END, d.deadline, d.id DESC`, args...)
	if err != nil {
		return nil, err
	}
	out := []QueuedDispute{}
	res := map[int64]catalog.Resource{}
	for _, d := range ds {
		r, ok := res[d.ResourceID]
		if !ok {
			if r, err = s.Catalog.GetResource(ctx, d.ResourceID); err != nil {
				return nil, err
			}
			res[d.ResourceID] = r
		}
		if !CanSeeDispute(p, d, r) {
			continue
		}
		if !CanSeeDisputeContact(p, d, r) {
			d.Contact = ""
		}
		if d.Status == "open" {
			l := s.Calendar.TimeLeft(s.Now.Now(), d.Deadline)
			d.Left = &l
		}
		out = append(out, QueuedDispute{Dispute: d, Resource: r, CanAnswer: d.Status == "open" && CanAnswerDispute(p, r)})
	}
	return out, nil
}

// QueuedDispute is one card of the provider's dispute queue.
type QueuedDispute struct {
	Dispute   Dispute
	Resource  catalog.Resource
	CanAnswer bool
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
	if !CanAnswerDispute(p, r) {
		return d, errs.Forbiddenf("err.dispute.who")
	}
	if d.Status != "open" {
		return d, disputeMoved(id)("")
	}
	if fe := CheckAnswer(d, confirmed, answer, fixedIn); len(fe) > 0 {
		return d, fe
	}
	status := "rejected"
	if confirmed {
		status = "confirmed"
	} else {
		fixedIn = 0
	}
	answer = strings.TrimSpace(answer)
	err = workflow.Run(ctx, s.DB, s.Audit, workflow.Step{
		Move: db.Transition{Table: "disputes", Where: "id = ?", Args: []any{id}, From: []string{"open"}, To: status,
			Set: "answer = ?, fixed_in_version = ?, answered_at = ?", SetArgs: []any{answer, fixedIn, s.Now.Now()},
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
	s.Notify.Send(ctx, "dispute_answered", notify.Params("id", id, "name", r.Name, "status", "dispute."+status, "answer", answer), fmt.Sprintf("/datasets/%d", r.ID), to...)
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
		fe["reason"] = "err.field.stop_reason"
	}
	if noticeDays < minNotice {
		fe["notice_days"] = i18n.Msg("err.field.notice_days", "days", minNotice)
	}
	if r.ShareType == catalog.ShareNone {
		fe["share_type"] = "err.field.not_shared"
	}
	if err := fe.Err(); err != nil {
		return time.Time{}, err
	}
	at := s.Now.Now().Add(time.Duration(noticeDays) * 24 * time.Hour)
	err = s.DB.Tx(ctx, func(q db.Querier) error {
		q.Exec(ctx, "DELETE FROM share_stops WHERE resource_id = ?", rid)
		if _, err := q.Exec(ctx, "INSERT INTO share_stops (resource_id, reason, effective_at, filed_by, filed_at) VALUES (?, ?, ?, ?, ?)",
			rid, strings.TrimSpace(reason), at, p.Name, s.Now.Now()); err != nil {
			return err
		}
		return s.auditTx(ctx, q, auditEvent(p, "share.stop_filed", rid, "", fmt.Sprintf("%s (effective %s)", strings.TrimSpace(reason), at.Format("2006-01-02"))))
	})
	if err != nil {
		return at, err
	}
	to := []notify.To{{Role: string(auth.RoleBureauAdmin)}}
	rows, err := s.DB.Query(ctx, "SELECT DISTINCT department_id FROM share_grants WHERE resource_id = ? AND revoked_at IS NULL AND expires_at > ?", rid, s.Now.Now())
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
	return workflow.Nudge(ctx, s.DB, s.Calendar, s.Notify, s.Now.Now(), disputeClock{s})
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
		link := DisputeLink(it.ID)
		it.Remind = &workflow.Notice{Kind: "dispute_due", Params: params, Link: link, To: []notify.To{{DepartmentID: dept}}}
		it.Overdue = &workflow.Notice{Kind: "dispute_overdue", Params: params, Link: link, To: []notify.To{{DepartmentID: dept}, {Role: string(auth.RoleBureauAdmin)}}}
		out = append(out, it)
	}
	return out, rows.Err()
}
