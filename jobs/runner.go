package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"opendata/errs"
)

// Handler runs one job kind; its result is stored as JSON. report records
// progress (at most a few times a second). The context ends when the job is
// cancelled, when the worker loses the job, or at shutdown.
type Handler func(ctx context.Context, j Job, report func(phase string, rows, bytes, total int64)) (any, error)

// ResultError lets a failed job keep a result document (e.g. the rows
// rejected) beside its error, and say why it failed for people to read:
// Reason's text, and its message key and parameters when it has them.
type ResultError struct {
	Result any
	Err    error
	Reason Reason
}

func (e *ResultError) Error() string { return e.Err.Error() }
func (e *ResultError) Unwrap() error { return e.Err }

// Runner polls the queue with a few workers.
type Runner struct {
	Queue    *Queue
	Handlers map[string]Handler
	Workers  int
	Poll     time.Duration
	// Heartbeat is how often a running job's worker says it is alive,
	// whether or not the job reports progress (default 5 s). The janitor
	// takes a job back after StaleAfter without one.
	Heartbeat time.Duration
	Name      string
	Log       *slog.Logger
	// ErrorText renders an error for the job record (user-facing).
	ErrorText func(error) string
	wake      chan struct{}
}

// StaleAfter is how long a running job may go without a heartbeat before
// the janitor decides its worker died: six missed beats.
func (r *Runner) StaleAfter() time.Duration { return 6 * r.heartbeat() }

func (r *Runner) heartbeat() time.Duration {
	if r.Heartbeat <= 0 {
		return 5 * time.Second
	}
	return r.Heartbeat
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
	if r.Log == nil {
		r.Log = slog.Default()
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

// errCancelRequested is the cause of a job context ended by a cancel request.
var errCancelRequested = errors.New("cancellation requested")

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
	fctx := context.Background() // outcomes are written even when ctx ends
	h, ok := r.Handlers[j.Kind]
	if !ok {
		r.finish(fctx, j, Failed, nil, "unknown job kind "+j.Kind)
		return true
	}
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// stop ends the job's context for a cancel request or a lost claim.
	stop := func(cancelled bool, err error) {
		switch {
		case errors.Is(err, ErrLost):
			r.Log.Warn("job taken back from this worker; stopping it", "job", j.ID, "worker", worker)
			cancel(ErrLost)
		case err == nil && cancelled:
			cancel(errCancelRequested)
		}
	}
	beatDone := make(chan struct{})
	go func() { // the heartbeat, independent of progress reports
		defer close(beatDone)
		t := time.NewTicker(r.heartbeat())
		defer t.Stop()
		for {
			select {
			case <-jctx.Done():
				return
			case <-t.C:
				stop(r.Queue.Beat(fctx, j))
			}
		}
	}()
	var last time.Time
	var lastPhase string
	report := func(phase string, rows, bytes, total int64) {
		if time.Since(last) < 300*time.Millisecond && phase == lastPhase {
			return
		}
		last, lastPhase = time.Now(), phase
		stop(r.Queue.Progress(fctx, j, phase, rows, bytes, total))
	}
	r.Log.Info("job started", "job", j.ID, "kind", j.Kind, "worker", worker, "attempt", j.Attempts)
	result, err := h(jctx, j, report)
	cause := context.Cause(jctx)
	cancel(nil)
	<-beatDone
	switch {
	case errors.Is(cause, ErrLost):
		// Another worker has it (or will): nothing of ours may be recorded.
	case err == nil:
		r.finish(fctx, j, Succeeded, result, "")
	case errors.Is(cause, errCancelRequested) && errors.Is(err, context.Canceled):
		r.finish(fctx, j, Cancelled, nil, "cancelled")
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		// Shutting down: leave it for another instance (or the next start).
		if err := r.Queue.Release(fctx, j); err != nil && !errors.Is(err, ErrLost) {
			r.Log.Error("release job at shutdown", "job", j.ID, "err", err)
		}
	default:
		var re *ResultError
		var why Reason
		if errors.As(err, &re) {
			result, why = re.Result, re.Reason
		}
		if why.Text == "" {
			why.Text = err.Error()
			if r.ErrorText != nil {
				why.Text = r.ErrorText(err)
			}
		}
		if err := r.Queue.finish(fctx, j, Failed, result, why); err != nil {
			r.Log.Error("record job outcome", "job", j.ID, "status", Failed, "err", err)
		}
		r.Log.Warn("job failed", "job", j.ID, "err", err)
	}
	return true
}

func (r *Runner) finish(ctx context.Context, j Job, status string, result any, msg string) {
	if err := r.Queue.Finish(ctx, j, status, result, msg); err != nil {
		r.Log.Error("record job outcome", "job", j.ID, "status", status, "err", err)
	}
}
