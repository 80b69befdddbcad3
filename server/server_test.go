package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"opendata/app"
	"opendata/auth"
	"opendata/blob"
	"opendata/catalog"
	"opendata/config"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/search"
	"opendata/server"
)

type env struct {
	t      *testing.T
	url    string
	app    *app.App
	routes [][2]string
	bus    int64      // JTJ department
	hlth   int64      // WJW department
	logs   *logBuffer // everything the instance logged
}

// logBuffer collects an instance's log lines (safe for concurrent writes).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// start runs the real server on a random port over the given backends,
// with two departments and three staff accounts.
func start(t *testing.T, d *db.DB, bs blob.Store, mutate func(*config.Config)) *env {
	t.Helper()
	return startWith(t, d, bs, mutate, nil)
}

// startWith is start with a look at the server before it runs.
func startWith(t *testing.T, d *db.DB, bs blob.Store, mutate func(*config.Config), before func(*server.Server)) *env {
	t.Helper()
	e := startInstanceWith(t, d, bs, mutate, before)
	a, c := e.app, context.Background()
	jt, _ := a.Catalog.CreateDepartment(c, catalog.Department{Code: "JTJ", Name: "市交通运输局", Kind: "department"})
	wj, _ := a.Catalog.CreateDepartment(c, catalog.Department{Code: "WJW", Name: "市卫生健康委员会", Kind: "department"})
	e.bus, e.hlth = jt.ID, wj.ID
	for _, u := range []auth.NewUser{
		{Username: "admin", Password: "bureau-secret-1", Role: auth.RoleBureauAdmin},
		{Username: "jt_staff", Password: "transport-pass-1", Role: auth.RoleDeptStaff, DepartmentID: jt.ID},
		{Username: "wj_staff", Password: "health-pass-123", Role: auth.RoleDeptStaff, DepartmentID: wj.ID},
	} {
		if _, err := a.Users.CreateUser(c, u); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// startInstance runs one more server instance over the backends, with its
// own embedded search index, as a second `serve` would.
func startInstance(t *testing.T, d *db.DB, bs blob.Store, mutate func(*config.Config)) *env {
	t.Helper()
	return startInstanceWith(t, d, bs, mutate, nil)
}

// startInstanceWith is startInstance with a look at the server before it
// runs (a test may replace a job handler there).
func startInstanceWith(t *testing.T, d *db.DB, bs blob.Store, mutate func(*config.Config), before func(*server.Server)) *env {
	t.Helper()
	cfg, err := config.Load("", []string{"OPENDATA_DATA_DIR=" + t.TempDir(), "OPENDATA_MAX_UPLOAD_MB=2"})
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &logBuffer{}
	var h slog.Handler = slog.NewTextHandler(logs, nil)
	if testing.Verbose() {
		h = slog.NewMultiHandler(h, slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	log := slog.New(h)
	idx, err := search.OpenBleve("")
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(cfg, log, d, bs, idx)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	srv := server.New(a)
	if before != nil {
		before(srv)
	}
	go func() { done <- srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	})
	return &env{t: t, url: "http://" + ln.Addr().String(), app: a, routes: srv.Routes(), logs: logs}
}

func sqliteEnv(t *testing.T) *env {
	t.Helper()
	bs, err := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return start(t, dbtest.SQLite(t), bs, nil)
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not JSON (%d): %s", r.status, r.body)
	}
	return m
}

func (e *env) do(method, path, token string, body any, hdr map[string]string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
		if hdr == nil {
			hdr = map[string]string{}
		}
		hdr["Content-Type"] = "application/json"
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	checkAgainstSpec(e.t, req, res, b)
	return resp{res.StatusCode, res.Header, b}
}

func (e *env) login(user, pw string) string {
	e.t.Helper()
	r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": user, "password": pw}, nil)
	if r.status != 200 {
		e.t.Fatalf("login %s: %d %s", user, r.status, r.body)
	}
	return r.json(e.t)["token"].(string)
}

func busEntry(dept int64) map[string]any {
	return map[string]any{
		"code": "JTJ-001", "name": "公交站点信息", "department_id": dept, "summary": "全市公交站点", "catalog_kind": "theme",
		"domain": "transport", "format": "table", "collection_channel": "business_system", "update_period": "monthly",
		"share_type": "unconditional", "share_methods": []string{"api", "file"}, "open_type": "unconditional",
		"responsible_person": "张三", "responsible_contact": "0718-8200000", "usage_note": "引用请注明来源",
		"key_columns": []string{"站点编号"},
		"items": []map[string]any{
			{"name": "站点编号", "type": "int", "required": true}, {"name": "站点名称", "type": "string", "description": "站点中文名称"},
			{"name": "日均客流", "type": "decimal"}, {"name": "负责人身份证", "type": "string", "personal": true, "check": "id_number"},
		},
	}
}

func multipartBody(t *testing.T, filename string, content []byte, fields map[string]string) (*bytes.Buffer, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, filename))
	h.Set("Content-Type", "application/octet-stream")
	w, _ := mw.CreatePart(h)
	w.Write(content)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func (e *env) upload(token string, id int64, filename string, content []byte) resp {
	e.t.Helper()
	return e.uploadWith(token, id, filename, content, nil)
}

// uploadWith uploads with form fields beside the file (max_reject_ratio: a
// deliberately dirty fixture states the share of bad rows it carries).
func (e *env) uploadWith(token string, id int64, filename string, content []byte, fields map[string]string) resp {
	e.t.Helper()
	body, ct := multipartBody(e.t, filename, content, fields)
	return e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/uploads", id), token, body.Bytes(), map[string]string{"Content-Type": ct})
}

// dirty is the upload field of fixtures with one bad row in three.
var dirty = map[string]string{"max_reject_ratio": "40%"}

func (e *env) waitJob(token, id string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := e.do("GET", "/api/v1/jobs/"+id, token, nil, nil)
		if r.status != 200 {
			e.t.Fatalf("job status: %d %s", r.status, r.body)
		}
		j := r.json(e.t)
		switch j["status"] {
		case "succeeded", "failed", "cancelled":
			return j
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("job %s did not finish", id)
	return nil
}

const busCSV = "站点编号,站点名称,日均客流,负责人身份证\r\n" +
	"1,舞阳坝,\"1,200.50\",11010519491231002X\r\n" +
	"2,土桥坝,五十,11010519491231002X\r\n" +
	"3,人民广场,800,110105194912310021\r\n"

func gbk(s string) []byte {
	b, _ := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	return b
}

// TestEndToEnd walks a department's whole path on every backend pair.
func TestEndToEnd(t *testing.T) {
	t.Run("sqlite+local", func(t *testing.T) { endToEnd(t, sqliteEnv(t)) })
	t.Run("postgres+minio", func(t *testing.T) {
		d := dbtest.Postgres(t)
		bs := minioStore(t)
		endToEnd(t, start(t, d, bs, nil))
	})
}

func minioStore(t *testing.T) blob.Store {
	t.Helper()
	endpoint := os.Getenv("TEST_MINIO_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_MINIO_ENDPOINT is not set: CI requires MinIO")
		}
		t.Skip("TEST_MINIO_ENDPOINT not set; skipping MinIO")
	}
	b := make([]byte, 4)
	rand.Read(b)
	bs, err := blob.NewMinIO(context.Background(), blob.MinIOConfig{Endpoint: endpoint, AccessKey: os.Getenv("TEST_MINIO_ACCESS_KEY"),
		SecretKey: os.Getenv("TEST_MINIO_SECRET_KEY"), Bucket: "opendata-test", Prefix: "e2e-" + hex.EncodeToString(b) + "/"})
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

func endToEnd(t *testing.T, e *env) {
	staff := e.login("jt_staff", "transport-pass-1")
	other := e.login("wj_staff", "health-pass-123")

	// An incomplete entry is refused field by field.
	bad := busEntry(e.bus)
	bad["share_type"], bad["open_type"], bad["update_period"] = "none", "none", "hourly"
	r := e.do("POST", "/api/v1/catalog/resources", staff, bad, nil)
	fields, _ := r.json(t)["error"].(map[string]any)["fields"].(map[string]any)
	if r.status != 400 || fields["share_basis"] == nil || fields["open_basis"] == nil || fields["update_period"] == nil {
		t.Fatalf("invalid entry: %d %s", r.status, r.body)
	}
	// Another department may not register entries for transport.
	if r := e.do("POST", "/api/v1/catalog/resources", other, busEntry(e.bus), nil); r.status != 403 {
		t.Fatalf("other department create: %d %s", r.status, r.body)
	}
	r = e.do("POST", "/api/v1/catalog/resources", staff, busEntry(e.bus), nil)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	res := r.json(t)
	id := int64(res["id"].(float64))
	if res["revision"].(float64) != 1 || res["name"] != "公交站点信息" {
		t.Fatalf("created %v", res)
	}

	// Edit: optimistic concurrency and history.
	edit := busEntry(e.bus)
	edit["summary"] = "全市公交站点（含新开线路）"
	edit["revision"] = 1
	if r := e.do("PUT", fmt.Sprintf("/api/v1/catalog/resources/%d", id), staff, edit, nil); r.status != 200 || r.json(t)["revision"].(float64) != 2 {
		t.Fatalf("edit: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", fmt.Sprintf("/api/v1/catalog/resources/%d", id), staff, edit, nil); r.status != 409 {
		t.Fatalf("stale edit: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", fmt.Sprintf("/api/v1/catalog/resources/%d", id), other, busEntry(e.bus), nil); r.status != 403 {
		t.Fatalf("other department edit: %d %s", r.status, r.body)
	}
	r = e.do("GET", fmt.Sprintf("/api/v1/catalog/resources/%d/history", id), staff, nil, nil)
	hist := r.json(t)["history"].([]any)
	if len(hist) != 2 {
		t.Fatalf("history: %s", r.body)
	}
	change := hist[1].(map[string]any)
	summary := change["changes"].(map[string]any)["summary"].(map[string]any)
	if change["actor"] != "jt_staff" || summary["from"] != "全市公交站点" || summary["to"] != "全市公交站点（含新开线路）" {
		t.Fatalf("history entry %v", change)
	}

	// Upload a GBK CSV; poll the job; the version is there with its report.
	// One row in three is bad: over the default 5 %, the file fails whole.
	r = e.upload(staff, id, "公交站点.csv", gbk(busCSV))
	refused := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string))
	if refused["status"] != "failed" || !strings.Contains(refused["error"].(string), "1 / 3 行被拒收（33.3%），超过允许的 5.0%") ||
		refused["error_code"] != "ingest.reject_ratio" || refused["result"].(map[string]any)["rows_rejected"].(float64) != 1 {
		t.Fatalf("over the reject share: %v", refused)
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/catalog/resources/%d/versions", id), staff, nil, nil); len(r.json(t)["versions"].([]any)) != 0 {
		t.Fatalf("a refused file left a version: %s", r.body)
	}
	if r := e.uploadWith(staff, id, "公交站点.csv", gbk(busCSV), map[string]string{"max_reject_ratio": "half"}); r.status != 400 {
		t.Fatalf("bad max_reject_ratio: %d %s", r.status, r.body)
	}
	// The upload states the share it allows.
	r = e.uploadWith(staff, id, "公交站点.csv", gbk(busCSV), dirty)
	if r.status != 202 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	job := r.json(t)["job"].(map[string]any)
	if job["status"] != "queued" && job["status"] != "running" {
		t.Fatalf("job %v", job)
	}
	if r := e.do("GET", "/api/v1/jobs/"+job["id"].(string), other, nil, nil); r.status != 404 {
		t.Fatalf("another department sees the job: %d", r.status)
	}
	done := e.waitJob(staff, job["id"].(string))
	if done["status"] != "succeeded" {
		t.Fatalf("job: %v", done)
	}
	result := done["result"].(map[string]any)
	if result["version"].(float64) != 1 || result["rows_stored"].(float64) != 2 || result["rows_rejected"].(float64) != 1 {
		t.Fatalf("result %v", result)
	}
	rej := result["rejected"].([]any)[0].(map[string]any)
	if rej["message"] != "第 3 行“日均客流”：“五十”不是数字" {
		t.Fatalf("rejected message %v", rej)
	}
	if m := result["masked"].([]any); len(m) != 1 || m[0] != "负责人身份证" {
		t.Fatalf("masked %v", m)
	}
	r = e.do("GET", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1", id), staff, nil, nil)
	v := r.json(t)
	q := v["quality"].(map[string]any)
	if r.status != 200 || q["rows_stored"].(float64) != 2 || v["version"].(map[string]any)["source_encoding"] != "gb18030" {
		t.Fatalf("version: %d %s", r.status, r.body)
	}
	objs, _ := e.app.Blobs.List(context.Background(), fmt.Sprintf("resources/%d/", id))
	names := []string{}
	for _, o := range objs {
		names = append(names, strings.TrimPrefix(o.Key, fmt.Sprintf("resources/%d/", id)))
	}
	if strings.Join(names, " ") != "v1/full.parquet v1/open.csv v1/open.parquet v1/quality.json v1/schema.json" {
		t.Fatalf("objects %v", names)
	}
	csvObj, _, _ := e.app.Blobs.Get(context.Background(), fmt.Sprintf("resources/%d/v1/open.csv", id))
	csvBytes, _ := io.ReadAll(csvObj)
	csvObj.Close()
	if !bytes.Contains(csvBytes, []byte("1,舞阳坝,1200.50,110105********002X")) || bytes.Contains(csvBytes, []byte("11010519491231002X")) {
		t.Fatalf("open.csv: %s", csvBytes)
	}
	if uploads, _ := e.app.Blobs.List(context.Background(), "uploads/"); len(uploads) != 0 {
		t.Fatalf("upload left behind: %v", uploads)
	}

	// A bad file fails the job with a clear message and publishes nothing.
	r = e.upload(staff, id, "random.csv", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
	failed := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string))
	failed = e.do("GET", "/api/v1/jobs/"+failed["id"].(string), staff, nil, map[string]string{"Accept-Language": "en"}).json(t)
	if failed["status"] != "failed" || !strings.Contains(failed["error"].(string), "random.csv") || !strings.Contains(failed["error"].(string), "not text") {
		t.Fatalf("bad file job: %v", failed)
	}
	r = e.do("GET", fmt.Sprintf("/api/v1/catalog/resources/%d/versions", id), staff, nil, nil)
	if n := len(r.json(t)["versions"].([]any)); n != 1 {
		t.Fatalf("versions after failure: %d", n)
	}
	if objs, _ := e.app.Blobs.List(context.Background(), fmt.Sprintf("resources/%d/v2/", id)); len(objs) != 0 {
		t.Fatalf("orphan objects: %v", objs)
	}
	var pending int
	e.app.DB.QueryRow(context.Background(), "SELECT COUNT(*) FROM versions WHERE status = 'pending'").Scan(&pending)
	if pending != 0 {
		t.Fatalf("%d pending versions left", pending)
	}

	// Every row rejected: the job fails, the result still lists why.
	r = e.upload(staff, id, "all-bad.csv", []byte("站点编号,站点名称\nabc,x\n"))
	failed = e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string))
	if failed["status"] != "failed" || failed["result"].(map[string]any)["rows_rejected"].(float64) != 1 {
		t.Fatalf("all-bad job: %v", failed)
	}
}

func TestUploadRefusals(t *testing.T) {
	e := sqliteEnv(t)
	staff := e.login("jt_staff", "transport-pass-1")
	r := e.do("POST", "/api/v1/catalog/resources", staff, busEntry(e.bus), nil)
	id := int64(r.json(t)["id"].(float64))
	cases := []struct {
		name, file string
		content    []byte
		status     int
		want       string
	}{
		{"traversal", "../../etc/passwd.csv", []byte("a\n1\n"), 400, "without folders"},
		{"encoded traversal", "..%2F..%2Fetc%2Fpasswd.csv", []byte("a\n1\n"), 400, "without folders"},
		{"double encoded", "%252e%252e%252fpasswd.csv", []byte("a\n1\n"), 400, "without folders"},
		{"unknown format", "data.bin", []byte("a\n1\n"), 400, "cannot tell the format"},
		{"over the limit", "big.csv", bytes.Repeat([]byte("a,b\n"), 1<<20), 413, "limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, ct := multipartBody(t, c.file, c.content, nil)
			r := e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/uploads", id), staff, body.Bytes(), map[string]string{"Content-Type": ct, "Accept-Language": "en"})
			if r.status != c.status || !strings.Contains(string(r.body), c.want) {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	if r := e.upload("", id, "a.csv", []byte("a\n1\n")); r.status != 401 {
		t.Fatalf("anonymous upload: %d", r.status)
	}
	other := e.login("wj_staff", "health-pass-123")
	if r := e.upload(other, id, "a.csv", []byte("a\n1\n")); r.status != 403 {
		t.Fatalf("other department upload: %d", r.status)
	}
	// The audit chain's signed checkpoints (audit/checkpoints/…) are the
	// clock's, not an upload's: every other object is a leftover.
	objs, _ := e.app.Blobs.List(context.Background(), "")
	var left []string
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, "audit/") {
			left = append(left, o.Key)
		}
	}
	if len(left) != 0 {
		t.Fatalf("refused uploads left objects: %v", left)
	}
}

func TestAuthAndSecurity(t *testing.T) {
	e := sqliteEnv(t)
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		want                      []string
	}{
		{"health", "GET", "/healthz", "", nil, 200, []string{`"status":"ok"`}},
		{"ready", "GET", "/readyz", "", nil, 200, []string{`"ready":true`, `"database":"ok"`, `"blobs":"ok"`}},
		{"bad login", "POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": "nope"}, 401, []string{`"code":"bad_login"`, "Wrong username (or e-mail) or password"}},
		{"unknown user", "POST", "/api/v1/auth/login", "", map[string]string{"username": "ghost", "password": "nope"}, 401, []string{`"code":"bad_login"`, "Wrong username (or e-mail) or password"}},
		{"anonymous catalog", "GET", "/api/v1/catalog/resources", "", nil, 401, []string{`"code":"unauthenticated"`}},
		{"forged token", "GET", "/api/v1/catalog/resources", "ods_forged", nil, 401, []string{"no such session"}},
		{"not found", "GET", "/api/v1/nope", "", nil, 404, []string{`"code":"not_found"`}},
		{"bad id", "GET", "/api/v1/catalog/resources/abc", "", nil, 401, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, c.token, c.body, map[string]string{"Accept-Language": "en"})
			if r.status != c.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			for _, w := range c.want {
				if !strings.Contains(string(r.body), w) {
					t.Errorf("body lacks %q: %s", w, r.body)
				}
			}
			if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Content-Security-Policy") == "" || r.header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("security headers missing: %v", r.header)
			}
		})
	}
	admin := e.login("admin", "bureau-secret-1")
	if r := e.do("GET", "/api/v1/catalog/resources/abc", admin, nil, map[string]string{"Accept-Language": "en"}); r.status != 400 || !strings.Contains(string(r.body), "positive number") {
		t.Fatalf("bad id: %d %s", r.status, r.body)
	}
	staff := e.login("jt_staff", "transport-pass-1")
	if r := e.do("POST", "/api/v1/departments", staff, map[string]string{"code": "X1", "name": "x"}, nil); r.status != 403 {
		t.Fatalf("staff created a department: %d", r.status)
	}
	if r := e.do("POST", "/api/v1/departments", admin, map[string]string{"code": "LDP", "name": "龙凤坝镇", "kind": "town"}, nil); r.status != 201 || r.json(t)["kind"] != "town" {
		t.Fatalf("town: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/users", staff, map[string]any{"username": "x", "password": "0123456789", "role": "bureau_admin"}, nil); r.status != 403 {
		t.Fatalf("staff created a user: %d", r.status)
	}

	// Cookie sessions need the CSRF token on writes.
	r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": "bureau-secret-1"}, nil)
	var session, csrf string
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		switch ck.Name {
		case "opendata_session":
			session = ck.Value
			if !ck.HttpOnly {
				t.Error("session cookie must be HttpOnly")
			}
		case "opendata_csrf":
			csrf = ck.Value
		}
	}
	cookie := fmt.Sprintf("opendata_session=%s; opendata_csrf=%s", session, csrf)
	body := map[string]string{"code": "QXJ", "name": "市气象局"}
	if r := e.do("POST", "/api/v1/departments", "", body, map[string]string{"Cookie": cookie}); r.status != 403 || !strings.Contains(string(r.body), "CSRF") {
		t.Fatalf("cookie write without CSRF: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/departments", "", body, map[string]string{"Cookie": cookie, "X-CSRF-Token": csrf}); r.status != 201 {
		t.Fatalf("cookie write with CSRF: %d %s", r.status, r.body)
	}
	// Passwords are stored as argon2id hashes.
	var hash string
	e.app.DB.QueryRow(context.Background(), "SELECT password_hash FROM users WHERE username = 'admin'").Scan(&hash)
	if !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, "bureau-secret-1") {
		t.Fatalf("stored password %q", hash)
	}
}

// entryWithData registers a bus-stop entry with the given share and open
// types, ingests the GBK fixture and, unless not open, publishes it.
func (e *env) entryWithData(staff, admin, code, share, open string) int64 {
	t := e.t
	t.Helper()
	entry := busEntry(e.bus)
	entry["code"], entry["share_type"], entry["open_type"] = code, share, open
	switch share {
	case "conditional":
		entry["share_condition"] = "仅限履行社会救助职责的部门"
	case "none":
		entry["share_basis"], entry["share_methods"] = "《个人信息保护法》第十三条", []string{}
	}
	switch open {
	case "on_application":
		entry["open_condition"] = "科研机构说明用途后申请"
	case "none":
		entry["open_basis"], entry["usage_note"] = "涉及个人信息", ""
	}
	r := e.do("POST", "/api/v1/catalog/resources", staff, entry, nil)
	if r.status != 201 {
		t.Fatalf("create %s: %d %s", code, r.status, r.body)
	}
	id := int64(r.json(t)["id"].(float64))
	r = e.upload(staff, id, "stops.csv", gbk(busStopsGBK))
	if j := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string)); j["status"] != "succeeded" {
		t.Fatalf("ingest %s: %v", code, j)
	}
	if open != "none" {
		e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/submit", id), staff, nil, nil)
		if r := e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/approve", id), admin, nil, nil); r.status != 200 {
			t.Fatalf("publish %s: %s", code, r.body)
		}
	}
	return id
}
