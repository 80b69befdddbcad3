package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
	"opendata/jobs"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func enqueue(t *testing.T, q *jobs.Queue, kind string) jobs.Job {
	t.Helper()
	j, err := q.Enqueue(context.Background(), kind, 0, 0, map[string]string{"n": kind})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func get(t *testing.T, q *jobs.Queue, id string) jobs.Job {
	t.Helper()
	j, err := q.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// silence makes a running job's heartbeat old, as when its worker died.
func silence(t *testing.T, d *db.DB, id string) {
	t.Helper()
	if _, err := d.Exec(context.Background(), "UPDATE jobs SET heartbeat_at = ? WHERE id = ?", db.Now().Add(-time.Hour), id); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// run starts a runner until the test ends (or stop is called).
func run(t *testing.T, r *jobs.Runner) (stop func()) {
	t.Helper()
	r.Log, r.Poll = quiet, 10*time.Millisecond
	r.Init()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func TestClaimIsExclusive(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		q := &jobs.Queue{DB: d}
		j := enqueue(t, q, "k")
		var won atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				got, err := q.Claim(context.Background(), fmt.Sprintf("w%d", i))
				switch {
				case err == nil && got.ID == j.ID:
					won.Add(1)
				case err != nil && !errors.Is(err, errs.NotFound):
					t.Errorf("claim: %v", err)
				}
			}(i)
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("%d workers claimed the job", won.Load())
		}
		if got := get(t, q, j.ID); got.Status != jobs.Running || got.Attempts != 1 || got.Claim == "" {
			t.Fatalf("claimed job %+v", got)
		}
	})
}

// Several instances (runners on one database) run every job exactly once.
func TestRunnersRunEachJobOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		q := &jobs.Queue{DB: d}
		var mu sync.Mutex
		runs := map[string]int{}
		h := func(ctx context.Context, j jobs.Job, report func(string, int64, int64, int64)) (any, error) {
			mu.Lock()
			runs[j.ID]++
			mu.Unlock()
			report("work", 1, 1, 1)
			time.Sleep(2 * time.Millisecond)
			return map[string]string{"by": j.Claim}, nil
		}
		var ids []string
		for i := 0; i < 30; i++ {
			ids = append(ids, enqueue(t, q, "count").ID)
		}
		for _, name := range []string{"a", "b", "c"} {
			run(t, &jobs.Runner{Queue: q, Name: name, Workers: 2, Handlers: map[string]jobs.Handler{"count": h}})
		}
		waitFor(t, "every job to finish", func() bool {
			var n int
			d.QueryRow(context.Background(), "SELECT COUNT(*) FROM jobs WHERE status = ?", jobs.Succeeded).Scan(&n)
			return n == len(ids)
		})
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			if runs[id] != 1 {
				t.Errorf("job %s ran %d times", id, runs[id])
			}
			if j := get(t, q, id); j.Attempts != 1 || len(j.Result) == 0 {
				t.Errorf("job %s: %+v", id, j)
			}
		}
	})
}

// A job that reports no progress still beats, so the janitor leaves it.
func TestHeartbeatWithoutProgress(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		q := &jobs.Queue{DB: d}
		release := make(chan struct{})
		started := make(chan jobs.Job, 1)
		h := func(ctx context.Context, j jobs.Job, _ func(string, int64, int64, int64)) (any, error) {
			started <- j
			<-release
			return "ok", nil
		}
		run(t, &jobs.Runner{Queue: q, Name: "slow", Heartbeat: 20 * time.Millisecond, Handlers: map[string]jobs.Handler{"slow": h}})
		j := enqueue(t, q, "slow")
		<-started
		first := *get(t, q, j.ID).HeartbeatAt
		waitFor(t, "a heartbeat", func() bool { return get(t, q, j.ID).HeartbeatAt.After(first) })
		time.Sleep(150 * time.Millisecond)
		if n, failed, err := q.Requeue(context.Background(), 120*time.Millisecond); err != nil || n != 0 || len(failed) != 0 {
			t.Fatalf("the janitor took a beating job: %d %v %v", n, failed, err)
		}
		close(release)
		waitFor(t, "success", func() bool { return get(t, q, j.ID).Status == jobs.Succeeded })
	})
}

// Once the janitor has given a job to another worker, the first can
// neither report, beat nor finish it; the new holder can.
func TestLostClaimCannotWrite(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := &jobs.Queue{DB: d}
		j := enqueue(t, q, "k")
		a, err := q.Claim(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		silence(t, d, j.ID)
		if n, _, err := q.Requeue(ctx, time.Minute); err != nil || n != 1 {
			t.Fatalf("requeue: %d %v", n, err)
		}
		b, err := q.Claim(ctx, "b")
		if err != nil || b.ID != j.ID || b.Attempts != 2 {
			t.Fatalf("second claim: %+v %v", b, err)
		}
		if _, err := q.Progress(ctx, a, "late", 9, 9, 9); !errors.Is(err, jobs.ErrLost) {
			t.Errorf("old worker's progress: %v", err)
		}
		if _, err := q.Beat(ctx, a); !errors.Is(err, jobs.ErrLost) {
			t.Errorf("old worker's beat: %v", err)
		}
		if err := q.Finish(ctx, a, jobs.Succeeded, "from a", ""); !errors.Is(err, jobs.ErrLost) {
			t.Errorf("old worker's finish: %v", err)
		}
		if err := q.Release(ctx, a); !errors.Is(err, jobs.ErrLost) {
			t.Errorf("old worker's release: %v", err)
		}
		if err := q.Finish(ctx, b, jobs.Succeeded, "from b", ""); err != nil {
			t.Fatal(err)
		}
		if got := get(t, q, j.ID); got.Status != jobs.Succeeded || string(got.Result) != `"from b"` || got.Phase == "late" {
			t.Fatalf("job %+v", got)
		}
	})
}

// A runner whose job was taken back stops the handler and records nothing.
func TestRunnerStopsALostJob(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := &jobs.Queue{DB: d}
		started := make(chan struct{}, 1)
		stopped := make(chan error, 1)
		h := func(ctx context.Context, j jobs.Job, _ func(string, int64, int64, int64)) (any, error) {
			started <- struct{}{}
			<-ctx.Done()
			stopped <- context.Cause(ctx)
			return "from the old worker", nil // returns success anyway: must not be recorded
		}
		run(t, &jobs.Runner{Queue: q, Name: "old", Heartbeat: 20 * time.Millisecond, Handlers: map[string]jobs.Handler{"k": h}})
		j := enqueue(t, q, "k")
		<-started
		// The janitor of another instance decides this one is gone; another worker takes it.
		stealer := &jobs.Queue{DB: d}
		var b jobs.Job
		waitFor(t, "the job to be taken", func() bool {
			silence(t, d, j.ID)
			if n, _, _ := stealer.Requeue(ctx, time.Minute); n != 1 {
				return false
			}
			var err error
			b, err = stealer.Claim(ctx, "new")
			return err == nil
		})
		select {
		case cause := <-stopped:
			if !errors.Is(cause, jobs.ErrLost) {
				t.Fatalf("handler stopped for %v", cause)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the old worker kept running a job it lost")
		}
		time.Sleep(50 * time.Millisecond)
		if got := get(t, q, j.ID); got.Status != jobs.Running || got.Claim != b.Claim || len(got.Result) != 0 {
			t.Fatalf("after the old worker stopped: %+v", got)
		}
		if err := stealer.Finish(ctx, b, jobs.Succeeded, "from the new worker", ""); err != nil {
			t.Fatal(err)
		}
		if got := get(t, q, j.ID); string(got.Result) != `"from the new worker"` {
			t.Fatalf("result %s", got.Result)
		}
	})
}

func TestCancel(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := &jobs.Queue{DB: d}
		// Queued: cancelled at once, never run.
		j := enqueue(t, q, "never")
		if err := q.Cancel(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		if got := get(t, q, j.ID); got.Status != jobs.Cancelled || got.FinishedAt == nil {
			t.Fatalf("queued job after cancel: %+v", got)
		}
		if err := q.Cancel(ctx, j.ID); !errors.Is(err, errs.Conflict) {
			t.Fatalf("cancel a finished job: %v", err)
		}
		// Running and silent (no progress): stopped at the next heartbeat.
		started := make(chan struct{}, 1)
		h := func(ctx context.Context, j jobs.Job, _ func(string, int64, int64, int64)) (any, error) {
			started <- struct{}{}
			<-ctx.Done()
			return nil, ctx.Err()
		}
		run(t, &jobs.Runner{Queue: q, Name: "r", Heartbeat: 20 * time.Millisecond,
			Handlers: map[string]jobs.Handler{"loop": h, "never": func(context.Context, jobs.Job, func(string, int64, int64, int64)) (any, error) {
				t.Error("a cancelled job ran")
				return nil, nil
			}}})
		j = enqueue(t, q, "loop")
		<-started
		if err := q.Cancel(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "cancellation", func() bool { return get(t, q, j.ID).Status == jobs.Cancelled })
	})
}

// A job whose worker dies every time (a file that takes the process down)
// is retried until MaxAttempts, then failed — not requeued for ever.
func TestCrashedWorkerRequeuedThenFailed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := &jobs.Queue{DB: d, MaxAttempts: 3}
		j := enqueue(t, q, "crash")
		for attempt := 1; attempt <= 3; attempt++ {
			c, err := q.Claim(ctx, fmt.Sprintf("instance%d", attempt))
			if err != nil || c.ID != j.ID || c.Attempts != attempt {
				t.Fatalf("attempt %d: %+v %v", attempt, c, err)
			}
			// The process dies here: nothing more is written.
			silence(t, d, j.ID)
			n, failed, err := q.Requeue(ctx, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if attempt < 3 && (n != 1 || len(failed) != 0) {
				t.Fatalf("attempt %d: requeued %d, failed %v", attempt, n, failed)
			}
			if attempt == 3 && (n != 0 || len(failed) != 1 || failed[0].ID != j.ID || failed[0].Kind != "crash") {
				t.Fatalf("last attempt: requeued %d, failed %v", n, failed)
			}
		}
		got := get(t, q, j.ID)
		if got.Status != jobs.Failed || got.ErrorCode != jobs.ErrorAttemptsExhausted || got.ErrorParams["n"] != "3" || got.Attempts != 3 || got.Error != "failed after 3 attempts" {
			t.Fatalf("job %+v", got)
		}
		if _, err := q.Claim(ctx, "instance4"); !errors.Is(err, errs.NotFound) {
			t.Fatalf("a failed job was claimed again: %v", err)
		}
		if n, failed, _ := q.Requeue(ctx, time.Minute); n != 0 || len(failed) != 0 {
			t.Fatalf("janitor again: %d %v", n, failed)
		}
	})
}

// Shutting down puts a running job back without counting the attempt.
func TestShutdownReleasesTheJob(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		q := &jobs.Queue{DB: d, MaxAttempts: 1}
		started := make(chan struct{}, 1)
		h := func(ctx context.Context, j jobs.Job, _ func(string, int64, int64, int64)) (any, error) {
			started <- struct{}{}
			<-ctx.Done()
			return nil, ctx.Err()
		}
		stop := run(t, &jobs.Runner{Queue: q, Name: "r", Handlers: map[string]jobs.Handler{"k": h}})
		j := enqueue(t, q, "k")
		<-started
		stop()
		if got := get(t, q, j.ID); got.Status != jobs.Queued || got.Attempts != 0 || got.Claim != "" {
			t.Fatalf("after shutdown: %+v", got)
		}
		c, err := q.Claim(context.Background(), "next")
		if err != nil || c.Attempts != 1 {
			t.Fatalf("next start: %+v %v", c, err)
		}
	})
}

// FinishIn commits with the caller's transaction or not at all, and a
// worker that lost the job cannot commit its work with it.
func TestFinishInTheWorksTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := &jobs.Queue{DB: d}
		j := enqueue(t, q, "k")
		c, err := q.Claim(ctx, "w")
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("the work failed after finishing")
		err = d.Tx(ctx, func(tx db.Querier) error {
			if err := q.FinishIn(ctx, tx, c, jobs.Succeeded, "done", ""); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) || get(t, q, j.ID).Status != jobs.Running {
			t.Fatalf("rolled back finish: %v, %s", err, get(t, q, j.ID).Status)
		}
		// Lost meanwhile: the finish fails, so the work's transaction does too.
		silence(t, d, j.ID)
		q.Requeue(ctx, time.Minute)
		err = d.Tx(ctx, func(tx db.Querier) error { return q.FinishIn(ctx, tx, c, jobs.Succeeded, "done", "") })
		if !errors.Is(err, jobs.ErrLost) {
			t.Fatalf("finish of a lost job: %v", err)
		}
		// Finishing what the handler already finished is a no-op.
		c2, _ := q.Claim(ctx, "w2")
		if err := d.Tx(ctx, func(tx db.Querier) error { return q.FinishIn(ctx, tx, c2, jobs.Succeeded, "in tx", "") }); err != nil {
			t.Fatal(err)
		}
		if err := q.Finish(ctx, c2, jobs.Succeeded, "again", ""); err != nil {
			t.Fatalf("second finish: %v", err)
		}
		if got := get(t, q, j.ID); string(got.Result) != `"in tx"` {
			t.Fatalf("result %s", got.Result)
		}
	})
}
