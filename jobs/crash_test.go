package jobs_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"opendata/db"
	"opendata/jobs"
)

// crashChild is the body of the child process of TestProcessCrashes: a
// server instance whose job handler takes the whole process down, as a
// fatal out-of-memory error would (no recover, no deferred function runs).
func crashChild(path string) {
	ctx := context.Background()
	d, err := db.Open(ctx, "", path)
	if err != nil {
		os.Exit(10)
	}
	q := &jobs.Queue{DB: d, MaxAttempts: 3}
	r := &jobs.Runner{Queue: q, Name: "child", Poll: 10 * time.Millisecond, Log: quiet,
		Handlers: map[string]jobs.Handler{"deadly": func(context.Context, jobs.Job, func(string, int64, int64, int64)) (any, error) {
			os.Exit(3)
			return nil, nil
		}}}
	r.Init()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r.Run(cctx)
	os.Exit(0) // the job never came: the parent reports it
}

func TestMain(m *testing.M) {
	if p := os.Getenv("JOBS_CRASH_CHILD"); p != "" {
		crashChild(p)
	}
	os.Exit(m.Run())
}

// A job that kills its worker's process every time it runs is started
// MaxAttempts times by successive instances, then failed by the janitor,
// and never run again.
func TestProcessCrashes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	ctx := context.Background()
	d, err := db.Open(ctx, "", path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	q := &jobs.Queue{DB: d, MaxAttempts: 3}
	j := enqueue(t, q, "deadly")
	for attempt := 1; ; attempt++ {
		if attempt > 5 {
			t.Fatal("the job is still requeued after 5 crashes")
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "JOBS_CRASH_CHILD="+path)
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("attempt %d: the child did not crash on the job: %v", attempt, err)
		}
		if got := get(t, q, j.ID); got.Status != jobs.Running || got.Attempts != attempt {
			t.Fatalf("after crash %d: %+v", attempt, got)
		}
		time.Sleep(60 * time.Millisecond) // its heartbeat goes stale
		n, failed, err := q.Requeue(ctx, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) == 1 {
			if attempt != 3 || n != 0 {
				t.Fatalf("given up after %d attempts (requeued %d)", attempt, n)
			}
			break
		}
		if n != 1 {
			t.Fatalf("attempt %d: requeued %d", attempt, n)
		}
	}
	got := get(t, q, j.ID)
	if got.Status != jobs.Failed || got.ErrorCode != jobs.ErrorAttemptsExhausted || got.Attempts != 3 {
		t.Fatalf("job %+v", got)
	}
}
