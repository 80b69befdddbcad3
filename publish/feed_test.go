package publish_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"opendata/catalog"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/publish"
)

func TestFeedUpdated(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	for _, tc := range []struct {
		name      string
		updated   time.Time
		published *time.Time
		want      time.Time
	}{
		{"never published", t0, nil, t0},
		{"published after the last edit", t0, &t1, t1},
		{"edited after publication", t1, &t0, t1},
	} {
		r := catalog.Resource{UpdatedAt: tc.updated, PublishedAt: tc.published}
		if got := publish.FeedUpdated(r); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The feeds list what the open catalog shows: a draft-only entry, another
// department's entry (in a department's feed) and a withdrawn one are not
// in them; a dataset's feed lists its published versions only.
func TestCatalogAndDatasetFeeds(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		s := f.svc
		codes := func(items []publish.FeedItem) string {
			out := ""
			for _, it := range items {
				out += it.Resource.Code + " "
			}
			return out
		}
		if items, err := s.CatalogFeed(ctx, 0); err != nil || len(items) != 0 {
			t.Fatalf("nothing published: %q %v", codes(items), err)
		}
		if err := s.Submit(ctx, f.staff, f.rid, 1); err != nil {
			t.Fatal(err)
		}
		if err := s.Approve(ctx, f.admin, f.rid, 1); err != nil {
			t.Fatal(err)
		}
		if err := s.Submit(ctx, f.staff, f.rid, 2); err != nil {
			t.Fatal(err)
		}
		r, _ := f.cat.GetResource(ctx, f.rid)
		items, err := s.CatalogFeed(ctx, 0)
		if err != nil || codes(items) != "JTJ-001 " || !items[0].Updated.Equal(publish.FeedUpdated(r)) {
			t.Fatalf("one published: %q %v", codes(items), err)
		}
		if items, _ := s.CatalogFeed(ctx, r.DepartmentID); codes(items) != "JTJ-001 " {
			t.Fatalf("its department's feed: %q", codes(items))
		}
		if items, _ := s.CatalogFeed(ctx, f.other.DepartmentID); len(items) != 0 {
			t.Fatalf("another department's feed: %q", codes(items))
		}
		vs, err := s.DatasetFeed(ctx, r)
		if err != nil || len(vs) != 1 || vs[0].Version.Number != 1 || vs[0].Published.IsZero() {
			t.Fatalf("dataset feed with v2 submitted only: %+v %v", vs, err)
		}
		if err := s.Approve(ctx, f.admin, f.rid, 2); err != nil {
			t.Fatal(err)
		}
		r, _ = f.cat.GetResource(ctx, f.rid)
		vs, _ = s.DatasetFeed(ctx, r)
		got := ""
		for _, v := range vs {
			got += fmt.Sprintf("v%d ", v.Version.Number)
		}
		if got != "v2 v1 " || vs[0].Published.Before(vs[1].Published) {
			t.Fatalf("dataset feed: %q %+v", got, vs)
		}
		// A withdrawal that has taken effect empties every feed.
		if err := s.Withdraw(ctx, f.admin, f.rid, "数据迁移至省平台统一发布", 30); err != nil {
			t.Fatal(err)
		}
		if items, _ := s.CatalogFeed(ctx, 0); codes(items) != "JTJ-001 " {
			t.Fatalf("during the notice: %q", codes(items))
		}
		s.Now = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
		if items, _ := s.CatalogFeed(ctx, 0); len(items) != 0 {
			t.Fatalf("withdrawn: %q", codes(items))
		}
		r, _ = f.cat.GetResource(ctx, f.rid)
		if vs, _ := s.DatasetFeed(ctx, r); len(vs) != 0 {
			t.Fatalf("withdrawn dataset's feed: %+v", vs)
		}
	})
}
