package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// The GBK bus-stop file as an old system exports it.
const busStopsGBK = "站点编号,站点名称,日均客流,负责人身份证\r\n" +
	"1,舞阳坝,\"1,200.50\",11010519491231002X\r\n" +
	"2,土桥坝,950,11010519491231002X\r\n" +
	"3,人民广场,800,110105194912310021\r\n" +
	"4,\"火车站,北广场\",650,11010519491231002X\r\n"

// publishBusStops registers, uploads and publishes the bus stops; it
// returns the resource id.
func publishBusStops(t *testing.T, e *env) int64 {
	t.Helper()
	staff := e.login("jt_staff", "transport-pass-1")
	r := e.do("POST", "/api/v1/catalog/resources", staff, busEntry(e.bus), nil)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := int64(r.json(t)["id"].(float64))
	r = e.upload(staff, id, "公交站点.csv", gbk(busStopsGBK))
	if j := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string)); j["status"] != "succeeded" {
		t.Fatalf("ingest: %v", j)
	}
	// Not public before publication.
	if r := e.do("GET", fmt.Sprintf("/api/v1/resources/%d", id), "", nil, nil); r.status != 404 {
		t.Fatalf("draft is public: %d", r.status)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/submit", id), staff, nil, nil); r.status != 200 || r.json(t)["versions"].(map[string]any)["v1"] != "submitted" {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/approve", id), staff, nil, nil); r.status != 403 {
		t.Fatalf("staff approved: %d %s", r.status, r.body)
	}
	admin := e.login("admin", "bureau-secret-1")
	if r := e.do("GET", "/api/v1/review-queue", admin, nil, nil); r.status != 200 || !strings.Contains(string(r.body), `"code":"JTJ-001"`) {
		t.Fatalf("queue: %s", r.body)
	}
	r = e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/approve", id), admin, nil, nil)
	if r.status != 200 || r.json(t)["published_version"].(float64) != 1 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	return id
}

func TestPublishAndDiscover(t *testing.T) {
	e := sqliteEnv(t)
	id := publishBusStops(t, e)

	// The public finds it first for "公交站点", with highlights and facets.
	r := e.do("GET", "/api/v1/resources?q="+url.QueryEscape("公交站点"), "", nil, nil)
	res := r.json(t)
	hits := res["hits"].([]any)
	if r.status != 200 || len(hits) == 0 || hits[0].(map[string]any)["id"] != fmt.Sprint(id) {
		t.Fatalf("search: %d %s", r.status, r.body)
	}
	if h := hits[0].(map[string]any)["title_html"]; h != "<mark>公交站点</mark>信息" {
		t.Fatalf("highlight %v", h)
	}
	if f := res["facets"].(map[string]any)["department"].([]any)[0].(map[string]any); f["value"] != "JTJ" || f["count"].(float64) != 1 {
		t.Fatalf("facets %v", res["facets"])
	}
	page := e.do("GET", "/search?q="+url.QueryEscape("公交站点"), "", nil, nil)
	if page.status != 200 || !strings.Contains(string(page.body), "<mark>公交站点</mark>信息") || strings.Contains(string(page.body), "‽") {
		t.Fatalf("search page: %d", page.status)
	}

	// Dataset page and JSON.
	r = e.do("GET", fmt.Sprintf("/datasets/%d", id), "", nil, nil)
	body := string(r.body)
	for _, want := range []string{"公交站点信息", "无条件开放", "每月", "数据预览", "舞阳坝", "110105********002X", "下载 CSV", "curl", "import pandas"} {
		if !strings.Contains(body, want) {
			t.Errorf("dataset page lacks %q", want)
		}
	}
	if strings.Contains(body, "11010519491231002X") || strings.Contains(body, "‽") {
		t.Fatal("dataset page leaks personal data or misses a message")
	}
	if r := e.do("GET", fmt.Sprintf("/datasets/%d?lang=en", id), "", nil, nil); !strings.Contains(string(r.body), "Open to all") || !strings.Contains(string(r.body), `lang="en"`) {
		t.Fatal("English page")
	}
	meta := e.do("GET", fmt.Sprintf("/api/v1/resources/%d", id), "", nil, nil).json(t)
	cols := meta["columns"].([]any)
	if meta["code"] != "JTJ-001" || len(cols) != 4 || cols[3].(map[string]any)["open"] != "masked" || meta["department"].(map[string]any)["code"] != "JTJ" {
		t.Fatalf("resource json %v", meta)
	}

	// Download CSV: the input's rows, cleaned, personal data masked.
	r = e.do("GET", fmt.Sprintf("/api/v1/resources/%d/download/open.csv", id), "", nil, nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv download %d %v", r.status, r.header)
	}
	cd := r.header.Get("Content-Disposition")
	if !strings.Contains(cd, `filename=JTJ-001-v1.csv`) || !strings.Contains(cd, "filename*=UTF-8''"+url.PathEscape("公交站点信息-v1.csv")) {
		t.Fatalf("content disposition %q", cd)
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.body, []byte("\uFEFF")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"站点编号", "站点名称", "日均客流", "负责人身份证"}, {"1", "舞阳坝", "1200.50", "110105********002X"},
		{"2", "土桥坝", "950", "110105********002X"}, {"3", "人民广场", "800", "110105********0021"}, {"4", "火车站,北广场", "650", "110105********002X"}}
	if fmt.Sprint(recs) != fmt.Sprint(want) {
		t.Fatalf("csv\n got %v\nwant %v", recs, want)
	}
	etag := r.header.Get("ETag")
	if r := e.do("GET", fmt.Sprintf("/api/v1/resources/%d/download/open.csv", id), "", nil, map[string]string{"If-None-Match": etag}); r.status != 304 {
		t.Fatalf("If-None-Match: %d", r.status)
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/resources/%d/download/open.csv", id), "", nil, map[string]string{"Range": "bytes=3-14"}); r.status != 206 || string(r.body) != "站点编号" {
		t.Fatalf("range: %d %q", r.status, r.body)
	}

	// Download Parquet and compare typed values.
	r = e.do("GET", fmt.Sprintf("/datasets/%d/download/open.parquet", id), "", nil, nil)
	rdr, err := file.NewParquetReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("parquet: %v", err)
	}
	fr, _ := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	if tbl.NumRows() != 4 || tbl.Schema().Field(2).Type.Name() != "float64" {
		t.Fatalf("parquet rows %d schema %v", tbl.NumRows(), tbl.Schema())
	}
	vals := tbl.Column(2).Data().Chunk(0).(*array.Float64)
	if vals.Value(0) != 1200.5 || vals.Value(3) != 650 {
		t.Fatalf("values %v", vals)
	}

	// Catalog exports.
	r = e.do("GET", "/api/v1/catalog.jsonld", "", nil, nil)
	if !strings.Contains(string(r.body), `"dcat:Dataset"`) || !strings.Contains(string(r.body), "公交站点信息") || !strings.Contains(string(r.body), "frequency/MONTHLY") {
		t.Fatalf("dcat: %s", r.body)
	}
	r = e.do("GET", "/api/v1/catalog.csv", "", nil, nil)
	if !bytes.HasPrefix(r.body, []byte("\uFEFFcode,name")) || !strings.Contains(string(r.body), "JTJ-001,公交站点信息,市交通运输局,transport") {
		t.Fatalf("csv export: %s", r.body)
	}

	// An edit of the published entry reaches the index at once.
	staff := e.login("jt_staff", "transport-pass-1")
	edit := busEntry(e.bus)
	edit["name"] = "公交站点与站牌信息"
	if r := e.do("PUT", fmt.Sprintf("/api/v1/catalog/resources/%d", id), staff, edit, nil); r.status != 200 {
		t.Fatalf("edit: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/api/v1/resources?q="+url.QueryEscape("站牌"), "", nil, nil)
	if hits := r.json(t)["hits"].([]any); len(hits) != 1 || hits[0].(map[string]any)["title"] != "公交站点与站牌信息" {
		t.Fatalf("search after edit: %s", r.body)
	}

	// Withdrawal: announced on the page, still downloadable during notice.
	admin := e.login("admin", "bureau-secret-1")
	r = e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/withdrawal", id), admin, map[string]any{"reason": "并入省级平台发布", "notice_days": 30}, nil)
	if r.status != 200 || r.json(t)["withdraw_reason"] != "并入省级平台发布" {
		t.Fatalf("withdraw: %d %s", r.status, r.body)
	}
	if r := e.do("GET", fmt.Sprintf("/datasets/%d", id), "", nil, nil); !strings.Contains(string(r.body), "并入省级平台发布") {
		t.Fatal("withdrawal notice not on the page")
	}
}

func TestSearchBadInput(t *testing.T) {
	e := sqliteEnv(t)
	publishBusStops(t, e)
	inputs := []string{`"`, `\`, `'; DROP TABLE resources; --`, `domain = "transport" OR 1=1`, `*`, `公交" OR "1"="1`, "%00", "%ff%fe",
		strings.Repeat("公", 10000), "<script>alert(1)</script>"}
	for _, path := range []string{"/search?q=", "/api/v1/resources?q="} {
		for _, in := range inputs {
			q := in
			if !strings.HasPrefix(in, "%") {
				q = url.QueryEscape(in)
			}
			r := e.do("GET", path+q, "", nil, nil)
			if r.status != 200 && r.status != 400 {
				t.Errorf("%s%q: status %d", path, in, r.status)
			}
			if strings.Contains(string(r.body), "<script>alert") {
				t.Errorf("%s: unescaped input echoed", path)
			}
		}
		for _, bad := range []string{"sort=price", "page=-1&per_page=abc", "department=" + url.QueryEscape(`JTJ" OR department = "WJW`), "page=100000"} {
			r := e.do("GET", strings.Replace(path, "q=", bad, 1), "", nil, nil)
			if r.status >= 500 {
				t.Errorf("%s%s: %d", path, bad, r.status)
			}
		}
	}
	if r := e.do("GET", "/api/v1/resources?q="+url.QueryEscape(strings.Repeat("公", 10000)), "", nil, map[string]string{"Accept-Language": "en"}); r.status != 400 || !strings.Contains(string(r.body), "q: longer than") {
		t.Fatalf("long query: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/resources?sort=price", "", nil, map[string]string{"Accept-Language": "en"}); r.status != 400 || !strings.Contains(string(r.body), "sort:") {
		t.Fatalf("bad sort: %d %s", r.status, r.body)
	}
}

// When the search backend is down the catalog is still listed and filtered
// from the database, and says so.
func TestSearchDegraded(t *testing.T) {
	e := sqliteEnv(t)
	publishBusStops(t, e)
	e.app.Index.Close() // the embedded index now fails every call
	r := e.do("GET", "/api/v1/resources?q="+url.QueryEscape("公交")+"&domain=transport", "", nil, nil)
	res := r.json(t)
	if r.status != 200 || res["degraded"] != true || res["total"].(float64) != 1 {
		t.Fatalf("degraded: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/search?q="+url.QueryEscape("公交"), "", nil, nil); r.status != 200 || !strings.Contains(string(r.body), "搜索服务暂时不可用") || !strings.Contains(string(r.body), "<mark>公交</mark>站点信息") {
		t.Fatalf("degraded page: %d %s", r.status, r.body)
	}
	// The instance still serves: ready, with search reported degraded.
	if r := e.do("GET", "/readyz", "", nil, nil); r.status != 200 || !strings.Contains(string(r.body), `"search":"unavailable"`) || !strings.Contains(string(r.body), `"degraded":["search"]`) {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
}
