package search

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The request building is tested without a server; the conformance suite
// runs against a real Meilisearch when TEST_MEILISEARCH_URL is set.
func TestMeiliFilter(t *testing.T) {
	cases := []struct {
		in   map[string][]string
		want string
	}{
		{nil, ""},
		{map[string][]string{"domain": {"transport"}}, `(domain = "transport")`},
		{map[string][]string{"open_type": {"unconditional"}, "department": {"JTJ", "WJW"}},
			`(department = "JTJ" OR department = "WJW") AND (open_type = "unconditional")`},
		{map[string][]string{"department": {`JTJ" OR department = "WJW`}}, `(department = "JTJ\" OR department = \"WJW")`},
		{map[string][]string{"department": {`a\`}}, `(department = "a\\")`},
		{map[string][]string{"domain": {}}, ""},
	}
	for _, c := range cases {
		if got := meiliFilter(c.in); got != c.want {
			t.Errorf("meiliFilter(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestMeiliRequest(t *testing.T) {
	q := Query{Text: "公交 站点", Sort: SortNewest, Page: 3, PerPage: 10, Filters: map[string][]string{"domain": {"transport"}}}
	if err := q.Normalize(); err != nil {
		t.Fatal(err)
	}
	req := meiliRequest(q)
	b, _ := json.Marshal(req)
	s := string(b)
	for _, want := range []string{`"offset":20`, `"limit":10`, `"filter":"(domain = \"transport\")"`, `"sort":["published:desc"]`,
		`"facets":["department","domain","keyword","format","open_type","update_period"]`, `"matchingStrategy":"last"`} {
		if !strings.Contains(s, want) {
			t.Errorf("request lacks %s: %s", want, s)
		}
	}
	if r := meiliRequest(Query{Sort: SortRelevance, Page: 1, PerPage: 20}); r.Sort != nil || r.Filter != nil {
		t.Errorf("relevance request %+v", r)
	}
	st := MeiliSettings()
	if strings.Join(st.FilterableAttributes, ",") != strings.Join(FacetFields, ",") || st.SortableAttributes[0] != "published" {
		t.Errorf("settings %+v", st)
	}
	d := Doc{ID: "9", Title: "t", Published: time.Unix(1700000000, 0).UTC(), Format: []string{"csv"}}
	if back := toMeili(d).doc(); back.Published != d.Published || back.Format[0] != "csv" {
		t.Errorf("round trip %+v", back)
	}
}
