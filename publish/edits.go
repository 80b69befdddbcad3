package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"opendata/auth"
	"opendata/catalog"
	"opendata/db"
	"opendata/errs"
	"opendata/workflow"
)

// Pending edit states.
const (
	EditPending  = "pending"
	EditApproved = "approved"
	EditRejected = "rejected"
)

// PendingEdit is an edit of a catalog entry that widens who reads its data
// (catalog.Widens): filed by one person, applied only when a second person
// with the approver's role approves it (issue 10 item 6).
type PendingEdit struct {
	ID           int64         `json:"id"`
	ResourceID   int64         `json:"resource_id"`
	Code         string        `json:"code,omitempty"`
	Name         string        `json:"name,omitempty"`
	DepartmentID int64         `json:"department_id,omitempty"`
	BaseRevision int           `json:"base_revision"`
	Entry        catalog.Entry `json:"entry"`
	Widens       []string      `json:"widens"`
	Status       string        `json:"status"`
	ProposedBy   string        `json:"proposed_by"`
	ProposedAt   time.Time     `json:"proposed_at"`
	DecidedBy    string        `json:"decided_by,omitempty"`
	DecidedAt    *time.Time    `json:"decided_at,omitempty"`
	Reason       string        `json:"reason,omitempty"`
	proposerID   int64
}

// Edit saves an edit of entry id: at once when it widens nothing (or the
// entry holds no data yet); otherwise it is filed for review and returned
// as a PendingEdit, with the audit event in the same transaction. Four eyes
// hold for everyone, the bureau included.
func (s *Service) Edit(ctx context.Context, actor auth.Actor, id int64, revision int, e catalog.Entry) (catalog.Resource, *PendingEdit, error) {
	r, err := s.Catalog.GetResource(ctx, id)
	if err != nil {
		return catalog.Resource{}, nil, err
	}
	if !actor.CanEditDepartment(r.DepartmentID) || !actor.CanEditDepartment(e.DepartmentID) {
		return catalog.Resource{}, nil, errs.Forbiddenf("err.catalog.own_dept_edit")
	}
	wide, err := s.Catalog.PendingWidening(ctx, id, e)
	if err != nil {
		return catalog.Resource{}, nil, err
	}
	if len(wide) == 0 {
		r, err := s.Catalog.UpdateResource(ctx, actor, id, revision, e)
		if err != nil {
			return r, nil, err
		}
		// A published entry's page and search document follow the edit.
		if err := s.Reindex(ctx, id); err != nil && s.Log != nil {
			s.Log.WarnContext(ctx, "reindex after edit", "resource", id, "err", err)
		}
		return r, nil, nil
	}
	e.Normalize()
	if err := e.Validate(); err != nil {
		return catalog.Resource{}, nil, err
	}
	if revision > 0 && revision != r.Revision {
		return catalog.Resource{}, nil, &catalog.StaleError{Current: r.Revision, Edited: revision}
	}
	body, _ := json.Marshal(e)
	now := s.Now.Now()
	p := &PendingEdit{ResourceID: id, Code: r.Code, Name: r.Name, DepartmentID: r.DepartmentID, BaseRevision: r.Revision, Entry: e,
		Widens: wide, Status: EditPending, ProposedBy: actor.Name, ProposedAt: now}
	err = s.DB.Tx(ctx, func(q db.Querier) error {
		// One pending widening per entry: a new one replaces the old.
		if _, err := q.Exec(ctx, "UPDATE pending_edits SET status = ?, decided_name = ?, decided_at = ?, reason = ? WHERE resource_id = ? AND status = ?",
			EditRejected, actor.Name, now, "replaced by a newer proposal", id, EditPending); err != nil {
			return err
		}
		pid, err := q.InsertID(ctx, `INSERT INTO pending_edits (resource_id, base_revision, entry, widens, status, proposed_by, proposed_name, proposed_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, r.Revision, string(body), strings.Join(wide, ","), EditPending, actor.ID, actor.Name, now)
		if err != nil {
			return err
		}
		p.ID = pid
		if s.Audit == nil {
			return nil
		}
		_, err = s.Audit.AppendTx(ctx, q, *stepEvent(actor, id, r.PublishedVersion, "edit_proposed", strings.Join(wide, ", ")))
		return err
	})
	if err != nil {
		return catalog.Resource{}, nil, err
	}
	return r, p, nil
}

// DecideEdit approves or rejects pending edit pid. The approver has the
// publication approver's role for the entry (CanApprove) and is not who
// proposed it; approving applies the edit (still on the revision it was
// made on: a later edit makes it stale) with the audit event in the same
// transaction.
func (s *Service) DecideEdit(ctx context.Context, actor auth.Actor, pid int64, approve bool, reason string) error {
	p, err := s.GetEdit(ctx, pid)
	if err != nil {
		return err
	}
	r, err := s.Catalog.GetResource(ctx, p.ResourceID)
	if err != nil {
		return err
	}
	if !s.CanApprove(actor, r) {
		return &errs.Public{Kind: errs.Forbidden, Key: "publish.err.approver_" + s.approver()}
	}
	if p.proposerID == actor.ID {
		return &errs.Public{Kind: errs.Forbidden, Code: "second_person", Key: "publish.err.second_person"}
	}
	to, action := EditRejected, "edit_rejected"
	if approve {
		to, action = EditApproved, "edit_approved"
	}
	err = workflow.Run(ctx, s.DB, s.Audit, workflow.Step{
		Move: db.Transition{Table: "pending_edits", Where: "id = ?", Args: []any{pid}, From: []string{EditPending}, To: to,
			Set: "decided_by = ?, decided_name = ?, decided_at = ?, reason = ?", SetArgs: []any{actor.ID, actor.Name, s.Now.Now(), strings.TrimSpace(reason)}},
		Then: func(ctx context.Context, q db.Querier) error {
			if !approve {
				return nil
			}
			return s.Catalog.ReviewedEdit(ctx, q, actor, p.ResourceID, p.BaseRevision, p.Entry)
		},
		Audit: stepEvent(actor, p.ResourceID, r.PublishedVersion, action, fmt.Sprintf("%s (%s)", strings.Join(p.Widens, ", "), p.ProposedBy)),
	})
	if err != nil || !approve {
		return err
	}
	return s.Reindex(ctx, p.ResourceID)
}

const editSelect = `SELECT p.id, p.resource_id, r.code, r.name, r.department_id, p.base_revision, p.entry, p.widens, p.status,
	p.proposed_by, p.proposed_name, p.proposed_at, p.decided_name, p.decided_at, p.reason
	FROM pending_edits p JOIN resources r ON r.id = p.resource_id`

// GetEdit is one pending (or decided) edit.
func (s *Service) GetEdit(ctx context.Context, pid int64) (PendingEdit, error) {
	out, err := s.edits(ctx, editSelect+" WHERE p.id = ?", pid)
	if err != nil {
		return PendingEdit{}, err
	}
	if len(out) == 0 {
		return PendingEdit{}, errs.NotFoundf("err.pending_edit_not_found", "id", pid)
	}
	return out[0], nil
}

// PendingEdits lists the edits awaiting review that actor may see: of
// their own department, or all for the bureau and the office (as Queue).
func (s *Service) PendingEdits(ctx context.Context, actor auth.Actor) ([]PendingEdit, error) {
	q, args := editSelect+" WHERE p.status = ?", []any{EditPending}
	if !actor.IsBureau() && actor.Role != auth.RoleOffice {
		q += " AND r.department_id = ?"
		args = append(args, actor.DepartmentID)
	}
	return s.edits(ctx, q+" ORDER BY p.id", args...)
}

// EditsOf lists resource rid's pending edits (newest first).
func (s *Service) EditsOf(ctx context.Context, rid int64) ([]PendingEdit, error) {
	return s.edits(ctx, editSelect+" WHERE p.resource_id = ? AND p.status = ? ORDER BY p.id DESC", rid, EditPending)
}

func (s *Service) edits(ctx context.Context, q string, args ...any) ([]PendingEdit, error) {
	return db.QueryAll(ctx, s.DB, q, func(r db.Scanner) (PendingEdit, error) {
		var p PendingEdit
		var body, wide string
		var at db.Time
		var decided db.Time
		if err := r.Scan(&p.ID, &p.ResourceID, &p.Code, &p.Name, &p.DepartmentID, &p.BaseRevision, &body, &wide, &p.Status,
			&p.proposerID, &p.ProposedBy, &at, &p.DecidedBy, &decided, &p.Reason); err != nil {
			return p, err
		}
		if err := json.Unmarshal([]byte(body), &p.Entry); err != nil {
			return p, fmt.Errorf("pending edit %d: %w", p.ID, err)
		}
		p.Widens = strings.Split(wide, ",")
		p.ProposedAt = at.Time
		if !decided.IsZero() {
			t := decided.Time
			p.DecidedAt = &t
		}
		return p, nil
	}, args...)
}
