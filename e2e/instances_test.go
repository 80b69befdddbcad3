package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"opendata/db"
	"opendata/db/dbtest"
)

// required returns an environment variable, failing the test in CI and
// skipping it elsewhere when it is unset.
func required(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI requires the two-instance test", name)
		}
		t.Skipf("%s not set", name)
	}
	return v
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// build compiles the real binary, as a release would.
func build(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(t.TempDir(), "opendata")
	cmd := exec.Command(goBin, "build", "-o", out, "opendata/cmd/opendata")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// started is a process this test owns; it is stopped when the test ends.
func started(t *testing.T, name string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(name)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s %v log:\n%s", filepath.Base(name), args, tail(b, 4000))
		}
	})
	return cmd
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

type client struct {
	t    *testing.T
	base string
}

type resp struct {
	status int
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.status, r.body)
	}
	return m
}

func (c client) do(method, path, token string, body any, contentType string) resp {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
		contentType = "application/json"
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, b}
}

func (c client) login(user, pw string) string {
	c.t.Helper()
	r := c.do("POST", "/api/v1/auth/login", "", map[string]string{"username": user, "password": pw}, "")
	if r.status != 200 {
		c.t.Fatalf("login %s on %s: %d %s", user, c.base, r.status, r.body)
	}
	return r.json(c.t)["token"].(string)
}

// titles is what a search on this instance finds.
func (c client) titles(q string) string {
	c.t.Helper()
	r := c.do("GET", "/api/v1/resources?q="+url.QueryEscape(q), "", nil, "")
	var out []string
	for _, h := range r.json(c.t)["hits"].([]any) {
		out = append(out, h.(map[string]any)["title"].(string))
	}
	sort.Strings(out)
	return strings.Join(out, "|")
}

func within(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func entry(dept float64, code, name string) map[string]any {
	return map[string]any{
		"code": code, "name": name, "department_id": dept, "summary": "全市公交站点", "catalog_kind": "theme",
		"domain": "transport", "format": "table", "collection_channel": "business_system", "update_period": "monthly",
		"share_type": "conditional", "share_condition": "仅限履职需要", "share_methods": []string{"api", "file"},
		"open_type": "unconditional", "responsible_person": "张三", "responsible_contact": "0718-8200000",
		"usage_note": "引用请注明来源", "key_columns": []string{"站点编号"},
		"items": []map[string]any{
			{"name": "站点编号", "type": "int", "required": true}, {"name": "站点名称", "type": "string"},
			{"name": "日均客流", "type": "decimal"}, {"name": "负责人身份证", "type": "string", "personal": true, "check": "id_number"},
		},
	}
}

const stopsCSV = "站点编号,站点名称,日均客流,负责人身份证\n" +
	"1,舞阳坝,1200.5,11010519491231002X\n" +
	"2,土桥坝,50,11010519491231002X\n" +
	"3,人民广场,800,11010519491231002X\n"

// Two `opendata serve` processes of the built binary, each with its own
// data directory and embedded search index, on one PostgreSQL, MinIO and
// Redis: uploads made on one are ingested once (by whichever instance
// claims the job) and downloaded on the other; an API key's allowance is
// one across both; a calendar edited on one moves the deadlines the other
// computes; every publication, edit and withdrawal made on one is found,
// or no longer found, in the other's search within 2 s, and both answer
// every search alike; the audit chain both wrote verifies.
func TestTwoServeProcesses(t *testing.T) {
	pgURL := dbtest.PostgresDatabase(t)
	endpoint := required(t, "TEST_MINIO_ENDPOINT")
	redisBin := os.Getenv("TEST_REDIS_BIN")
	if redisBin == "" {
		redisBin, _ = exec.LookPath("redis-server")
	}
	if redisBin == "" {
		required(t, "TEST_REDIS_BIN")
	}
	bin := build(t)
	ctx := context.Background()

	// A Redis of this test's own: the rate-limit counters of key 1 or of
	// 127.0.0.1 must not meet another test's.
	redisAddr := freeAddr(t)
	_, redisPort, _ := net.SplitHostPort(redisAddr)
	started(t, redisBin, os.Environ(), "--bind", "127.0.0.1", "--port", redisPort, "--save", "", "--appendonly", "no")
	within(t, "redis up", 10*time.Second, func() bool {
		c, err := net.Dial("tcp", redisAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	rb := make([]byte, 5)
	rand.Read(rb)
	shared := t.TempDir()
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPENDATA_") {
			base = append(base, kv)
		}
	}
	base = append(base,
		"OPENDATA_DATABASE_URL="+pgURL,
		"OPENDATA_BLOB_BACKEND=minio", "OPENDATA_S3_ENDPOINT="+endpoint,
		"OPENDATA_S3_ACCESS_KEY="+os.Getenv("TEST_MINIO_ACCESS_KEY"), "OPENDATA_S3_SECRET_KEY="+os.Getenv("TEST_MINIO_SECRET_KEY"),
		"OPENDATA_S3_BUCKET=odtwo-"+hex.EncodeToString(rb),
		"OPENDATA_RATELIMIT_STORE=redis", "OPENDATA_REDIS_URL=redis://"+redisAddr+"/0",
		"OPENDATA_AUDIT_KEY_FILE="+filepath.Join(shared, "audit.key"), // one key file for every instance
		"OPENDATA_WITHDRAW_NOTICE_DAYS=0", "OPENDATA_REGISTERED_RATE=6-M",
		"OPENDATA_ANON_RATE=100000-M", "OPENDATA_LOGIN_IP_RATE=100000-M",
		"OPENDATA_LOG_LEVEL=warn", "OPENDATA_INGEST_WORKERS=2",
	)
	cli := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(base, "OPENDATA_DATA_DIR="+filepath.Join(shared, "cli"))
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("opendata %v: %v\n%s%s", args, err, out.String(), errb.String())
		}
		return out.String()
	}
	cli("", "migrate")
	for _, d := range [][2]string{{"JTJ", "市交通运输局"}, {"WJW", "市卫生健康委员会"}, {"SCJ", "市市场监督管理局"}} {
		cli("", "department", "create", "--code", d[0], "--name", d[1])
	}
	for _, u := range [][4]string{
		{"admin", "bureau_admin", "", "bureau-secret-1"},
		{"jt_staff", "dept_staff", "JTJ", "transport-pass-1"},
		{"jt_admin", "dept_admin", "JTJ", "transport-admin-1"},
		{"wj_staff", "dept_staff", "WJW", "health-pass-123"},
		{"sc_staff", "dept_staff", "SCJ", "market-pass-123"},
	} {
		args := []string{"user", "create", "--username", u[0], "--role", u[1], "--password-stdin"}
		if u[2] != "" {
			args = append(args, "--department", u[2])
		}
		cli(u[3]+"\n", args...)
	}

	serve := func(name string) client {
		addr := freeAddr(t)
		env := append(append([]string{}, base...), "OPENDATA_LISTEN="+addr, "OPENDATA_DATA_DIR="+filepath.Join(shared, name))
		started(t, bin, env, "serve")
		c := client{t: t, base: "http://" + addr}
		within(t, name+" ready", 60*time.Second, func() bool {
			res, err := http.Get(c.base + "/readyz")
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == 200
		})
		return c
	}
	one, two := serve("one"), serve("two")

	d, err := db.Open(ctx, pgURL, "")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := d.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Uploads on the first instance; each job runs once, on whichever
	// instance claimed it, and its state reads the same on the second.
	staff1 := one.login("jt_staff", "transport-pass-1")
	staff2 := two.login("jt_staff", "transport-pass-1")
	r := one.do("GET", "/api/v1/auth/me", staff1, nil, "")
	dept := r.json(t)["department_id"].(float64)
	var ids []int64
	var jobs []string
	for i := range 3 {
		r := one.do("POST", "/api/v1/catalog/resources", staff1, entry(dept, fmt.Sprintf("JTJ-00%d", i+1), fmt.Sprintf("公交站点信息第%d批", i+1)), "")
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		id := int64(r.json(t)["id"].(float64))
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", "stops.csv")
		fw.Write([]byte(stopsCSV))
		mw.Close()
		r = one.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/uploads", id), staff1, buf.Bytes(), mw.FormDataContentType())
		if r.status != 202 && r.status != 201 {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
		ids = append(ids, id)
		jobs = append(jobs, r.json(t)["job"].(map[string]any)["id"].(string))
	}
	for i, job := range jobs {
		var j map[string]any
		within(t, "job "+job+" done, seen on the second instance", 60*time.Second, func() bool {
			r := two.do("GET", "/api/v1/jobs/"+job, staff2, nil, "")
			if r.status != 200 {
				t.Fatalf("job on the second instance: %d %s", r.status, r.body)
			}
			j = r.json(t)
			return j["status"] == "succeeded" || j["status"] == "failed" || j["status"] == "cancelled"
		})
		if j["status"] != "succeeded" || j["attempts"].(float64) != 1 {
			t.Fatalf("job %s: %v", job, j)
		}
		if n := count("SELECT COUNT(*) FROM versions WHERE resource_id = ?", ids[i]); n != 1 {
			t.Errorf("resource %d has %d versions after one upload", ids[i], n)
		}
		if n := count("SELECT COUNT(*) FROM jobs WHERE resource_id = ?", ids[i]); n != 1 {
			t.Errorf("resource %d has %d jobs after one upload", ids[i], n)
		}
	}
	var claimers []string
	rows, err := d.Query(ctx, "SELECT DISTINCT claimed_by FROM jobs")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		rows.Scan(&c)
		claimers = append(claimers, c)
	}
	rows.Close()
	t.Logf("jobs claimed by %v", claimers)

	// Submitted on the first, approved (a second person) on the second:
	// the first instance's search finds the publication within 2 s.
	approver2 := two.login("jt_admin", "transport-admin-1")
	id := ids[0]
	if r := one.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/submit", id), staff1, nil, ""); r.status != 200 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	if r := two.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/approve", id), approver2, nil, ""); r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	within(t, "publication on the second found on the first", 2*time.Second, func() bool { return one.titles("公交站点") == "公交站点信息第1批" })

	// The version's downloads and records, from the instance that did not ingest it.
	for _, c := range []client{one, two} {
		r := c.do("GET", fmt.Sprintf("/api/v1/resources/%d/download/open.csv", id), "", nil, "")
		if r.status != 200 || !strings.Contains(string(r.body), "人民广场") || strings.Contains(string(r.body), "11010519491231002X") {
			t.Fatalf("open.csv on %s: %d %.300s", c.base, r.status, r.body)
		}
		r = c.do("GET", fmt.Sprintf("/api/v1/resources/%d/records", id), "", nil, "")
		if r.status != 200 || len(r.json(t)["records"].([]any)) != 3 {
			t.Fatalf("records on %s: %d %.300s", c.base, r.status, r.body)
		}
	}

	// Edited on the second (a narrowing edit: applied at once), found on the first.
	e := entry(dept, "JTJ-001", "公交站点与候车亭信息")
	if r := two.do("PUT", fmt.Sprintf("/api/v1/catalog/resources/%d", id), staff2, e, ""); r.status != 200 {
		t.Fatalf("edit: %d %s", r.status, r.body)
	}
	within(t, "edit on the second found on the first", 2*time.Second, func() bool { return one.titles("候车亭") == "公交站点与候车亭信息" })

	// One allowance for an API key, whichever instance answers.
	if r := one.do("POST", "/api/v1/account/signup", "", map[string]string{"email": "dev@example.cn", "password": "developer-pass-1", "display_name": "开发者"}, ""); r.status >= 300 {
		t.Fatalf("signup: %d %s", r.status, r.body)
	}
	cli("", "key", "activate", "dev@example.cn")
	key := strings.TrimSpace(cli("", "key", "create", "--user", "dev@example.cn", "--name", "e2e"))
	records := fmt.Sprintf("/api/v1/resources/%d/records?limit=1", id)
	var served, refused int
	for i := range 10 {
		c := []client{one, two}[i%2]
		switch r := c.do("GET", records, key, nil, ""); r.status {
		case 200:
			served++
		case 429:
			refused++
		default:
			t.Fatalf("keyed call %d on %s: %d %s", i, c.base, r.status, r.body)
		}
	}
	if served != 6 || refused != 4 {
		t.Fatalf("a 6-a-minute key alternating between instances: %d served, %d refused", served, refused)
	}

	// A calendar edit on the first moves the deadline the second computes.
	wj, sc := two.login("wj_staff", "health-pass-123"), two.login("sc_staff", "market-pass-123")
	file := func(token string) time.Time {
		t.Helper()
		r := two.do("POST", "/api/v1/share/requests", token, map[string]any{"resource_id": id, "purpose": "核对站点", "legal_duty": "《突发公共卫生事件应急条例》", "term_days": 10}, "")
		if r.status != 201 {
			t.Fatalf("share request: %d %s", r.status, r.body)
		}
		at, err := time.Parse(time.RFC3339, r.json(t)["deadline"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	before := file(wj)
	zone, _ := time.LoadLocation("Asia/Shanghai")
	today := time.Now().In(zone)
	blockEnd := today.AddDate(0, 0, 21)
	years := map[int][]map[string]string{}
	for day := today.AddDate(0, 0, 1); !day.After(blockEnd); day = day.AddDate(0, 0, 1) {
		years[day.Year()] = append(years[day.Year()], map[string]string{"date": day.Format("2006-01-02"), "kind": "holiday", "name": "测试假期"})
	}
	admin1 := one.login("admin", "bureau-secret-1")
	for y, days := range years {
		if r := one.do("PUT", fmt.Sprintf("/api/v1/calendar/%d", y), admin1, map[string]any{"days": days}, ""); r.status != 200 {
			t.Fatalf("calendar edit: %d %s", r.status, r.body)
		}
	}
	time.Sleep(1500 * time.Millisecond) // each instance reads the change counter every 500 ms
	after := file(sc)
	if !after.After(before) || !after.In(zone).After(blockEnd) {
		t.Fatalf("deadline on the second after three holiday weeks set on the first: %v (before: %v, holidays until %s)",
			after, before, blockEnd.Format("2006-01-02"))
	}

	// Withdrawn on the first: gone from the second's search within 2 s.
	if r := one.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/withdrawal", id), admin1,
		map[string]any{"reason": "数据已由新系统替代", "notice_days": 0}, ""); r.status != 200 {
		t.Fatalf("withdraw: %d %s", r.status, r.body)
	}
	within(t, "withdrawal on the first gone from the second", 2*time.Second, func() bool { return two.titles("候车亭") == "" })

	// Both answer every search alike.
	for _, q := range []string{"公交站点", "候车亭", "站点", "交通", ""} {
		within(t, "both instances agree on "+q, 2*time.Second, func() bool { return one.titles(q) == two.titles(q) })
	}

	// The audit chain both instances appended to verifies.
	t.Logf("audit verify: %s", strings.TrimSpace(cli("", "audit", "verify"))) // exit 1 fails the test
}
