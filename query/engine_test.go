package query_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	_ "github.com/duckdb/duckdb-go/v2"

	"opendata/blob"
	"opendata/errs"
	"opendata/query"
)

// fixture writes a 1,000-row Parquet file under key in a local blob store:
// id 0..999, town t0..t9, 金额 = id*1.5 (null every 7th), flag (even ids),
// day from 2024-01-01, note null every 3rd.
func fixture(t testing.TB, rows int) (*query.Engine, blob.Store) {
	t.Helper()
	dir := t.TempDir()
	bs, err := blob.NewLocal(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	WriteParquet(t, filepath.Join(dir, "src.parquet"), rows)
	f, err := os.Open(filepath.Join(dir, "src.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := bs.Put(context.Background(), "resources/1/v1/open.parquet", f, -1); err != nil {
		t.Fatal(err)
	}
	sh, _ := time.LoadLocation("Asia/Shanghai")
	e, err := query.Open(bs, query.Options{CacheDir: filepath.Join(dir, "cache"), Location: sh, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, bs
}

// WriteParquet makes the fixture file with a separate, unrestricted DuckDB.
func WriteParquet(t testing.TB, path string, rows int) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = db.Exec(fmt.Sprintf(`COPY (SELECT i AS id, 't' || (i %% 10) AS town,
		CASE WHEN i %% 7 = 0 THEN NULL ELSE i * 1.5 END::DOUBLE AS "金额", i %% 2 = 0 AS flag,
		DATE '2024-01-01' + (i %% 365)::INT AS day,
		TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i) AS at,
		CASE WHEN i %% 3 = 0 THEN NULL ELSE '站' || i END AS note
		FROM range(%d) r(i)) TO '%s' (FORMAT parquet, ROW_GROUP_SIZE 100000)`, rows, path))
	if err != nil {
		t.Fatal(err)
	}
}

type answer struct {
	Fields  []query.Column   `json:"fields"`
	Records []map[string]any `json:"records"`
	Count   *int64           `json:"count"`
	Next    *string          `json:"next_cursor"`
	Return  int              `json:"returned"`
}

var signer = query.Signer{Secret: []byte("test secret")}

func run(t *testing.T, e *query.Engine, params string) (answer, error) {
	t.Helper()
	v, err := url.ParseQuery(params)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Prepare(context.Background(), signer, query.Request{Resource: 1, Version: 1, Variant: "open", Key: "resources/1/v1/open.parquet", Params: v})
	if err != nil {
		return answer{}, err
	}
	var buf bytes.Buffer
	if _, err := p.Write(context.Background(), &buf, nil); err != nil {
		return answer{}, err
	}
	var a answer
	if v.Get("format") == "" || v.Get("format") == "json" {
		if err := json.Unmarshal(buf.Bytes(), &a); err != nil {
			t.Fatalf("%s: %v\n%s", params, err, buf.String())
		}
	} else {
		a.Records = []map[string]any{{"raw": buf.String()}}
	}
	return a, nil
}

func ids(a answer) []int {
	var out []int
	for _, r := range a.Records {
		out = append(out, int(r["id"].(float64)))
	}
	return out
}

func TestRecords(t *testing.T) {
	e, _ := fixture(t, 1000)
	q := url.QueryEscape
	for _, tc := range []struct {
		params string
		want   []int
		count  int64
	}{
		{"limit=3", []int{0, 1, 2}, -1},
		{"filter=" + q("town eq t3") + "&limit=3&count=true", []int{3, 13, 23}, 100},
		{"filter=" + q("town eq 't3' and id ge 500") + "&limit=2", []int{503, 513}, -1},
		{"filter=" + q("id lt 3 or id gt 997"), []int{0, 1, 2, 998, 999}, -1},
		{"filter=" + q("id in (5, 50, 500)") + "&sort=-id", []int{500, 50, 5}, -1},
		{"filter=" + q("金额 is null and id lt 30"), []int{0, 7, 14, 21, 28}, -1},
		{"filter=" + q("note is not null and id lt 5"), []int{1, 2, 4}, -1},
		{"filter=" + q("note contains 97 and id lt 200"), []int{97, 197}, -1},
		{"filter=" + q("note prefix 站99"), []int{991, 992, 994, 995, 997, 998}, -1},
		{"filter=" + q("day eq 2024-01-03"), []int{2, 367, 732}, -1},
		{"filter=" + q("at ge '2024-01-01T08:00:05+08:00' and at lt '2024-01-01 08:00:08'"), []int{5, 6, 7}, -1},
		{"filter=" + q("flag eq false and id lt 6"), []int{1, 3, 5}, -1},
		{"filter=" + q("town ne t1 and id lt 3"), []int{0, 2}, -1},
		{"sort=" + q("金额:desc") + "&limit=2", []int{999, 998}, -1},
		{"sort=town,-id&limit=3", []int{990, 980, 970}, -1},
	} {
		a, err := run(t, e, tc.params)
		if err != nil {
			t.Errorf("%s: %v", tc.params, err)
			continue
		}
		if got := ids(a); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got ids %v, want %v", tc.params, got, tc.want)
		}
		if tc.count >= 0 && (a.Count == nil || *a.Count != tc.count) {
			t.Errorf("%s: count %v, want %d", tc.params, a.Count, tc.count)
		}
	}
	// Typed values and the schema.
	a, err := run(t, e, "filter=id+eq+5&select="+q("id,金额,day,at,flag,note"))
	if err != nil {
		t.Fatal(err)
	}
	r := a.Records[0]
	if r["金额"] != 7.5 || r["day"] != "2024-01-06" || r["at"] != "2024-01-01T08:00:05+08:00" || r["flag"] != false || r["note"] != "站5" {
		t.Fatalf("values: %v", r)
	}
	if fmt.Sprint(a.Fields) != "[{id int} {金额 decimal} {day date} {at timestamp} {flag bool} {note string}]" {
		t.Fatalf("fields: %v", a.Fields)
	}
	if _, ok := r["town"]; ok {
		t.Fatal("an unselected column was returned")
	}
}

func TestRecordsCursor(t *testing.T) {
	e, _ := fixture(t, 1000)
	for _, sort := range []string{"", "town", "-金额", "note,-day"} {
		base := "limit=37"
		if sort != "" {
			base += "&sort=" + url.QueryEscape(sort)
		}
		// Offset paging is the reference.
		var want []int
		for off := 0; off < 1000; off += 37 {
			a, err := run(t, e, fmt.Sprintf("%s&offset=%d", base, off))
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, ids(a)...)
		}
		var got []int
		cursor, pages := "", 0
		for {
			a, err := run(t, e, base+cursor)
			if err != nil {
				t.Fatalf("sort %q page %d: %v", sort, pages, err)
			}
			got = append(got, ids(a)...)
			pages++
			if a.Next == nil {
				break
			}
			cursor = "&cursor=" + url.QueryEscape(*a.Next)
		}
		if len(got) != 1000 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("sort %q: cursor paging gave %d rows, differs from offset paging", sort, len(got))
		}
	}
}

func TestRecordsGroupBy(t *testing.T) {
	e, _ := fixture(t, 1000)
	a, err := run(t, e, "group_by=town&agg="+url.QueryEscape("count,sum:id,avg:id,min:day,max:金额")+"&sort=-sum_id&limit=2&count=true")
	if err != nil {
		t.Fatal(err)
	}
	if a.Count == nil || *a.Count != 10 || len(a.Records) != 2 {
		t.Fatalf("groups: %+v", a)
	}
	top := a.Records[0]
	// town t9: ids 9, 19, …, 999 → 100 rows, sum 50400, avg 504.
	if top["town"] != "t9" || top["count"] != 100.0 || top["sum_id"] != 50400.0 || top["avg_id"] != 504.0 || top["min_day"] != "2024-01-05" || top["max_金额"] != 1498.5 {
		t.Fatalf("top group: %v", top)
	}
	a, err = run(t, e, "agg=count&filter=town+eq+t1")
	if err != nil || len(a.Records) != 1 || a.Records[0]["count"] != 100.0 {
		t.Fatalf("count without groups: %+v %v", a, err)
	}
}

func TestRecordsFormats(t *testing.T) {
	e, _ := fixture(t, 1000)
	a, err := run(t, e, "format=csv&select="+url.QueryEscape("id,金额,note")+"&limit=3")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(a.Records[0]["raw"].(string))).ReadAll()
	if err != nil || fmt.Sprint(recs) != "[[id 金额 note] [0  ] [1 1.5 站1] [2 3 站2]]" {
		t.Fatalf("csv: %q %v", recs, err)
	}
	a, err = run(t, e, "format=ndjson&select=id,town&limit=2")
	if err != nil || a.Records[0]["raw"] != "{\"id\":0,\"town\":\"t0\"}\n{\"id\":1,\"town\":\"t1\"}\n" {
		t.Fatalf("ndjson: %q %v", a.Records, err)
	}
}

// TestRecordsBadInput: every bad parameter is a 400 naming it.
func TestRecordsBadInput(t *testing.T) {
	e, _ := fixture(t, 1000)
	good, _ := run(t, e, "limit=5&sort=town")
	cur := *good.Next
	body, sig, _ := strings.Cut(cur, ".")
	raw, _ := base64Decode(body)
	edited := strings.Replace(string(raw), `"n":`, `"n":1`, 1)
	for _, tc := range []struct{ params, field, want string }{
		{"select=nope", "select", `no column "nope"`},
		{"select=id,id", "select", "twice"},
		{"filter=" + url.QueryEscape("nope eq 1"), "filter", `no column "nope"`},
		{"filter=" + url.QueryEscape("id eq abc"), "filter", "not a whole number"},
		{"filter=" + url.QueryEscape("day lt yesterday"), "filter", "not a date"},
		{"filter=" + url.QueryEscape("flag gt true"), "filter", "compare it with eq or ne"},
		{"filter=" + url.QueryEscape("id contains 1"), "filter", "works on text columns"},
		{"filter=" + url.QueryEscape("town eq 'x' OR 1=1 --"), "filter", `unknown operator "--"`},
		{"filter=" + url.QueryEscape("town eq x; DROP TABLE t"), "filter", "unexpected"},
		{"filter=" + url.QueryEscape(`"town"" = 'x' --" eq 1`), "filter", "no column"},
		{"filter=" + url.QueryEscape("id in ("+strings.Repeat("1,", 500)+"1)"), "filter", "more than 200"},
		{"limit=0", "limit", "out of range"},
		{"limit=10001", "limit", "out of range"},
		{"limit=ten", "limit", "not a whole number"},
		{"offset=-1", "offset", "out of range"},
		{"sort=nope", "sort", `no column "nope"`},
		{"sort=" + url.QueryEscape("town; DROP TABLE x"), "sort", "no column"},
		{"format=xml", "format", "not one of"},
		{"count=maybe", "count", "true or false"},
		{"group_by=nope", "group_by", "no column"},
		{"agg=sum:town", "agg", "needs a number column"},
		{"agg=median:id", "agg", "use count"},
		{"group_by=town&sort=id", "sort", "with group_by"},
		{"group_by=town&cursor=" + url.QueryEscape(cur), "cursor", "not groups"},
		{"sort=town&cursor=garbage", "cursor", "not a cursor"},
		{"sort=town&cursor=" + url.QueryEscape(base64Encode([]byte(edited))+"."+sig), "cursor", "altered"},
		{"sort=-town&cursor=" + url.QueryEscape(cur), "cursor", "keep the same sort"},
		{"sort=town&offset=5&cursor=" + url.QueryEscape(cur), "cursor", "not both"},
		{"limit=1&limit=2", "limit", "more than once"},
		{"fliter=town+eq+t1", "fliter", "unknown parameter"},
	} {
		_, err := run(t, e, tc.params)
		if !strings.Contains(fieldText(err, tc.field, "en"), tc.want) {
			t.Errorf("%s: got %v, want %s: …%s…", tc.params, err, tc.field, tc.want)
		}
		if zh := fieldText(err, tc.field, "zh-CN"); !hasHan(zh) || strings.Contains(zh, "‽") {
			t.Errorf("%s: the Chinese answer is %q", tc.params, zh)
		}
	}
	// A cursor of another dataset or version.
	v, _ := url.ParseQuery("sort=town&cursor=" + url.QueryEscape(cur))
	for _, req := range []query.Request{
		{Resource: 2, Version: 1, Variant: "open", Key: "resources/1/v1/open.parquet", Params: v},
		{Resource: 1, Version: 2, Variant: "open", Key: "resources/1/v1/open.parquet", Params: v},
		{Resource: 1, Version: 1, Variant: "full", Key: "resources/1/v1/open.parquet", Params: v},
	} {
		_, err := e.Prepare(context.Background(), signer, req)
		if fieldText(err, "cursor", "en") == "" {
			t.Errorf("%+v: foreign cursor accepted: %v", req, err)
		}
	}
	// Column scope: columns outside a grant do not exist for the caller.
	_, err := e.Prepare(context.Background(), signer, query.Request{Resource: 1, Version: 1, Variant: "open", Key: "resources/1/v1/open.parquet",
		Columns: []string{"id", "town"}, Params: url.Values{"filter": {"note is null"}}})
	if !strings.Contains(fieldText(err, "filter", "en"), `no column "note"`) {
		t.Fatalf("scope: %v", err)
	}
}

// fieldText is what an error says about parameter name in lang ("" when
// it is not a catalog message about that parameter).
func fieldText(err error, name, lang string) string {
	var p *errs.Public
	if errors.As(err, &p) && p.Field == name && errors.Is(err, errs.Invalid) {
		return p.Text(lang)
	}
	return ""
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// TestEngineLockedDown: DuckDB reads nothing outside the cache and cannot
// change its settings or load extensions.
func TestEngineLockedDown(t *testing.T) {
	e, _ := fixture(t, 10)
	ctx := context.Background()
	for _, stmt := range []string{
		"SELECT * FROM read_csv('/etc/passwd')",
		"SELECT * FROM read_text('/etc/hostname')",
		"SET enable_external_access = true",
		"INSTALL httpfs",
		"LOAD httpfs",
		"SELECT * FROM read_parquet('https://example.com/x.parquet')",
	} {
		if err := e.Exec(ctx, stmt); err == nil {
			t.Errorf("%s: allowed", stmt)
		}
	}
}

func TestEngineCacheEviction(t *testing.T) {
	e, bs := fixture(t, 1000)
	ctx := context.Background()
	p1, _, err := e.Local(ctx, "resources/1/v1/open.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if p2, _, _ := e.Local(ctx, "resources/1/v1/open.parquet"); p2 != p1 || e.CachedBytes() <= 0 {
		t.Fatal("second use did not hit the cache")
	}
	if _, _, err := e.Local(ctx, "resources/1/v9/open.parquet"); err == nil {
		t.Fatal("a missing object was cached")
	}
	_ = bs
}

func base64Decode(s string) ([]byte, error) { return b64.DecodeString(s) }
func base64Encode(b []byte) string          { return b64.EncodeToString(b) }

var b64 = base64.RawURLEncoding

// TestEngineTimeout: a query over its time limit is a 503-class error that
// says what to do, not a hang.
func TestEngineTimeout(t *testing.T) {
	dir := t.TempDir()
	bs, _ := blob.NewLocal(filepath.Join(dir, "blobs"))
	WriteParquet(t, filepath.Join(dir, "src.parquet"), 200000)
	f, _ := os.Open(filepath.Join(dir, "src.parquet"))
	bs.Put(context.Background(), "k.parquet", f, -1)
	f.Close()
	e, err := query.Open(bs, query.Options{CacheDir: filepath.Join(dir, "cache"), Timeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	p, err := e.Prepare(context.Background(), signer, query.Request{Resource: 1, Version: 1, Variant: "open", Key: "k.parquet",
		Params: url.Values{"group_by": {"town"}, "agg": {"count,avg:id"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Write(context.Background(), io.Discard, nil)
	if !errors.Is(err, errs.Unavailable) || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("timeout: %v", err)
	}
}
