// Package searchtest is the conformance suite every search.Index passes.
package searchtest

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"opendata/errs"
	"opendata/search"
)

func day(n int) time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n) }

// Fixture is a small catalog with the traps a Chinese search must handle.
var Fixture = []search.Doc{
	{ID: "1", Code: "JTJ-001", Title: "公交站点信息", TitleEn: "Bus stops", Summary: "全市公交站点的位置、线路与客流", Keywords: []string{"公交", "站点"}, Items: []string{"站点编号", "站点名称"},
		DepartmentName: "市交通运输局", Department: "JTJ", Domain: "transport", Format: []string{"csv", "parquet"}, OpenType: "unconditional", UpdatePeriod: "monthly", Published: day(10), Downloads: 50},
	{ID: "2", Code: "JTJ-002", Title: "公交线路信息", TitleEn: "Bus routes", Summary: "公交线路走向与首末班时间", Keywords: []string{"公交"},
		DepartmentName: "市交通运输局", Department: "JTJ", Domain: "transport", Format: []string{"csv", "parquet"}, OpenType: "unconditional", UpdatePeriod: "quarterly", Published: day(20), Downloads: 5},
	{ID: "3", Code: "JTJ-003", Title: "出租车站点与停靠区", TitleEn: "Taxi stands", Summary: "出租车临时停靠区位置",
		DepartmentName: "市交通运输局", Department: "JTJ", Domain: "transport", Format: []string{"csv"}, OpenType: "on_application", UpdatePeriod: "monthly", Published: day(30), Downloads: 1},
	{ID: "4", Code: "WJW-001", Title: "医疗机构床位信息", TitleEn: "Hospital beds", Summary: "各医疗机构核定床位与实有床位", Keywords: []string{"医院", "床位"},
		DepartmentName: "市卫生健康委员会", Department: "WJW", Domain: "medical", Format: []string{"csv", "parquet"}, OpenType: "unconditional", UpdatePeriod: "monthly", Published: day(5), Downloads: 100},
	{ID: "5", Code: "WJW-003", Title: "医疗机构名录", TitleEn: "Medical institutions", Summary: "医疗机构名称、地址与等级",
		DepartmentName: "市卫生健康委员会", Department: "WJW", Domain: "medical", Format: []string{"csv"}, OpenType: "unconditional", UpdatePeriod: "yearly", Published: day(3), Downloads: 30},
	{ID: "6", Code: "MZJ-001", Title: "养老机构床位", TitleEn: "Elderly care beds", Summary: "养老机构床位数与入住人数",
		DepartmentName: "市民政局", Department: "MZJ", Domain: "elderly_care", Format: []string{"csv"}, OpenType: "unconditional", UpdatePeriod: "quarterly", Published: day(40), Downloads: 8},
	{ID: "7", Code: "STJ-001", Title: "空气质量监测小时数据", TitleEn: "Hourly air quality", Summary: "PM2.5、PM10 与 AQI 小时值",
		DepartmentName: "市生态环境局", Department: "STJ", Domain: "environment", Format: []string{"csv", "parquet"}, OpenType: "unconditional", UpdatePeriod: "realtime", Published: day(50), Downloads: 70},
	{ID: "8", Code: "WLJ-001", Title: "A级旅游景区", TitleEn: "Rated attractions", Summary: "恩施大峡谷、土司城等景区",
		DepartmentName: "市文化和旅游局", Department: "WLJ", Domain: "tourism", Format: []string{"csv"}, OpenType: "unconditional", UpdatePeriod: "quarterly", Published: day(15), Downloads: 12},
}

func ids(r search.Result) []string {
	var out []string
	for _, h := range r.Hits {
		out = append(out, h.ID)
	}
	return out
}

func facet(r search.Result, field, value string) int {
	for _, f := range r.Facets[field] {
		if f.Value == value {
			return f.Count
		}
	}
	return 0
}

// Run exercises an empty index; eventual-consistency backends may need
// settle to wait until their writes are searchable.
func Run(t *testing.T, idx search.Index, settle func()) {
	ctx := context.Background()
	if settle == nil {
		settle = func() {}
	}
	if err := idx.Index(ctx, Fixture...); err != nil {
		t.Fatal(err)
	}
	settle()
	s := func(t *testing.T, q search.Query) search.Result {
		t.Helper()
		r, err := idx.Search(ctx, q)
		if err != nil {
			t.Fatalf("search %+v: %v", q, err)
		}
		return r
	}

	t.Run("count", func(t *testing.T) {
		if n, err := idx.Count(ctx); err != nil || n != len(Fixture) {
			t.Fatalf("count %d %v", n, err)
		}
	})
	t.Run("whole phrase first", func(t *testing.T) {
		r := s(t, search.Query{Text: "公交站点"})
		if len(r.Hits) == 0 || r.Hits[0].ID != "1" {
			t.Fatalf("公交站点: %v", ids(r))
		}
		if r.Hits[0].Title != "公交站点信息" || r.Hits[0].DepartmentName != "市交通运输局" {
			t.Fatalf("hit fields %+v", r.Hits[0])
		}
	})
	t.Run("two characters find their titles", func(t *testing.T) {
		r := s(t, search.Query{Text: "床位"})
		got := strings.Join(ids(r), ",")
		if !strings.Contains(got, "4") || !strings.Contains(got, "6") {
			t.Fatalf("床位: %v", got)
		}
		for _, h := range r.Hits {
			if h.ID == "1" || h.ID == "7" {
				t.Fatalf("床位 matched unrelated %s", h.ID)
			}
		}
	})
	t.Run("all words rank first", func(t *testing.T) {
		r := s(t, search.Query{Text: "医疗 床位"})
		if len(r.Hits) == 0 || r.Hits[0].ID != "4" {
			t.Fatalf("医疗 床位: %v", ids(r))
		}
	})
	t.Run("one character", func(t *testing.T) {
		r := s(t, search.Query{Text: "站"})
		if len(r.Hits) == 0 {
			t.Fatal("站: no results")
		}
		for _, h := range r.Hits {
			if !strings.Contains(h.Title+h.Summary, "站") {
				t.Fatalf("站 matched %q", h.Title)
			}
		}
	})
	t.Run("english title", func(t *testing.T) {
		r := s(t, search.Query{Text: "air quality"})
		if len(r.Hits) == 0 || r.Hits[0].ID != "7" {
			t.Fatalf("air quality: %v", ids(r))
		}
	})
	t.Run("english words are stemmed", func(t *testing.T) {
		for q, want := range map[string]string{"stop": "1", "hospital": "4", "attraction": "8", "Routes": "2"} {
			r := s(t, search.Query{Text: q})
			if len(r.Hits) == 0 || r.Hits[0].ID != want {
				t.Errorf("%s: %v, want %s first", q, ids(r), want)
			}
		}
	})
	t.Run("neighbours appended after the strict hits", func(t *testing.T) {
		r := s(t, search.Query{Text: "公交站点"})
		got := ids(r)
		if len(got) < 3 || got[0] != "1" || !contains(got[1:], "2") || !contains(got[1:], "3") || r.Total != len(got) {
			t.Fatalf("公交站点: %v (total %d): the other bus list and the other stops should follow the strict hit", got, r.Total)
		}
	})
	if ss, ok := idx.(search.SynonymSetter); ok {
		t.Run("synonyms", func(t *testing.T) {
			dict := search.NewDictionary([]search.Synonym{
				{Kind: search.SynonymEquivalent, Term: "巴士", Synonyms: []string{"公交"}},
				{Kind: search.SynonymOneWay, Term: "看病", Synonyms: []string{"医疗机构"}},
			})
			if err := ss.SetSynonyms(ctx, dict); err != nil {
				t.Fatal(err)
			}
			settle()
			defer func() { ss.SetSynonyms(ctx, search.NewDictionary(nil)); settle() }()
			r := s(t, search.Query{Text: "巴士"})
			if got := strings.Join(sorted(ids(r)), ","); got != "1,2" || !contains(r.Expanded, "公交") {
				t.Fatalf("巴士: %s, expanded %v", got, r.Expanded)
			}
			r = s(t, search.Query{Text: "看病"})
			if got := strings.Join(sorted(ids(r)), ","); got != "4,5" {
				t.Fatalf("看病: %s", got)
			}
			if r := s(t, search.Query{Text: "医疗机构"}); contains(r.Expanded, "看病") {
				t.Fatalf("one-way synonym used backwards: %v", r.Expanded)
			}
		})
	}
	t.Run("keyword facet", func(t *testing.T) {
		r := s(t, search.Query{})
		if facet(r, "keyword", "公交") != 2 || facet(r, "keyword", "床位") != 1 {
			t.Fatalf("keyword facet %v", r.Facets["keyword"])
		}
		r = s(t, search.Query{Filters: map[string][]string{"keyword": {"公交"}}})
		if strings.Join(sorted(ids(r)), ",") != "1,2" {
			t.Fatalf("keyword filter %v", ids(r))
		}
	})
	t.Run("code", func(t *testing.T) {
		r := s(t, search.Query{Text: "WJW-001"})
		if len(r.Hits) == 0 || r.Hits[0].ID != "4" {
			t.Fatalf("code: %v", ids(r))
		}
	})
	t.Run("filters and facets", func(t *testing.T) {
		r := s(t, search.Query{})
		if r.Total != len(Fixture) || facet(r, "department", "JTJ") != 3 || facet(r, "domain", "medical") != 2 || facet(r, "format", "parquet") != 4 {
			t.Fatalf("facets %+v total %d", r.Facets, r.Total)
		}
		r = s(t, search.Query{Filters: map[string][]string{"department": {"JTJ"}, "open_type": {"unconditional"}}})
		if strings.Join(sorted(ids(r)), ",") != "1,2" || r.Total != 2 {
			t.Fatalf("filtered %v", ids(r))
		}
		r = s(t, search.Query{Filters: map[string][]string{"domain": {"medical", "tourism"}}})
		if r.Total != 3 {
			t.Fatalf("any-of filter %v", ids(r))
		}
		// A selected value leaves the other values of its field selectable.
		r = s(t, search.Query{Filters: map[string][]string{"department": {"JTJ"}}})
		if r.Total != 3 || facet(r, "department", "WJW") != 2 || facet(r, "department", "JTJ") != 3 || facet(r, "domain", "medical") != 0 {
			t.Fatalf("multi-select facets %+v", r.Facets)
		}
		r = s(t, search.Query{Text: "公交", Filters: map[string][]string{"update_period": {"quarterly"}}})
		if strings.Join(ids(r), ",") != "2" {
			t.Fatalf("text+filter %v", ids(r))
		}
	})
	t.Run("sorts", func(t *testing.T) {
		r := s(t, search.Query{Sort: search.SortNewest, PerPage: 3})
		if strings.Join(ids(r), ",") != "7,6,3" {
			t.Fatalf("newest %v", ids(r))
		}
		r = s(t, search.Query{Sort: search.SortDownloads, PerPage: 3})
		if strings.Join(ids(r), ",") != "4,7,1" {
			t.Fatalf("downloads %v", ids(r))
		}
	})
	t.Run("pagination", func(t *testing.T) {
		p1 := s(t, search.Query{Sort: search.SortNewest, PerPage: 3, Page: 1})
		p3 := s(t, search.Query{Sort: search.SortNewest, PerPage: 3, Page: 3})
		if p1.Total != 8 || len(p3.Hits) != 2 || strings.Join(ids(p3), ",") != "4,5" {
			t.Fatalf("page 3 %v", ids(p3))
		}
	})
	t.Run("hostile input", func(t *testing.T) {
		for _, q := range []string{`"公交`, `\`, `' OR 1=1 --`, `domain = "x" OR`, `*:*`, `+-&&||!(){}[]^"~*?:\/`, "公交\x00站点", strings.Repeat("站", 150)} {
			if _, err := idx.Search(ctx, search.Query{Text: q}); err != nil {
				t.Errorf("%q: %v", q, err)
			}
		}
		for _, q := range []search.Query{{Text: strings.Repeat("站", 10000)}, {Text: "\xff\xfe"}, {Sort: "price"}, {Filters: map[string][]string{"password": {"x"}}}} {
			if _, err := idx.Search(ctx, q); !errors.Is(err, errs.Invalid) {
				t.Errorf("%+v: want Invalid, got %v", q.Sort, err)
			}
		}
		r := s(t, search.Query{Filters: map[string][]string{"department": {`JTJ" OR department = "WJW`}}})
		if r.Total != 0 {
			t.Fatalf("filter injection matched %v", ids(r))
		}
	})
	t.Run("update and delete", func(t *testing.T) {
		d := Fixture[7]
		d.Title = "恩施大峡谷景区客流"
		if err := idx.Index(ctx, d); err != nil {
			t.Fatal(err)
		}
		if err := idx.Delete(ctx, "2"); err != nil {
			t.Fatal(err)
		}
		settle()
		if r := s(t, search.Query{Text: "大峡谷"}); len(r.Hits) == 0 || r.Hits[0].Title != "恩施大峡谷景区客流" {
			t.Fatalf("updated doc %v", r.Hits)
		}
		if r := s(t, search.Query{Text: "公交线路"}); len(r.Hits) > 0 && r.Hits[0].ID == "2" {
			t.Fatal("deleted doc still found")
		}
		if n, _ := idx.Count(ctx); n != len(Fixture)-1 {
			t.Fatalf("count after delete %d", n)
		}
	})
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func sorted(s []string) []string {
	sort.Strings(s)
	return s
}
