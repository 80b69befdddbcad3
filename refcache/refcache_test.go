package refcache_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"opendata/calendar"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/refcache"
)

// Two instances on one database: each has its own watcher and its own
// in-memory calendar, as two serve processes do.
func TestCalendarEditReachesTheOtherInstance(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		loc := time.UTC
		store := &calendar.Store{DB: d}
		if err := store.ReplaceYear(ctx, 2031, nil, "test"); err != nil {
			t.Fatal(err)
		}
		open := func() (*calendar.Calendar, *refcache.Watcher) {
			w := &refcache.Watcher{DB: d}
			if err := w.Prime(ctx); err != nil {
				t.Fatal(err)
			}
			c, err := store.Load(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			w.On(refcache.Calendar, func(ctx context.Context) error { return store.Reload(ctx, c) })
			return c, w
		}
		calA, watchA := open()
		calB, watchB := open()
		monday := time.Date(2031, 3, 3, 10, 0, 0, 0, loc) // a Monday
		if !calB.IsWorkingDay(monday) {
			t.Fatal("a plain Monday should be a working day")
		}
		// Nothing changed: a check reloads nothing.
		if names, err := watchB.Check(ctx); err != nil || len(names) != 0 {
			t.Fatalf("check without a change reloaded %v (err %v)", names, err)
		}
		before := calB.AddWorkingDays(monday, 1)

		// A declares that Monday a holiday (a store write, as the API, the
		// console and the CLI all make).
		if err := store.ReplaceYear(ctx, 2031, []calendar.Day{{Date: "2031-03-04", Kind: calendar.Holiday, Name: "test"}}, "test"); err != nil {
			t.Fatal(err)
		}
		if !calB.IsWorkingDay(monday.AddDate(0, 0, 1)) {
			t.Fatal("B changed before it checked the versions")
		}
		names, err := watchB.Check(ctx)
		if err != nil || len(names) != 1 || names[0] != refcache.Calendar {
			t.Fatalf("B reloaded %v (err %v), want the calendar", names, err)
		}
		if calB.IsWorkingDay(monday.AddDate(0, 0, 1)) {
			t.Fatal("B still counts the new holiday as a working day")
		}
		after := calB.AddWorkingDays(monday, 1)
		if !after.After(before) {
			t.Fatalf("a deadline on B ignores the holiday: %v, before the edit %v", after, before)
		}
		// A reloads too (the edit may have been made by the CLI), once.
		if names, _ := watchA.Check(ctx); len(names) != 1 {
			t.Fatalf("A reloaded %v", names)
		}
		if calA.IsWorkingDay(monday.AddDate(0, 0, 1)) {
			t.Fatal("A still counts the new holiday as a working day")
		}
		if names, _ := watchA.Check(ctx); len(names) != 0 {
			t.Fatalf("a second check reloaded %v again", names)
		}
	})
}

// A failed write does not move the version: the bump is part of the
// transaction that changes the data.
func TestBumpCommitsWithTheChange(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		v0, err := refcache.Versions(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("rolled back")
		err = d.Tx(ctx, func(q db.Querier) error {
			if err := refcache.Bump(ctx, q, refcache.Keys); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		v1, _ := refcache.Versions(ctx, d)
		if v1[refcache.Keys] != v0[refcache.Keys] {
			t.Fatalf("a rolled-back change moved the version: %d → %d", v0[refcache.Keys], v1[refcache.Keys])
		}
		for i := 0; i < 3; i++ {
			if err := refcache.Bump(ctx, d, refcache.Keys); err != nil {
				t.Fatal(err)
			}
		}
		v2, _ := refcache.Versions(ctx, d)
		if v2[refcache.Keys] != v0[refcache.Keys]+3 {
			t.Fatalf("three bumps: %d → %d", v0[refcache.Keys], v2[refcache.Keys])
		}
	})
}

// A reload that fails is retried at the next check, not forgotten.
func TestFailedReloadIsRetried(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	w := &refcache.Watcher{DB: d, Every: 5 * time.Millisecond}
	var calls, fail atomic.Int32
	fail.Store(1)
	w.On(refcache.Keys, func(context.Context) error {
		calls.Add(1)
		if fail.Load() == 1 {
			return errors.New("database away")
		}
		return nil
	})
	if err := w.Prime(ctx); err != nil {
		t.Fatal(err)
	}
	if err := refcache.Bump(ctx, d, refcache.Keys); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Check(ctx); err == nil {
		t.Fatal("the failed reload was not reported")
	}
	fail.Store(0)
	if names, err := w.Check(ctx); err != nil || len(names) != 1 {
		t.Fatalf("retry: %v %v", names, err)
	}
	if names, _ := w.Check(ctx); len(names) != 0 || calls.Load() != 2 {
		t.Fatalf("after success: reloaded %v, %d calls", names, calls.Load())
	}
	// Run picks a change up by itself.
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(rctx); close(done) }()
	refcache.Bump(ctx, d, refcache.Keys)
	for deadline := time.Now().Add(5 * time.Second); calls.Load() < 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Run did not reload after a bump")
		}
	}
	cancel()
	<-done
}
