package relevance_test

import (
	"context"
	"math"
	"testing"

	"opendata/auth"
	"opendata/catalog"
	"opendata/db/dbtest"
	"opendata/publish"
	"opendata/search"
	"opendata/search/relevance"
	"opendata/synonyms"
)

func TestScore(t *testing.T) {
	rel := map[string]int{"a": 3, "b": 2, "c": 1}
	if s := relevance.Score([]string{"a", "b", "c"}, rel); math.Abs(s.NDCG-1) > 1e-9 || s.MRR != 1 || s.Recall != 1 {
		t.Fatalf("ideal ranking %+v", s)
	}
	s := relevance.Score([]string{"x", "c", "b", "a"}, rel)
	// DCG = 1/log2(3) + 3/log2(4) + 7/log2(5); IDCG = 7 + 3/log2(3) + 1/2
	want := (1/math.Log2(3) + 3.0/2 + 7/math.Log2(5)) / (7 + 3/math.Log2(3) + 0.5)
	if math.Abs(s.NDCG-want) > 1e-9 || s.MRR != 0.5 || s.Recall != 1 {
		t.Fatalf("reversed ranking %+v, want nDCG %.4f", s, want)
	}
	if s := relevance.Score(nil, rel); s.NDCG != 0 || s.MRR != 0 || s.Recall != 0 {
		t.Fatalf("no results %+v", s)
	}
	if s := relevance.Score([]string{"a"}, rel); math.Abs(s.Recall-1.0/3) > 1e-9 {
		t.Fatalf("recall %+v", s)
	}
}

// Floors under the judged set's scores (bench/relevance prints them): a
// change to the analysis, the ranking or the dictionary that makes the
// search find worse fails here.
const (
	floorOverall = 0.93
	floorClass   = 0.85
)

func TestJudgedSetDoesNotRegress(t *testing.T) {
	ctx := context.Background()
	cat, qs, err := relevance.Load("../testdata/relevance")
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Entries) < 150 || len(qs) < 40 {
		t.Fatalf("the judged set shrank: %d entries, %d queries", len(cat.Entries), len(qs))
	}
	d := dbtest.SQLite(t)
	idx, err := search.OpenBleve("")
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	store := &synonyms.Store{DB: d}
	if err := store.SeedIfEmpty(ctx); err != nil {
		t.Fatal(err)
	}
	dict, err := store.Dictionary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	idx.SetSynonyms(ctx, dict)
	svc := &publish.Service{DB: d, Catalog: &catalog.Store{DB: d}, Index: idx, Approver: "dept_admin"}
	if err := relevance.Build(ctx, svc, &auth.Store{DB: d}, cat); err != nil {
		t.Fatal(err)
	}
	rep, err := relevance.Evaluate(ctx, idx, qs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("nDCG@10 %.3f, recall@10 %.3f, MRR %.3f", rep.Overall.NDCG, rep.Overall.Recall, rep.Overall.MRR)
	if rep.Overall.NDCG < floorOverall {
		t.Errorf("nDCG@10 %.3f < %.2f", rep.Overall.NDCG, floorOverall)
	}
	for _, c := range relevance.Classes {
		if s, ok := rep.ByClass[c]; !ok || s.NDCG < floorClass {
			t.Errorf("class %s: nDCG@10 %.3f < %.2f", c, s.NDCG, floorClass)
		}
	}
	if t.Failed() {
		for _, r := range rep.Queries {
			if r.NDCG < 0.8 {
				t.Logf("%s %q: %.3f %v", r.Class, r.Q, r.NDCG, r.Ranked)
			}
		}
	}
}
