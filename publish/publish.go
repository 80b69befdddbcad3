// Package publish carries a version from review to the open catalog:
// submitted → approved and published (or rejected with a reason), and the
// withdrawal of a published resource with a stated reason and a notice
// period announced on its page first. Every step is recorded, and the
// search index follows every change.
package publish

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"opendata/audit"
	"opendata/auth"
	"opendata/catalog"
	"opendata/db"
	"opendata/errs"
	"opendata/i18n"
	"opendata/search"
	"opendata/workflow"
)

// Version publication states.
const (
	Draft     = "draft"
	Submitted = "submitted"
	Published = "published"
	Rejected  = "rejected"
)

// Service runs the workflow.
type Service struct {
	DB      *db.DB
	Catalog *catalog.Store
	Index   search.Index
	Log     *slog.Logger
	// Approver is who approves: "dept_admin" (the providing department's
	// admin, or the bureau) or "bureau" (the bureau only).
	Approver string
	// MinNotice is the shortest withdrawal notice.
	MinNotice time.Duration
	Now       db.Clock
	// Audit, when set, receives every publication step.
	Audit *audit.Log
	// Missed, when set, is told the words of each search that found
	// nothing (see IsMiss).
	Missed func(term string)
	// Searcher, when set, runs Search's queries instead of Index (the
	// app's, which times them).
	Searcher func(context.Context, search.Query) (search.Result, error)
}

// stepEvent is the audit record of a publication step (appended in the
// step's transaction).
func stepEvent(actor auth.Actor, rid int64, n int, action, reason string) *audit.Event {
	return &audit.Event{ActorID: actor.ID, ActorName: actor.Name, DepartmentID: actor.DepartmentID,
		Action: "publication." + action, ResourceID: rid, Version: n, Detail: reason}
}

// versionMove is the conditional update of a version's publication state;
// the loser of a race is told the state it found (stateError).
func (s *Service) versionMove(rid int64, n int, to string, from ...string) db.Transition {
	return db.Transition{Table: "versions", Where: "resource_id = ? AND number = ? AND status = 'ready'", Args: []any{rid, n},
		Column: "pub_status", From: from, To: to, Refuse: stateError}
}

// Event is one recorded step.
type Event struct {
	Version int       `json:"version"`
	Action  string    `json:"action"`
	Actor   string    `json:"actor"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
}

func record(ctx context.Context, q db.Querier, rid int64, n int, action string, actor auth.Actor, reason string, at time.Time) error {
	var aid any
	if actor.ID != 0 {
		aid = actor.ID
	}
	_, err := q.Exec(ctx, "INSERT INTO publication_events (resource_id, version_number, action, actor_id, actor_name, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		rid, n, action, aid, actor.Name, reason, at)
	return err
}

// CanApprove reports whether actor approves publications of r.
func (s *Service) CanApprove(actor auth.Actor, r catalog.Resource) bool {
	if actor.IsBureau() {
		return true
	}
	return s.Approver != "bureau" && actor.Role == auth.RoleDeptAdmin && actor.DepartmentID == r.DepartmentID
}

// Submit asks for a version to be published.
func (s *Service) Submit(ctx context.Context, actor auth.Actor, rid int64, n int) error {
	r, err := s.Catalog.GetResource(ctx, rid)
	if err != nil {
		return err
	}
	if !actor.CanEditDepartment(r.DepartmentID) {
		return &errs.Public{Kind: errs.Forbidden, Key: "publish.err.not_provider"}
	}
	if r.RetiredAt != nil {
		return catalog.ErrRetired
	}
	if r.OpenType == catalog.OpenNone {
		return &errs.Public{Kind: errs.Conflict, Code: "not_open", Key: "publish.err.not_open"}
	}
	return workflow.Run(ctx, s.DB, s.Audit, workflow.Step{
		Move: s.versionMove(rid, n, Submitted, Draft, Rejected),
		Then: func(ctx context.Context, q db.Querier) error {
			return record(ctx, q, rid, n, "submitted", actor, "", s.Now.Now())
		},
		Audit: stepEvent(actor, rid, n, "submitted", ""),
	})
}

// Approve approves a submitted version and publishes it at once.
func (s *Service) Approve(ctx context.Context, actor auth.Actor, rid int64, n int) error {
	r, err := s.Catalog.GetResource(ctx, rid)
	if err != nil {
		return err
	}
	if !s.CanApprove(actor, r) {
		return &errs.Public{Kind: errs.Forbidden, Key: "publish.err.approver_" + s.approver()}
	}
	now := s.Now.Now()
	err = workflow.Run(ctx, s.DB, s.Audit, workflow.Step{
		Move: s.versionMove(rid, n, Published, Submitted),
		Then: func(ctx context.Context, q db.Querier) error {
			if err := SecondPerson(ctx, q, actor, rid, n); err != nil {
				return err
			}
			// A newer version replaces an older one on the public page; an older
			// one approved late does not.
			if _, err := q.Exec(ctx, "UPDATE resources SET published_version = ?, published_at = ? WHERE id = ? AND published_version < ?", n, now, rid, n); err != nil {
				return err
			}
			if err := record(ctx, q, rid, n, "approved", actor, "", now); err != nil {
				return err
			}
			return record(ctx, q, rid, n, "published", actor, "", now)
		},
		Audit: stepEvent(actor, rid, n, "published", ""),
	})
	if err != nil {
		return err
	}
	return s.Reindex(ctx, rid)
}

// SecondPerson is the four-eyes rule of publication, for everyone, the
// bureau included: whoever uploaded version n of rid or submitted it for
// review cannot approve it. It reads inside the approval's transaction, so
// a resubmission cannot slip between the check and the decision.
func SecondPerson(ctx context.Context, q db.Querier, actor auth.Actor, rid int64, n int) error {
	var uploader, submitter int64
	if err := q.QueryRow(ctx, "SELECT COALESCE(created_by, 0) FROM versions WHERE resource_id = ? AND number = ?", rid, n).Scan(&uploader); err != nil {
		return db.MapErr(err)
	}
	err := q.QueryRow(ctx, "SELECT COALESCE(actor_id, 0) FROM publication_events WHERE resource_id = ? AND version_number = ? AND action = 'submitted' ORDER BY id DESC LIMIT 1", rid, n).Scan(&submitter)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return db.MapErr(err)
	}
	if actor.ID == 0 || actor.ID == uploader || actor.ID == submitter {
		return &errs.Public{Kind: errs.Forbidden, Code: "second_person", Key: "publish.err.second_person"}
	}
	return nil
}

// stateError refuses a step the version's state does not allow (someone
// else decided first, or the page was old).
func stateError(st string) error {
	return &errs.Public{Kind: errs.Conflict, Code: "version_state", Key: "publish.err.state_" + st}
}

func (s *Service) approver() string {
	if s.Approver == "bureau" {
		return "bureau"
	}
	return "dept_admin"
}

// Reject sends a submitted version back with a reason.
func (s *Service) Reject(ctx context.Context, actor auth.Actor, rid int64, n int, reason string) error {
	r, err := s.Catalog.GetResource(ctx, rid)
	if err != nil {
		return err
	}
	if !s.CanApprove(actor, r) {
		return &errs.Public{Kind: errs.Forbidden, Key: "publish.err.approver_" + s.approver()}
	}
	if utf8.RuneCountInString(strings.TrimSpace(reason)) < 2 {
		return errs.FieldErrors{"reason": "publish.err.reason"}
	}
	reason = strings.TrimSpace(reason)
	return workflow.Run(ctx, s.DB, s.Audit, workflow.Step{
		Move: s.versionMove(rid, n, Rejected, Submitted),
		Then: func(ctx context.Context, q db.Querier) error {
			return record(ctx, q, rid, n, "rejected", actor, reason, s.Now.Now())
		},
		Audit: stepEvent(actor, rid, n, "rejected", reason),
	})
}

// Withdraw announces that a published resource leaves the open catalog
// after noticeDays (at least MinNotice), for a stated reason.
func (s *Service) Withdraw(ctx context.Context, actor auth.Actor, rid int64, reason string, noticeDays int) error {
	r, err := s.Catalog.GetResource(ctx, rid)
	if err != nil {
		return err
	}
	if !CanWithdraw(actor, r) {
		return errs.Forbiddenf("err.withdraw.who")
	}
	if r.PublishedVersion == 0 {
		return errs.Conflictf("err.not_published", "code", r.Code)
	}
	fe := errs.FieldErrors{}
	if utf8.RuneCountInString(strings.TrimSpace(reason)) < 4 {
		fe["reason"] = "err.field.withdraw_reason"
	}
	notice := time.Duration(noticeDays) * 24 * time.Hour
	if notice < s.MinNotice {
		fe["notice_days"] = i18n.Msg("err.field.notice_days", "days", int(s.MinNotice.Hours()/24))
	}
	if err := fe.Err(); err != nil {
		return err
	}
	at := s.Now.Now().Add(notice)
	reason = strings.TrimSpace(reason)
	err = workflow.Run(ctx, s.DB, s.Audit, workflow.Step{
		Move: db.Transition{Table: "resources", Where: "id = ?", Args: []any{rid}, Column: db.NoStatus, Guard: "published_version > 0 AND withdraw_at IS NULL",
			Set: "withdraw_reason = ?, withdraw_at = ?", SetArgs: []any{reason, at}, Refuse: withdrawalRefused},
		Then: func(ctx context.Context, q db.Querier) error {
			return record(ctx, q, rid, r.PublishedVersion, "withdrawal_announced", actor, fmt.Sprintf("%s (effective %s)", reason, at.Format("2006-01-02")), s.Now.Now())
		},
		Audit: stepEvent(actor, rid, r.PublishedVersion, "withdrawal_announced", reason),
	})
	if err != nil {
		return err
	}
	return s.Reindex(ctx, rid)
}

// withdrawalRefused answers a withdrawal step that another came before.
func withdrawalRefused(string) error {
	return &errs.Public{Kind: errs.Conflict, Code: "state_changed", Key: "publish.err.withdrawal_moved"}
}

// CancelWithdrawal keeps a resource published after all.
func (s *Service) CancelWithdrawal(ctx context.Context, actor auth.Actor, rid int64) error {
	r, err := s.Catalog.GetResource(ctx, rid)
	if err != nil {
		return err
	}
	if !CanWithdraw(actor, r) {
		return errs.Forbiddenf("err.not_allowed")
	}
	if r.WithdrawAt == nil {
		return errs.Conflictf("err.withdraw.none")
	}
	err = workflow.Run(ctx, s.DB, s.Audit, workflow.Step{
		Move: db.Transition{Table: "resources", Where: "id = ?", Args: []any{rid}, Column: db.NoStatus, Guard: "withdraw_at IS NOT NULL",
			Set: "withdraw_reason = '', withdraw_at = NULL", Refuse: withdrawalRefused},
		Then: func(ctx context.Context, q db.Querier) error {
			return record(ctx, q, rid, r.PublishedVersion, "withdrawal_cancelled", actor, "", s.Now.Now())
		},
		Audit: stepEvent(actor, rid, r.PublishedVersion, "withdrawal_cancelled", ""),
	})
	if err != nil {
		return err
	}
	return s.Reindex(ctx, rid)
}

// Events lists a resource's publication history, oldest first.
func (s *Service) Events(ctx context.Context, rid int64) ([]Event, error) {
	return db.QueryAll(ctx, s.DB, "SELECT version_number, action, actor_name, reason, at FROM publication_events WHERE resource_id = ? ORDER BY at, id", func(r db.Scanner) (Event, error) {
		var e Event
		return e, r.Scan(&e.Version, &e.Action, &e.Actor, &e.Reason, &e.At)
	}, rid)
}

// QueueItem is a version awaiting review.
type QueueItem struct {
	ResourceID   int64     `json:"resource_id"`
	Code         string    `json:"code"`
	Name         string    `json:"name"`
	DepartmentID int64     `json:"department_id"`
	Version      int       `json:"version"`
	Rows         int64     `json:"rows"`
	Quality      float64   `json:"quality_score"`
	SubmittedBy  string    `json:"submitted_by"`
	SubmittedAt  time.Time `json:"submitted_at"`
}

// Queue lists submitted versions; reviewers see those they may approve,
// department staff their own department's.
func (s *Service) Queue(ctx context.Context, actor auth.Actor) ([]QueueItem, error) {
	q := `SELECT r.id, r.code, r.name, r.department_id, v.number, v.rows_stored, v.quality_score,
		COALESCE((SELECT e.actor_name FROM publication_events e WHERE e.resource_id = r.id AND e.version_number = v.number AND e.action = 'submitted' ORDER BY e.id DESC LIMIT 1), ''),
		COALESCE((SELECT MAX(e.at) FROM publication_events e WHERE e.resource_id = r.id AND e.version_number = v.number AND e.action = 'submitted'), v.created_at)
		FROM versions v JOIN resources r ON r.id = v.resource_id WHERE v.pub_status = ? AND v.status = 'ready'`
	args := []any{Submitted}
	if !actor.IsBureau() && actor.Role != auth.RoleOffice {
		q += " AND r.department_id = ?"
		args = append(args, actor.DepartmentID)
	}
	return db.QueryAll(ctx, s.DB, q+" ORDER BY v.created_at", func(r db.Scanner) (QueueItem, error) {
		var it QueueItem
		var at db.Time
		err := r.Scan(&it.ResourceID, &it.Code, &it.Name, &it.DepartmentID, &it.Version, &it.Rows, &it.Quality, &it.SubmittedBy, &at)
		it.SubmittedAt = at.Time
		return it, err
	}, args...)
}

// VersionStates maps a resource's version numbers to their publication state.
func (s *Service) VersionStates(ctx context.Context, rid int64) (map[int]string, error) {
	return db.QueryMap[int, string](ctx, s.DB, "SELECT number, pub_status FROM versions WHERE resource_id = ? AND status = 'ready'", rid)
}
