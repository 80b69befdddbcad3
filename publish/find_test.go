package publish_test

import (
	"context"
	"errors"
	"testing"

	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
	"opendata/publish"
	"opendata/search"
)

// down is a search backend that is unavailable.
type down struct{ *search.Bleve }

func (down) Search(context.Context, search.Query) (search.Result, error) {
	return search.Result{}, errs.Internal(errs.Unavailable, errors.New("connection refused"))
}

func TestIsMiss(t *testing.T) {
	for _, c := range []struct {
		name string
		q    search.Query
		hits int
		want bool
	}{
		{"words, nothing found", search.Query{Text: "公交"}, 0, true},
		{"words, found", search.Query{Text: "公交"}, 3, false},
		{"no words", search.Query{}, 0, false},
		{"narrowed by a filter", search.Query{Text: "公交", Filters: map[string][]string{"domain": {"transport"}}}, 0, false},
		{"a later page", search.Query{Text: "公交", Page: 2}, 0, false},
	} {
		if got := publish.IsMiss(c.q, search.Result{Total: c.hits}); got != c.want {
			t.Errorf("%s: %v", c.name, got)
		}
	}
}

func TestSearchFallsBackToTheDatabase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		s := f.svc
		if err := s.Submit(ctx, f.staff, f.rid, 1); err != nil {
			t.Fatal(err)
		}
		if err := s.Approve(ctx, f.admin, f.rid, 1); err != nil {
			t.Fatal(err)
		}
		var missed []string
		s.Missed = func(term string) { missed = append(missed, term) }
		if res, degraded, err := s.Search(ctx, search.Query{Text: "公交站点"}); err != nil || degraded || res.Total != 1 {
			t.Fatalf("healthy search: %d hits, degraded %v, %v", res.Total, degraded, err)
		}
		if _, _, err := s.Search(ctx, search.Query{Text: "不存在的词语"}); err != nil || len(missed) != 1 {
			t.Fatalf("a search that found nothing: %v, missed %v", err, missed)
		}

		s.Index = down{f.idx}
		for _, c := range []struct {
			name string
			q    search.Query
			want int
		}{
			{"text", search.Query{Text: "公交站点"}, 1},
			{"no text", search.Query{}, 1},
			{"the department's code", search.Query{Filters: map[string][]string{"department": {"JTJ"}}}, 1},
			{"another department", search.Query{Filters: map[string][]string{"department": {"WJW"}}}, 0},
			{"an unknown department", search.Query{Filters: map[string][]string{"department": {"NOPE"}}}, 0},
			{"words matching nothing", search.Query{Text: "不存在的词语"}, 0},
		} {
			res, degraded, err := s.Search(ctx, c.q)
			if err != nil || !degraded || res.Total != c.want || len(res.Hits) != c.want {
				t.Errorf("%s: %d hits (%d), degraded %v, %v", c.name, res.Total, len(res.Hits), degraded, err)
			}
			if c.want > 0 && res.Hits[0].Doc.Title != "公交站点信息" {
				t.Errorf("%s: hit %+v", c.name, res.Hits[0].Doc)
			}
		}
		if len(missed) != 1 {
			t.Errorf("a degraded search counted as a miss: %v", missed)
		}
	})
}
