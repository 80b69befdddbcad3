package publish_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"opendata/db"
	"opendata/db/dbtest"
	"opendata/publish"
	"opendata/search"
)

// flaky is a shared backend that is down while down is set.
type flaky struct {
	*search.Bleve
	down  atomic.Bool
	calls atomic.Int32
}

func (f *flaky) Index(ctx context.Context, docs ...search.Doc) error {
	f.calls.Add(1)
	if f.down.Load() {
		return errors.New("backend unreachable")
	}
	return f.Bleve.Index(ctx, docs...)
}

// A shared backend is delivered to by one instance at a time, and a failed
// delivery is retried from where it stopped until it succeeds.
func TestSharedDeliveryRetries(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		if err := f.svc.Submit(ctx, f.staff, f.rid, 1); err != nil {
			t.Fatal(err)
		}
		shared := &flaky{Bleve: f.idx}
		shared.down.Store(true)
		svc := *f.svc
		svc.Index = nil // the instances write the log only; delivery is the followers'
		var followers []*publish.Follower
		for _, name := range []string{"a", "b"} {
			fl := &publish.Follower{Service: &svc, Index: shared, Shared: true, Cursor: "meilisearch:test", Instance: name}
			if err := fl.Start(ctx); err != nil {
				t.Fatal(err)
			}
			followers = append(followers, fl)
		}
		if err := svc.Approve(ctx, f.admin, f.rid, 1); err != nil {
			t.Fatal(err)
		}
		step := func() {
			for _, fl := range followers {
				fl.Step(ctx)
			}
		}
		step()
		step()
		if n := shared.calls.Load(); n != 2 {
			t.Fatalf("one deliverer expected, one attempt per step: %d attempts", n)
		}
		if found(t, f.idx, "公交站点") {
			t.Fatal("indexed while the backend was down")
		}
		shared.down.Store(false)
		step()
		if !found(t, f.idx, "公交站点") {
			t.Fatal("not delivered after the backend came back")
		}
		var seq int64
		var owner string
		d.QueryRow(ctx, "SELECT seq, owner FROM search_cursors WHERE name = 'meilisearch:test'").Scan(&seq, &owner)
		latest, _ := publish.LatestChange(ctx, d)
		if seq != latest || owner != "a" {
			t.Fatalf("cursor %d by %q, log at %d", seq, owner, latest)
		}
		before := shared.calls.Load()
		step()
		if shared.calls.Load() != before {
			t.Fatal("delivered again after the cursor moved")
		}
	})
}
