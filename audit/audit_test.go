package audit_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"opendata/audit"
	"opendata/db"
	"opendata/db/dbtest"
)

func TestChainAndTampering(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := &audit.Log{DB: d}
		var wg sync.WaitGroup
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if _, err := l.Append(ctx, audit.Event{ActorName: "jt_staff", Action: "share.read", ResourceID: int64(1 + i%2), Purpose: "核查公交站点"}); err != nil {
					t.Error(err)
				}
			}(i)
		}
		wg.Wait()
		if p, n, err := l.Verify(ctx); err != nil || p != nil || n != 10 {
			t.Fatalf("intact log: %v %d %v", p, n, err)
		}
		evs, _ := l.List(ctx, audit.Filter{ResourceIDs: []int64{1}})
		if len(evs) != 5 || evs[0].Purpose != "核查公交站点" {
			t.Fatalf("list %d", len(evs))
		}
		var buf bytes.Buffer
		audit.WriteCSV(&buf, evs)
		if !strings.HasPrefix(buf.String(), "\uFEFFid,at,actor") || strings.Count(buf.String(), "\n") != 6 {
			t.Fatalf("csv %q", buf.String())
		}

		// Someone edits event 4's purpose directly in the database.
		if _, err := d.Exec(ctx, "UPDATE audit_events SET purpose = ? WHERE id = 4", "商业用途"); err != nil {
			t.Fatal(err)
		}
		p, _, _ := l.Verify(ctx)
		if p == nil || p.EventID != 4 || !strings.Contains(p.Reason, "altered") {
			t.Fatalf("edit not found: %v", p)
		}
		d.Exec(ctx, "UPDATE audit_events SET purpose = ? WHERE id = 4", "核查公交站点")
		if p, _, _ := l.Verify(ctx); p != nil {
			t.Fatalf("restored log: %v", p)
		}
		// Someone deletes event 7.
		d.Exec(ctx, "DELETE FROM audit_events WHERE id = 7")
		if p, _, _ := l.Verify(ctx); p == nil || p.EventID != 7 || !strings.Contains(p.Reason, "removed") {
			t.Fatalf("deletion not found: %v", p)
		}
	})
}

func TestRemovingTheNewestIsFound(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	l := &audit.Log{DB: d}
	for i := 0; i < 3; i++ {
		l.Append(ctx, audit.Event{ActorName: "a", Action: "x"})
	}
	d.Exec(ctx, "DELETE FROM audit_events WHERE id = 3")
	if p, _, _ := l.Verify(ctx); p == nil || p.EventID != 3 {
		t.Fatalf("got %v", p)
	}
}
