// Package jobs is the background job queue: one table in the metadata
// database, claimed atomically so several server instances can share it.
//
// A claimed job carries a claim token. Every write its worker makes — the
// heartbeat, progress, the outcome — is a conditional update on that token
// whose rows-affected decides, so once the janitor has given a silent job to
// another worker, the first can neither update nor finish it. A job that is
// started MaxAttempts times without finishing (its worker died each time, as
// with a file that takes the process down) is marked failed, not requeued
// for ever.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"opendata/db"
	"opendata/errs"
)

// Statuses.
const (
	Queued    = "queued"
	Running   = "running"
	Succeeded = "succeeded"
	Failed    = "failed"
	Cancelled = "cancelled"
)

// ErrorAttemptsExhausted is the error code (a message key) of a job given
// up by the janitor; its parameter n is the number of attempts.
const ErrorAttemptsExhausted = "job.error.attempts_exhausted"

// ErrLost means the caller no longer holds the job: the janitor requeued it
// (its heartbeat went stale) and another worker may have it now.
var ErrLost = fmt.Errorf("%w: the job is no longer held by this worker", errs.Conflict)

// Job is one unit of background work.
type Job struct {
	ID            string          `json:"id"`
	Kind          string          `json:"kind"`
	Status        string          `json:"status"`
	ResourceID    int64           `json:"resource_id,omitempty"`
	ActorID       int64           `json:"-"`
	Params        json.RawMessage `json:"-"`
	Phase         string          `json:"phase"`
	ProgressRows  int64           `json:"progress_rows"`
	ProgressBytes int64           `json:"progress_bytes"`
	TotalBytes    int64           `json:"total_bytes"`
	Result        json.RawMessage `json:"result,omitempty"`
	Error         string          `json:"error,omitempty"`
	// ErrorCode is the message key of the reason, and ErrorParams its
	// parameters, so the reason is told in each reader's language.
	ErrorCode       string            `json:"error_code,omitempty"`
	ErrorParams     map[string]string `json:"error_params,omitempty"`
	Attempts        int               `json:"attempts"`
	CancelRequested bool              `json:"cancel_requested"`
	CreatedAt       time.Time         `json:"created_at"`
	StartedAt       *time.Time        `json:"started_at,omitempty"`
	HeartbeatAt     *time.Time        `json:"heartbeat_at,omitempty"`
	FinishedAt      *time.Time        `json:"finished_at,omitempty"`
	// Claim is the token of the worker that holds a running job.
	Claim string `json:"-"`
}

// Queue stores jobs.
type Queue struct {
	DB *db.DB
	// MaxAttempts is how many times a job is started before the janitor
	// gives it up (default 3).
	MaxAttempts int
}

func (q *Queue) maxAttempts() int {
	if q.MaxAttempts <= 0 {
		return 3
	}
	return q.MaxAttempts
}

// Enqueue adds a job.
func (q *Queue) Enqueue(ctx context.Context, kind string, resourceID, actorID int64, params any) (Job, error) {
	p, err := json.Marshal(params)
	if err != nil {
		return Job{}, err
	}
	id := uuid.NewString()
	var res, actor any
	if resourceID != 0 {
		res = resourceID
	}
	if actorID != 0 {
		actor = actorID
	}
	if _, err := q.DB.Exec(ctx, `INSERT INTO jobs (id, kind, status, resource_id, actor_id, params, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, kind, Queued, res, actor, string(p), db.Now()); err != nil {
		return Job{}, err
	}
	return q.Get(ctx, id)
}

const cols = `id, kind, status, resource_id, actor_id, params, phase, progress_rows, progress_bytes, total_bytes, result, error,
	error_code, error_params, attempts, cancel_requested, created_at, started_at, heartbeat_at, finished_at, claim`

func scan(row interface{ Scan(...any) error }) (Job, error) {
	var j Job
	var res, actor sql.NullInt64
	var params, result, errParams string
	var cancel int
	if err := row.Scan(&j.ID, &j.Kind, &j.Status, &res, &actor, &params, &j.Phase, &j.ProgressRows, &j.ProgressBytes, &j.TotalBytes,
		&result, &j.Error, &j.ErrorCode, &errParams, &j.Attempts, &cancel, &j.CreatedAt, &j.StartedAt, &j.HeartbeatAt, &j.FinishedAt, &j.Claim); err != nil {
		return Job{}, db.MapErr(err)
	}
	j.ResourceID, j.ActorID, j.Params, j.CancelRequested = res.Int64, actor.Int64, json.RawMessage(params), cancel == 1
	if result != "" {
		j.Result = json.RawMessage(result)
	}
	if errParams != "" {
		json.Unmarshal([]byte(errParams), &j.ErrorParams)
	}
	return j, nil
}

// Get returns a job.
func (q *Queue) Get(ctx context.Context, id string) (Job, error) {
	j, err := scan(q.DB.QueryRow(ctx, "SELECT "+cols+" FROM jobs WHERE id = ?", id))
	if err != nil {
		return j, fmt.Errorf("job %s: %w", id, err)
	}
	return j, nil
}

// Claim takes the oldest queued job for worker, or returns NotFound. The
// job comes back with its claim token and one more attempt counted.
func (q *Queue) Claim(ctx context.Context, worker string) (Job, error) {
	sub := "SELECT id FROM jobs WHERE status = ? ORDER BY created_at, id LIMIT 1"
	if q.DB.Dialect == db.Postgres {
		sub += " FOR UPDATE SKIP LOCKED"
	}
	now := db.Now()
	token := worker + "/" + uuid.NewString()
	var id string
	err := q.DB.Tx(ctx, func(tx db.Querier) error {
		if err := tx.QueryRow(ctx, sub, Queued).Scan(&id); err != nil {
			return db.MapErr(err)
		}
		res, err := tx.Exec(ctx, `UPDATE jobs SET status = ?, claimed_by = ?, claim = ?, attempts = attempts + 1, started_at = ?, heartbeat_at = ?
			WHERE id = ? AND status = ?`, Running, worker, token, now, now, id, Queued)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: job %s was taken by another worker", errs.NotFound, id)
		}
		return nil
	})
	if err != nil {
		return Job{}, err
	}
	return q.Get(ctx, id)
}

// execer is a database or a transaction (db.Querier).
type execer interface {
	Exec(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// held is the condition of every write by the worker holding j.
const held = " WHERE id = ? AND claim = ? AND status = '" + Running + "'"

// exec runs a conditional update of a held job; no row affected means the
// claim is lost.
func exec(ctx context.Context, x execer, j Job, query string, args ...any) error {
	res, err := x.Exec(ctx, query+held, append(args, j.ID, j.Claim)...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("job %s: %w", j.ID, ErrLost)
	}
	return nil
}

// Beat records that the worker holding j is alive. It returns whether
// cancellation was requested, or ErrLost.
func (q *Queue) Beat(ctx context.Context, j Job) (cancel bool, err error) {
	if err := exec(ctx, q.DB, j, "UPDATE jobs SET heartbeat_at = ?", db.Now()); err != nil {
		return false, err
	}
	return q.cancelRequested(ctx, j.ID)
}

// Progress records how far a held job is (a heartbeat too). It returns
// whether cancellation was requested, or ErrLost.
func (q *Queue) Progress(ctx context.Context, j Job, phase string, rows, bytes, total int64) (bool, error) {
	if err := exec(ctx, q.DB, j, "UPDATE jobs SET phase = ?, progress_rows = ?, progress_bytes = ?, total_bytes = ?, heartbeat_at = ?",
		phase, rows, bytes, total, db.Now()); err != nil {
		return false, err
	}
	return q.cancelRequested(ctx, j.ID)
}

func (q *Queue) cancelRequested(ctx context.Context, id string) (bool, error) {
	var c int
	err := q.DB.QueryRow(ctx, "SELECT cancel_requested FROM jobs WHERE id = ?", id).Scan(&c)
	return c == 1, db.MapErr(err)
}

// Finish records a held job's outcome. Finishing again with the status the
// job already has (its handler finished it in its own transaction with
// FinishIn) is not an error; anything else on a job this worker no longer
// holds is ErrLost.
func (q *Queue) Finish(ctx context.Context, j Job, status string, result any, errMsg string) error {
	return q.finish(ctx, j, status, result, Reason{Text: errMsg})
}

func (q *Queue) finish(ctx context.Context, j Job, status string, result any, why Reason) error {
	err := q.finishIn(ctx, q.DB, j, status, result, why)
	if errors.Is(err, ErrLost) {
		if cur, gerr := q.Get(ctx, j.ID); gerr == nil && cur.Claim == j.Claim && cur.Status == status {
			return nil
		}
	}
	return err
}

// FinishIn records a held job's outcome in the caller's transaction, so
// the work the job did and its "succeeded" commit together or not at all:
// a job whose worker lost it cannot also commit its work.
func (q *Queue) FinishIn(ctx context.Context, tx execer, j Job, status string, result any, errMsg string) error {
	return q.finishIn(ctx, tx, j, status, result, Reason{Text: errMsg})
}

// Reason is why a job failed: a text, and optionally a message key with
// parameters that render it in each reader's language.
type Reason struct {
	Text   string
	Code   string
	Params map[string]string
}

func (q *Queue) finishIn(ctx context.Context, tx execer, j Job, status string, result any, why Reason) error {
	var r, p string
	if why.Params != nil {
		b, _ := json.Marshal(why.Params)
		p = string(b)
	}
	if result != nil {
		b, err := json.Marshal(result)
		if err != nil {
			return err
		}
		r = string(b)
	}
	now := db.Now()
	return exec(ctx, tx, j, "UPDATE jobs SET status = ?, result = ?, error = ?, error_code = ?, error_params = ?, finished_at = ?, heartbeat_at = ?",
		status, r, why.Text, why.Code, p, now, now)
}

// Release puts a held job back in the queue without counting the attempt
// (the instance is shutting down; another one, or the next start, runs it).
func (q *Queue) Release(ctx context.Context, j Job) error {
	return exec(ctx, q.DB, j, "UPDATE jobs SET status = ?, claimed_by = '', claim = '', attempts = attempts - 1", Queued)
}

// Cancel asks a job to stop: a queued job is cancelled at once, a running
// one at its worker's next heartbeat or progress report.
func (q *Queue) Cancel(ctx context.Context, id string) error {
	return q.DB.Tx(ctx, func(tx db.Querier) error {
		res, err := tx.Exec(ctx, "UPDATE jobs SET status = ?, finished_at = ? WHERE id = ? AND status = ?", Cancelled, db.Now(), id, Queued)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		res, err = tx.Exec(ctx, "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND status = ?", id, Running)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: job %s is not queued or running", errs.Conflict, id)
		}
		return nil
	})
}

// Requeue is the crash janitor: running jobs whose heartbeat is older than
// staleAfter lost their worker. Those started fewer than MaxAttempts times
// go back to the queue; the others are failed ("failed after N attempts")
// and returned, so the caller can clean up after them. A job whose worker
// is alive keeps beating and is never taken.
func (q *Queue) Requeue(ctx context.Context, staleAfter time.Duration) (requeued int64, failed []Job, err error) {
	cutoff := db.Now().Add(-staleAfter)
	max := q.maxAttempts()
	giveUp, err := db.QueryAll(ctx, q.DB, "SELECT id, claim, attempts FROM jobs WHERE status = ? AND heartbeat_at < ? AND attempts >= ?", func(r db.Scanner) (Job, error) {
		var j Job
		return j, r.Scan(&j.ID, &j.Claim, &j.Attempts)
	}, Running, cutoff, max)
	if err != nil {
		return 0, nil, err
	}
	for _, j := range giveUp {
		// Conditional on the same claim and a still-stale heartbeat: a
		// worker that beat meanwhile keeps its job.
		now := db.Now()
		n := strconv.Itoa(j.Attempts)
		res, err := q.DB.Exec(ctx, `UPDATE jobs SET status = ?, error_code = ?, error_params = ?, error = ?, finished_at = ?
			WHERE id = ? AND claim = ? AND status = ? AND heartbeat_at < ?`,
			Failed, ErrorAttemptsExhausted, `{"n":"`+n+`"}`, "failed after "+n+" attempts", now, j.ID, j.Claim, Running, cutoff)
		if err != nil {
			return requeued, failed, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if fj, err := q.Get(ctx, j.ID); err == nil {
				failed = append(failed, fj)
			}
		}
	}
	res, err := q.DB.Exec(ctx, "UPDATE jobs SET status = ?, claimed_by = '', claim = '' WHERE status = ? AND heartbeat_at < ? AND attempts < ?",
		Queued, Running, cutoff, max)
	if err != nil {
		return 0, failed, err
	}
	requeued, err = res.RowsAffected()
	return requeued, failed, err
}
