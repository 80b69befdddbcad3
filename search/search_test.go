package search_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"opendata/search"
	"opendata/search/searchtest"
)

func TestBleveMemory(t *testing.T) {
	idx, err := search.OpenBleve("")
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	searchtest.Run(t, idx, nil)
}

func TestBleveOnDisk(t *testing.T) {
	dir := t.TempDir() + "/idx"
	idx, err := search.OpenBleve(dir)
	if err != nil {
		t.Fatal(err)
	}
	searchtest.Run(t, idx, nil)
	idx.Close()
	again, err := search.OpenBleve(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if n, _ := again.Count(t.Context()); n != len(searchtest.Fixture)-1 {
		t.Fatalf("reopened index has %d docs", n)
	}
}

func TestHighlight(t *testing.T) {
	cases := []struct{ text, q, want string }{
		{"公交站点信息", "公交站点", "<mark>公交站点</mark>信息"},
		{"医疗机构床位信息", "医疗 床位", "<mark>医疗</mark>机构<mark>床位</mark>信息"},
		{"公交<script>站点", "站点", "公交&lt;script&gt;<mark>站点</mark>"},
		{"Hourly Air quality", "air", "Hourly <mark>Air</mark> quality"},
		{"出租车站点与停靠区", "公交站点", "出租车<mark>站点</mark>与停靠区"},
		{"无关", "公交", "无关"},
	}
	for _, c := range cases {
		if got := string(search.Highlight(c.text, c.q)); got != c.want {
			t.Errorf("Highlight(%q, %q) = %q, want %q", c.text, c.q, got, c.want)
		}
	}
}

func TestTerms(t *testing.T) {
	if got := strings.Join(search.Terms(" 医疗　床位,\"公交\" "), "|"); got != "医疗|床位|公交" {
		t.Fatalf("terms %q", got)
	}
}

func TestMeiliConformance(t *testing.T) {
	url := os.Getenv("TEST_MEILISEARCH_URL")
	if url == "" {
		t.Skip("TEST_MEILISEARCH_URL not set; Meilisearch cannot be installed on the build machines, so its suite runs where one is available")
	}
	idx, err := search.OpenMeili(context.Background(), url, os.Getenv("TEST_MEILISEARCH_KEY"), "opendata_test_"+time.Now().Format("150405.000000")[7:])
	if err != nil {
		t.Fatal(err)
	}
	searchtest.Run(t, idx, nil)
}

// Facet counts are cached until a write that may change them.
func TestFacetCache(t *testing.T) {
	idx, _ := search.OpenBleve("")
	defer idx.Close()
	ctx := context.Background()
	idx.Index(ctx, searchtest.Fixture...)
	count := func() int {
		r, err := idx.Search(ctx, search.Query{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range r.Facets["department"] {
			if f.Value == "JTJ" {
				return f.Count
			}
		}
		return 0
	}
	if count() != 3 {
		t.Fatal("initial count")
	}
	d := searchtest.Fixture[0]
	d.Downloads = 999
	idx.IndexSameFacets(ctx, d) // a count refresh keeps the cache…
	r, _ := idx.Search(ctx, search.Query{Sort: search.SortDownloads, PerPage: 1})
	if r.Hits[0].ID != "1" {
		t.Fatal("the refreshed document is not searchable with its new count")
	}
	idx.Delete(ctx, "2") // …a real change clears it
	if count() != 2 {
		t.Fatalf("facet count after delete: %d", count())
	}
	n := searchtest.Fixture[1]
	n.ID = "99"
	idx.Index(ctx, n)
	if count() != 3 {
		t.Fatalf("facet count after add: %d", count())
	}
}

// A search that finds nothing proposes the nearest known word.
func TestDidYouMean(t *testing.T) {
	idx, _ := search.OpenBleve("")
	defer idx.Close()
	ctx := context.Background()
	idx.Index(ctx, searchtest.Fixture...)
	for q, want := range map[string]string{"hospitl": "hospital", "atractions": "attractions", "WJW-0001": "wjw-001"} {
		r, err := idx.Search(ctx, search.Query{Text: q})
		if err != nil || r.Total != 0 || r.Suggestion != want {
			t.Errorf("%s: total %d, suggestion %q, want %q (%v)", q, r.Total, r.Suggestion, want, err)
		}
	}
	if r, _ := idx.Search(ctx, search.Query{Text: "公交"}); r.Suggestion != "" {
		t.Errorf("a search with results suggests %q", r.Suggestion)
	}
}

// Chinese text is cut into words; Latin runs stay whole.
func TestWords(t *testing.T) {
	for in, want := range map[string]string{
		"农副产品零售价格":         "农副产品|零售价格",
		"PM2.5、PM10 与 AQI": "pm2.5|pm10|与|aqi",
		"ＪＴＪ-001公交站点":      "jtj-001|公交站点",
	} {
		if got := strings.Join(search.Words(in, false), "|"); got != want {
			t.Errorf("Words(%q) = %s, want %s", in, got, want)
		}
	}
	if got := strings.Join(search.Words("公交站点", true), "|"); !strings.Contains(got, "公交") || !strings.Contains(got, "站点") {
		t.Errorf("search mode %s", got)
	}
}
