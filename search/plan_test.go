package search

import (
	"context"
	"slices"
	"testing"
)

func TestPairsNeeded(t *testing.T) {
	for _, c := range []struct {
		ws   []string
		want bool
	}{
		{nil, true},                      // only stop words
		{[]string{"养老", "机构"}, false},    // dictionary words
		{[]string{"停车场"}, false},         // one dictionary word
		{[]string{"崔", "家", "坝"}, true},  // an unknown name fell apart
		{[]string{"恩施", "坝"}, true},      // partly unknown
		{[]string{"pm2.5", "数据"}, false}, // a Latin word is whole
	} {
		if got := pairsNeeded(c.ws); got != c.want {
			t.Errorf("pairsNeeded(%q) = %v, want %v", c.ws, got, c.want)
		}
	}
}

// A synonym that holds every word it stands for is not searched again (it
// finds nothing new), and what it would have found is still found; other
// synonyms are searched and reported.
func TestSubsumedSynonyms(t *testing.T) {
	ctx := context.Background()
	b, err := OpenBleve("")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dict := NewDictionary([]Synonym{
		{Kind: SynonymOneWay, Term: "景区", Synonyms: []string{"a级旅游景区", "景点"}},
		{Kind: SynonymOneWay, Term: "旅游景区", Synonyms: []string{"旅游景点", "a级旅游景区"}},
	})
	b.SetSynonyms(ctx, dict)
	b.Index(ctx,
		Doc{ID: "1", Title: "A级旅游景区名录"},
		Doc{ID: "2", Title: "旅游景点分布"},
		Doc{ID: "3", Title: "景点门票价格"},
		Doc{ID: "4", Title: "公交站点信息"})
	for _, c := range []struct {
		q        string
		found    []string
		expanded []string
	}{
		{"景区", []string{"1", "3"}, []string{"景点"}},
		{"旅游景区", []string{"1", "2"}, []string{"景点", "旅游景点"}}, // 景点 for the word 景区
	} {
		p := makePlan(c.q, dict)
		if !slices.Equal(p.expanded, c.expanded) {
			t.Errorf("%s: expanded %q, want %q", c.q, p.expanded, c.expanded)
		}
		r, err := b.Search(ctx, Query{Text: c.q})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, h := range r.Hits {
			if !slices.Contains(ids, h.ID) {
				ids = append(ids, h.ID)
			}
		}
		for _, id := range c.found {
			if !slices.Contains(ids, id) {
				t.Errorf("%s found %q, not %s", c.q, ids, id)
			}
		}
		if slices.Contains(ids, "4") {
			t.Errorf("%s found the bus stops", c.q)
		}
	}
}
