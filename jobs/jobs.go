// Package jobs is the background job queue: one table in the metadata
// database, claimed atomically so several server instances can share it.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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

// Job is one unit of background work.
type Job struct {
	ID              string          `json:"id"`
	Kind            string          `json:"kind"`
	Status          string          `json:"status"`
	ResourceID      int64           `json:"resource_id,omitempty"`
	ActorID         int64           `json:"-"`
	Params          json.RawMessage `json:"-"`
	Phase           string          `json:"phase"`
	ProgressRows    int64           `json:"progress_rows"`
	ProgressBytes   int64           `json:"progress_bytes"`
	TotalBytes      int64           `json:"total_bytes"`
	Result          json.RawMessage `json:"result,omitempty"`
	Error           string          `json:"error,omitempty"`
	CancelRequested bool            `json:"cancel_requested"`
	CreatedAt       time.Time       `json:"created_at"`
	StartedAt       *time.Time      `json:"started_at,omitempty"`
	FinishedAt      *time.Time      `json:"finished_at,omitempty"`
}

// Queue stores jobs.
type Queue struct{ DB *db.DB }

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
	cancel_requested, created_at, started_at, finished_at`

func scan(row interface{ Scan(...any) error }) (Job, error) {
	var j Job
	var res, actor sql.NullInt64
	var params, result string
	var cancel int
	if err := row.Scan(&j.ID, &j.Kind, &j.Status, &res, &actor, &params, &j.Phase, &j.ProgressRows, &j.ProgressBytes, &j.TotalBytes,
		&result, &j.Error, &cancel, &j.CreatedAt, &j.StartedAt, &j.FinishedAt); err != nil {
		return Job{}, db.MapErr(err)
	}
	j.ResourceID, j.ActorID, j.Params, j.CancelRequested = res.Int64, actor.Int64, json.RawMessage(params), cancel == 1
	if result != "" {
		j.Result = json.RawMessage(result)
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

// Claim takes the oldest queued job for worker, or returns NotFound.
func (q *Queue) Claim(ctx context.Context, worker string) (Job, error) {
	sub := "SELECT id FROM jobs WHERE status = ? ORDER BY created_at LIMIT 1"
	if q.DB.Dialect == db.Postgres {
		sub += " FOR UPDATE SKIP LOCKED"
	}
	now := db.Now()
	var id string
	err := q.DB.Tx(ctx, func(tx db.Querier) error {
		if err := tx.QueryRow(ctx, sub, Queued).Scan(&id); err != nil {
			return db.MapErr(err)
		}
		_, err := tx.Exec(ctx, "UPDATE jobs SET status = ?, claimed_by = ?, started_at = ?, heartbeat_at = ? WHERE id = ? AND status = ?",
			Running, worker, now, now, id, Queued)
		return err
	})
	if err != nil {
		return Job{}, err
	}
	return q.Get(ctx, id)
}

// Progress records how far a running job is (and is its heartbeat). It
// returns whether cancellation was requested.
func (q *Queue) Progress(ctx context.Context, id, phase string, rows, bytes, total int64) (bool, error) {
	if _, err := q.DB.Exec(ctx, "UPDATE jobs SET phase = ?, progress_rows = ?, progress_bytes = ?, total_bytes = ?, heartbeat_at = ? WHERE id = ?",
		phase, rows, bytes, total, db.Now(), id); err != nil {
		return false, err
	}
	var c int
	err := q.DB.QueryRow(ctx, "SELECT cancel_requested FROM jobs WHERE id = ?", id).Scan(&c)
	return c == 1, db.MapErr(err)
}

// Finish records the outcome.
func (q *Queue) Finish(ctx context.Context, id, status string, result any, errMsg string) error {
	var r string
	if result != nil {
		b, err := json.Marshal(result)
		if err != nil {
			return err
		}
		r = string(b)
	}
	_, err := q.DB.Exec(ctx, "UPDATE jobs SET status = ?, result = ?, error = ?, finished_at = ?, heartbeat_at = ? WHERE id = ?",
		status, r, errMsg, db.Now(), db.Now(), id)
	return err
}

// Cancel asks a job to stop: a queued job is cancelled at once, a running
// one at its next progress report.
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

// Requeue puts back running jobs whose worker stopped reporting (a crashed
// instance), so another instance takes them.
func (q *Queue) Requeue(ctx context.Context, silentFor time.Duration) (int64, error) {
	res, err := q.DB.Exec(ctx, "UPDATE jobs SET status = ?, claimed_by = '' WHERE status = ? AND heartbeat_at < ?", Queued, Running, db.Now().Add(-silentFor))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Handler runs one job kind; its result is stored as JSON. report updates
// progress and returns context.Canceled when the job should stop.
type Handler func(ctx context.Context, j Job, report func(phase string, rows, bytes, total int64)) (any, error)

// ResultError lets a failed job keep a result document (e.g. the rows
// rejected) beside its error.
type ResultError struct {
	Result any
	Err    error
}

func (e *ResultError) Error() string { return e.Err.Error() }
func (e *ResultError) Unwrap() error { return e.Err }

// Runner polls the queue with a few workers.
type Runner struct {
	Queue    *Queue
	Handlers map[string]Handler
	Workers  int
	Poll     time.Duration
	Name     string
	Log      *slog.Logger
	// ErrorText renders an error for the job record (user-facing).
	ErrorText func(error) string
	wake      chan struct{}
}

// Wake makes an idle worker look at the queue now.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx ends, then waits for running jobs to stop.
func (r *Runner) Run(ctx context.Context) {
	if r.Poll == 0 {
		r.Poll = time.Second
	}
	if r.wake == nil {
		r.wake = make(chan struct{}, 1)
	}
	var wg sync.WaitGroup
	for i := 0; i < max(1, r.Workers); i++ {
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			r.loop(ctx, fmt.Sprintf("%s/%d", r.Name, n))
		}(i)
	}
	wg.Wait()
}

// Init prepares the wake channel before Run starts (so Wake is safe).
func (r *Runner) Init() { r.wake = make(chan struct{}, 1) }

func (r *Runner) loop(ctx context.Context, worker string) {
	t := time.NewTicker(r.Poll)
	defer t.Stop()
	for {
		for r.one(ctx, worker) {
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
	}
}

func (r *Runner) one(ctx context.Context, worker string) bool {
	if ctx.Err() != nil {
		return false
	}
	j, err := r.Queue.Claim(ctx, worker)
	if err != nil {
		if !errors.Is(err, errs.NotFound) && ctx.Err() == nil {
			r.Log.Error("claim job", "err", err)
		}
		return false
	}
	h, ok := r.Handlers[j.Kind]
	if !ok {
		r.Queue.Finish(context.Background(), j.ID, Failed, nil, "unknown job kind "+j.Kind)
		return true
	}
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var last time.Time
	report := func(phase string, rows, bytes, total int64) {
		if time.Since(last) < 300*time.Millisecond && phase == j.Phase {
			return
		}
		last, j.Phase = time.Now(), phase
		if stop, err := r.Queue.Progress(context.Background(), j.ID, phase, rows, bytes, total); err == nil && stop {
			cancel()
		}
	}
	r.Log.Info("job started", "job", j.ID, "kind", j.Kind, "worker", worker)
	result, err := h(jctx, j, report)
	fctx := context.Background()
	switch {
	case err == nil:
		r.Queue.Finish(fctx, j.ID, Succeeded, result, "")
	case errors.Is(err, context.Canceled) && ctx.Err() == nil:
		r.Queue.Finish(fctx, j.ID, Cancelled, nil, "cancelled")
	case ctx.Err() != nil:
		// Shutting down: leave it for another instance (or the next start).
		r.Queue.DB.Exec(fctx, "UPDATE jobs SET status = ?, claimed_by = '' WHERE id = ?", Queued, j.ID)
	default:
		var re *ResultError
		if errors.As(err, &re) {
			result = re.Result
		}
		msg := err.Error()
		if r.ErrorText != nil {
			msg = r.ErrorText(err)
		}
		r.Queue.Finish(fctx, j.ID, Failed, result, msg)
		r.Log.Warn("job failed", "job", j.ID, "err", err)
	}
	return true
}
