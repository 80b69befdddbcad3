package synonyms_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
	"opendata/publish"
	"opendata/search"
	"opendata/synonyms"
)

func TestParseCSV(t *testing.T) {
	good := "\uFEFF类型,词语,同义词,说明\n等价,社保,社会保险|社保卡,简称\n单向,学校,小学、中学,\noneway, 公厕 ,公共厕所,\n\n"
	es, err := synonyms.ParseCSV(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 || es[0].Kind != search.SynonymEquivalent || es[1].Kind != search.SynonymOneWay || strings.Join(es[1].Synonyms, ",") != "小学,中学" ||
		es[2].Term != "公厕" || es[0].Note != "简称" {
		t.Fatalf("parsed %+v", es)
	}
	for in, want := range map[string]string{
		"":                       "no header row",
		"word,other\n社保,社会保险\n":  "needs the columns term and synonyms",
		"term,synonyms\n社保,\n":   "row 2, synonyms: at least one word other than the term",
		"term,synonyms\n社保,社保\n": "row 2, synonyms: at least one word",
		"kind,term,synonyms\nsome,社保,社会保险\n":                 "row 2, kind: equivalent or oneway",
		"term,synonyms\n社保,社会保险\n社保,社保卡\n":                   "row 3, term: \"社保\" is already on row 2",
		"term,synonyms\n" + strings.Repeat("长", 51) + ",x\n": "row 2, term: 1 to 50 characters",
		"term,synonyms\n\"社保,社会保险\n":                         "row 2:",
	} {
		_, err := synonyms.ParseCSV(strings.NewReader(in))
		if !errors.Is(err, errs.Invalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestDictionaryDirections(t *testing.T) {
	d := search.NewDictionary([]search.Synonym{
		{Kind: search.SynonymEquivalent, Term: "社保", Synonyms: []string{"社会保险"}},
		{Kind: search.SynonymOneWay, Term: "学校", Synonyms: []string{"小学", "幼儿园"}},
		{Kind: search.SynonymEquivalent, Term: "CPI", Synonyms: []string{"居民消费价格指数"}},
	})
	if got := d.Expand("社会保险"); len(got) != 1 || got[0] != "社保" {
		t.Errorf("equivalent backwards: %v", got)
	}
	if got := d.Expand("学校"); strings.Join(got, ",") != "小学,幼儿园" {
		t.Errorf("one way: %v", got)
	}
	if got := d.Expand("小学"); got != nil {
		t.Errorf("one way backwards: %v", got)
	}
	if got := d.Expand("ｃｐｉ"); len(got) != 1 {
		t.Errorf("folded lookup: %v", got)
	}
	if m := d.Map(); len(m["cpi"]) != 1 || len(m["居民消费价格指数"]) != 1 {
		t.Errorf("map %v", m)
	}
}

func TestStore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := &synonyms.Store{DB: d}
		if err := s.SeedIfEmpty(ctx); err != nil {
			t.Fatal(err)
		}
		all, _ := s.List(ctx)
		if len(all) < 250 {
			t.Fatalf("seeded %d entries", len(all))
		}
		before, _ := publish.LatestChange(ctx, d)
		if err := s.SeedIfEmpty(ctx); err != nil {
			t.Fatal(err)
		}
		if again, _ := s.List(ctx); len(again) != len(all) {
			t.Fatal("seeded twice")
		}
		e, err := s.Put(ctx, "admin", search.Synonym{Term: "公租房", Synonyms: []string{"公共租赁住房"}, Note: "简称"})
		if err != nil || e.ID == 0 {
			t.Fatalf("put %v %+v", err, e)
		}
		if after, _ := publish.LatestChange(ctx, d); after <= before {
			t.Fatal("an edit left no change in the search change log")
		}
		dict, _ := s.Dictionary(ctx)
		if got := dict.Expand("公租房"); len(got) != 1 || got[0] != "公共租赁住房" {
			t.Fatalf("dictionary %v", got)
		}
		if _, err := s.Put(ctx, "admin", search.Synonym{Term: "x"}); !errors.Is(err, errs.Invalid) {
			t.Fatalf("invalid put: %v", err)
		}
		if err := s.Delete(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, e.ID); !errors.Is(err, errs.NotFound) {
			t.Fatalf("second delete: %v", err)
		}
		// Export, then import with replace: the same dictionary.
		all, _ = s.List(ctx)
		var buf bytes.Buffer
		if err := synonyms.WriteCSV(&buf, all); err != nil {
			t.Fatal(err)
		}
		parsed, err := synonyms.ParseCSV(&buf)
		if err != nil || len(parsed) != len(all) {
			t.Fatalf("round trip: %v %d/%d", err, len(parsed), len(all))
		}
		if n, err := s.Import(ctx, "admin", parsed[:10], true); err != nil || n != 10 {
			t.Fatalf("import %d %v", n, err)
		}
		if left, _ := s.List(ctx); len(left) != 10 {
			t.Fatalf("replace left %d", len(left))
		}
		if err := s.SeedIfEmpty(ctx); err != nil {
			t.Fatal(err)
		}
		if left, _ := s.List(ctx); len(left) != 10 {
			t.Fatal("the seed came back over the bureau's dictionary")
		}
	})
}

func TestMisses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		var m synonyms.Misses
		for _, q := range []string{"公租房", "公租房", "廉租房", "公租房"} {
			m.Add(q)
		}
		if err := m.Flush(ctx, d); err != nil {
			t.Fatal(err)
		}
		m.Add("公租房")
		m.Flush(ctx, d)
		ms, err := synonyms.ListMisses(ctx, d, 10)
		if err != nil || len(ms) != 2 || ms[0].Query != "公租房" || ms[0].Count != 4 || ms[1].Count != 1 {
			t.Fatalf("misses %+v %v", ms, err)
		}
		// A flood of distinct queries is bounded between flushes.
		for i := 0; i < 20000; i++ {
			m.Add(strings.Repeat("x", i%50) + string(rune('a'+i%26)) + string(rune(0x4e00+i)))
		}
		m.Flush(ctx, d)
		ms, _ = synonyms.ListMisses(ctx, d, 100000)
		if len(ms) > 5002 {
			t.Fatalf("kept %d distinct queries", len(ms))
		}
		if err := synonyms.DismissMiss(ctx, d, "公租房"); err != nil {
			t.Fatal(err)
		}
	})
}
