package server_test

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opendata/blob"
	"opendata/db"
	"opendata/db/dbtest"
)

func (e *env) form(token, path string, v url.Values) resp {
	e.t.Helper()
	v.Set("csrf_token", "tok123")
	return e.do("POST", path, token, v.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": "opendata_csrf=tok123"})
}

// The bureau edits the dictionary on the web; the search uses it at once
// (and says so), without a restart. CSV export and import round-trip, and a
// search that found nothing shows up on the bureau's list.
func TestSynonymDictionaryOnTheWeb(t *testing.T) {
	e := sqliteEnv(t)
	publishBusStops(t, e)
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	total := func(q string) (float64, map[string]any) {
		r := e.do("GET", "/api/v1/resources?q="+url.QueryEscape(q), "", nil, nil)
		j := r.json(t)
		return j["total"].(float64), j
	}
	if n, _ := total("候车点"); n != 0 {
		t.Fatalf("候车点 found %v before the dictionary knew it", n)
	}
	// Staff may look, not edit.
	if r := e.form(staff, "/console/synonyms", url.Values{"term": {"候车点"}, "synonyms": {"公交站点"}}); r.status != 403 {
		t.Fatalf("staff edited the dictionary: %d", r.status)
	}
	r := e.form(admin, "/console/synonyms", url.Values{"kind": {"equivalent"}, "term": {"候车点"}, "synonyms": {"公交站点、站台"}, "note": {"群众说法"}})
	if r.status != 200 || !strings.Contains(string(r.body), "候车点") || !strings.Contains(string(r.body), "公交站点、站台") {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	n, j := total("候车点")
	if n != 1 || !strings.Contains(strings.Join(anyStrings(j["expanded"]), ","), "公交站点") {
		t.Fatalf("候车点 after the edit: %v %v", n, j["expanded"])
	}
	if h := j["hits"].([]any)[0].(map[string]any)["title_html"]; h != "<mark>公交站点</mark>信息" {
		t.Fatalf("highlight of the synonym: %v", h)
	}
	page := string(e.do("GET", "/search?q="+url.QueryEscape("候车点"), "", nil, nil).body)
	if !strings.Contains(page, "也搜索了：公交站点") || !strings.Contains(page, "<mark>公交站点</mark>信息") {
		t.Fatalf("search page does not explain the synonym")
	}
	if !strings.Contains(string(e.do("GET", "/search?q="+url.QueryEscape("候车点")+"&lang=en", "", nil, nil).body), "Also searched for: 公交站点") {
		t.Fatal("English page does not explain the synonym")
	}
	// Invalid entries are refused with the field named.
	if r := e.form(admin, "/console/synonyms", url.Values{"term": {"候车点"}, "synonyms": {""}}); r.status != 400 {
		t.Fatalf("empty synonyms: %d", r.status)
	}

	// Export, then replace the dictionary with a one-line import.
	r = e.do("GET", "/console/synonyms.csv", admin, nil, nil)
	if r.status != 200 || !strings.HasPrefix(string(r.body), "\uFEFFkind,term,synonyms,note") || !strings.Contains(string(r.body), "equivalent,候车点,公交站点|站台,群众说法") {
		t.Fatalf("export: %d %.200s", r.status, r.body)
	}
	body, ct := multipartBody(t, "synonyms.csv", []byte("kind,term,synonyms\noneway,乘车点,公交站点\n"), map[string]string{"replace": "1", "csrf_token": "tok123"})
	r = e.do("POST", "/console/synonyms/import?csrf_token=tok123", admin, body.Bytes(), map[string]string{"Content-Type": ct, "Cookie": "opendata_csrf=tok123"})
	if r.status != 200 {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	if n, _ := total("候车点"); n != 0 {
		t.Fatal("a replaced entry is still searched")
	}
	if n, _ := total("乘车点"); n != 1 {
		t.Fatal("an imported entry is not searched")
	}
	// The JSON API: a bad CSV names the row.
	r = e.do("POST", "/api/v1/synonyms/import", admin, "term,synonyms\n乘车点,\n", map[string]string{"Content-Type": "text/csv", "Accept-Language": "en"})
	if r.status != 400 || !strings.Contains(string(r.body), "row 2") {
		t.Fatalf("bad import: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/synonyms", admin, nil, nil); r.status != 200 || len(r.json(t)["synonyms"].([]any)) != 1 {
		t.Fatalf("list: %s", r.body)
	}

	// Zero-result searches, counted per query, on the bureau's page.
	for i := 0; i < 3; i++ {
		e.do("GET", "/search?q="+url.QueryEscape("共享充电宝"), "", nil, nil)
	}
	e.do("GET", "/api/v1/resources?q="+url.QueryEscape("hospitl"), "", nil, nil)
	r = e.do("GET", "/api/v1/search/misses", admin, nil, nil)
	ms := r.json(t)["misses"].([]any)
	if len(ms) != 3 || ms[0].(map[string]any)["query"] != "共享充电宝" || ms[0].(map[string]any)["count"].(float64) != 3 {
		t.Fatalf("misses %s", r.body)
	}
	if r := e.do("GET", "/api/v1/search/misses", staff, nil, nil); r.status != 403 {
		t.Fatalf("staff read the misses: %d", r.status)
	}
	page = string(e.do("GET", "/console/search-misses", admin, nil, nil).body)
	if !strings.Contains(page, "共享充电宝") || !strings.Contains(page, "/console/synonyms?term=") {
		t.Fatal("misses page")
	}
	if r := e.form(admin, "/console/search-misses/dismiss", url.Values{"query": {"共享充电宝"}}); r.status != 200 || strings.Contains(string(r.body), "<td><a href=\"/search?q=共享充电宝") {
		t.Fatalf("dismiss: %d", r.status)
	}
}

func anyStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			out = append(out, x.(string))
		}
	}
	return out
}

// Facets: keywords are a facet, several values of one field can be chosen
// and each shows as a removable chip; results show date, rows and
// downloads; a search with no results proposes another.
func TestSearchPageFacetsAndMeta(t *testing.T) {
	e := sqliteEnv(t)
	id := publishBusStops(t, e)
	entry := busEntry(e.bus)
	entry["keywords"] = []string{"公交", "站点"}
	if r := e.do("PUT", fmt.Sprintf("/api/v1/catalog/resources/%d", id), e.login("jt_staff", "transport-pass-1"), entry, nil); r.status != 200 {
		t.Fatalf("edit: %d %s", r.status, r.body)
	}
	r := e.do("GET", "/api/v1/resources?keyword="+url.QueryEscape("公交"), "", nil, nil)
	if r.status != 200 || r.json(t)["total"].(float64) != 1 {
		t.Fatalf("keyword filter: %s", r.body)
	}
	page := string(e.do("GET", "/search?domain=transport&domain=medical&keyword="+url.QueryEscape("公交"), "", nil, nil).body)
	for _, want := range []string{`class="chips"`, "领域：交通", "领域：医疗", "关键词：公交", "去掉“公交”", "更新于", "4 行", "下载 0 次"} {
		if !strings.Contains(page, want) {
			t.Errorf("search page lacks %q", want)
		}
	}
	if strings.Contains(page, "‽") {
		t.Error("a message key is missing")
	}
	if r := e.do("GET", "/api/v1/resources?q="+url.QueryEscape("公交站典"), "", nil, nil); r.json(t)["total"].(float64) == 0 {
		t.Fatalf("a near miss found nothing: %s", r.body)
	}
	page = string(e.do("GET", "/search?q="+url.QueryEscape("站典公交站"), "", nil, nil).body)
	_ = page
	r = e.do("GET", "/api/v1/resources?q=JTJ-0001", "", nil, nil)
	if j := r.json(t); j["total"].(float64) != 0 || j["suggestion"] != "jtj-001" {
		t.Fatalf("did you mean: %s", r.body)
	}
	page = string(e.do("GET", "/search?q=JTJ-0001", "", nil, nil).body)
	if !strings.Contains(page, "您是不是要找：") || !strings.Contains(page, `href="/search?q=jtj-001"`) {
		t.Fatal("search page without did-you-mean")
	}
}

// An edit of the dictionary on one instance is used by the other within
// 2 s.
func TestSynonymsAcrossInstances(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		bs, _ := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
		one := start(t, d, bs, nil)
		two := startInstance(t, d, bs, nil)
		publishBusStops(t, one)
		admin := one.login("admin", "bureau-secret-1")
		if r := one.do("POST", "/api/v1/synonyms", admin, map[string]any{"term": "候车点", "synonyms": []string{"公交站点"}}, nil); r.status != 200 {
			t.Fatalf("put: %d %s", r.status, r.body)
		}
		deadline := time.Now().Add(2 * time.Second)
		for {
			r := two.do("GET", "/api/v1/resources?q="+url.QueryEscape("候车点"), "", nil, nil)
			if r.json(t)["total"].(float64) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the other instance does not search with the new entry within 2 s")
			}
			time.Sleep(25 * time.Millisecond)
		}
	})
}
