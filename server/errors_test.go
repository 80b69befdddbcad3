package server_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"opendata/blob"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
	"opendata/jobs"
	"opendata/server"
)

// leaks are texts of causes that must never reach a client.
var leaks = []string{"UNIQUE", "constraint", "2067", "23505", "sql:", "no rows", "goroutine", ".go:", "pq:", "SQLSTATE", "dial tcp", "connection refused"}

func noLeak(t *testing.T, what string, body []byte) {
	t.Helper()
	for _, l := range leaks {
		if strings.Contains(string(body), l) {
			t.Errorf("%s shows the cause (%q): %.400s", what, l, body)
		}
	}
}

// Each error a user can meet answers in words from the message catalog,
// in their language, with the request id, and logs the cause under it.
func TestErrorsInWords(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		bs, err := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		e := start(t, d, bs, nil)
		admin := e.login("admin", "bureau-secret-1")

		// A duplicate department code: 409 in words, naming the field.
		dept := map[string]string{"code": "JTJ", "name": "又一个交通局", "kind": "department"}
		r := e.do("POST", "/api/v1/departments", admin, dept, nil)
		if r.status != 409 {
			t.Fatalf("duplicate department: %d %s", r.status, r.body)
		}
		noLeak(t, "duplicate department", r.body)
		body := r.json(t)["error"].(map[string]any)
		if body["code"] != "duplicate" || !strings.Contains(body["message"].(string), "部门代码") ||
			body["fields"].(map[string]any)["code"] == nil {
			t.Errorf("duplicate department answer: %s", r.body)
		}
		if rid := r.header.Get("X-Request-ID"); rid == "" || body["request_id"] != rid {
			t.Errorf("request id: header %q, body %v", rid, body["request_id"])
		}
		r = e.do("POST", "/api/v1/departments", admin, dept, map[string]string{"Accept-Language": "en"})
		if msg := r.json(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "department with this code already exists") {
			t.Errorf("English message: %q", msg)
		}
		// The cause is in the log, under the request id.
		rid := r.header.Get("X-Request-ID")
		line := logLine(t, e, rid, "status=409")
		if !strings.Contains(line, "UNIQUE") && !strings.Contains(line, "23505") {
			t.Errorf("the cause is not logged with request %s: %s", rid, line)
		}

		// Not found, on the API and on a page: no "sql: no rows".
		for _, p := range []string{"/api/v1/catalog/resources/987654", "/api/v1/resources/987654", "/api/v1/jobs/nope"} {
			r := e.do("GET", p, admin, nil, nil)
			if r.status != 404 {
				t.Errorf("%s: %d", p, r.status)
			}
			noLeak(t, p, r.body)
		}
		for _, p := range []string{"/datasets/987654", "/departments/NOPE", "/console/resources/987654", "/console/jobs/nope"} {
			r := e.do("GET", p, "", nil, map[string]string{"Cookie": "opendata_session=" + admin})
			if r.status != 404 {
				t.Errorf("%s: %d", p, r.status)
			}
			noLeak(t, p, r.body)
			if rid := r.header.Get("X-Request-ID"); !strings.Contains(string(r.body), rid) {
				t.Errorf("%s: the page does not show the request id %s", p, rid)
			}
		}

		// Every line logged while serving a request names it.
		r = e.do("GET", "/api/v1/resources/987654", "", nil, nil)
		logLine(t, e, r.header.Get("X-Request-ID"), "msg=request")
	})
}

// logLine waits for the log line of a request that contains want.
func logLine(t *testing.T, e *env, rid, want string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		for _, l := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(l, "request_id="+rid) && strings.Contains(l, want) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with request_id=%s and %q", rid, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A proxy's request id is kept only behind a proxy we run (trust_proxy);
// otherwise a client could plant ids in our logs.
func TestRequestIDFromProxy(t *testing.T) {
	e := sqliteEnv(t)
	r := e.do("GET", "/healthz", "", nil, map[string]string{"X-Request-ID": "proxy-0123456789"})
	if got := r.header.Get("X-Request-ID"); got == "proxy-0123456789" || len(got) != 24 {
		t.Errorf("an untrusted client's id was kept: %q", got)
	}
}

// A conversion that panics (or any internal failure) leaves the job with
// words for people, never the stack; file and row problems are shown.
func TestJobErrorsInWords(t *testing.T) {
	bs, err := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	e := startWith(t, dbtest.SQLite(t), bs, nil, func(s *server.Server) {
		s.SetJobHandler("ingest", func(ctx context.Context, j jobs.Job, report func(string, int64, int64, int64)) (any, error) {
			return nil, fmt.Errorf("ingest %s: internal error while converting: %v\n%s", j.ID, "runtime error: index out of range [3] with length 3", debug.Stack())
		})
	})
	staff := e.login("jt_staff", "transport-pass-1")
	r := e.do("POST", "/api/v1/catalog/resources", staff, busEntry(e.bus), nil)
	id := int64(r.json(t)["id"].(float64))
	r = e.uploadWith(staff, id, "bus.csv", []byte(busCSV), dirty)
	job := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string))
	msg := fmt.Sprint(job["error"])
	if job["status"] != "failed" || !strings.Contains(msg, "内部错误") {
		t.Fatalf("job: %v", job)
	}
	for _, l := range leaks {
		if strings.Contains(msg, l) {
			t.Errorf("job error shows %q: %s", l, msg)
		}
	}
	page := e.do("GET", "/console/jobs/"+job["id"].(string)+"?lang=en", "", nil, map[string]string{"Cookie": "opendata_session=" + staff})
	noLeak(t, "job page", page.body)
	if !strings.Contains(string(page.body), "internal error stopped the processing") {
		t.Errorf("job page: %s", page.body)
	}
	if !strings.Contains(e.logs.String(), "goroutine") {
		t.Error("the stack is not in the log")
	}
}

func TestJobErrorText(t *testing.T) {
	stack := fmt.Errorf("internal error while converting: boom\n%s", debug.Stack())
	for _, c := range []struct {
		err  error
		want string
	}{
		{stack, "error.job_internal"},
		{fmt.Errorf("bus.csv: %w", errs.Invalidf("row 3, field 年龄: 五十 is not a number")), "bus.csv: row 3, field 年龄: 五十 is not a number"},
		{errs.Internal(errs.Unavailable, errors.New("dial tcp 127.0.0.1:9000: connect: connection refused")), "error.job_unavailable"},
		{&os.PathError{Op: "write", Path: "/tmp/x", Err: errors.New("no space left on device")}, "error.job_internal"},
		{&errs.Public{Kind: errs.Invalid, Key: "ingest.empty"}, "ingest.empty"},
	} {
		if got := server.JobErrorText(c.err); got != c.want {
			t.Errorf("%.60q → %q, want %q", c.err.Error(), got, c.want)
		}
	}
}

// While the database cannot be reached, pages and the API answer 503 with
// Retry-After — never 404 (a client would take it for the truth) or 500 —
// and everything works again when it is back.
func TestDatabaseOutageIs503(t *testing.T) {
	d := dbtest.Postgres(t)
	bs, err := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, d, bs, nil)
	id := publishBusStops(t, e)
	staff := e.login("jt_staff", "transport-pass-1")
	ctx := context.Background()
	var name string
	if err := d.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	admin, err := db.Open(ctx, dbtest.PostgresURL(t), "")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if !regexp.MustCompile(`^opendata_test_[0-9a-f]+$`).MatchString(name) {
		t.Fatalf("unexpected test database %q", name)
	}
	// Only this test's database goes away: other sessions share the server.
	cut := func(allow bool) {
		t.Helper()
		if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s ALLOW_CONNECTIONS %t", name, allow)); err != nil {
			t.Fatal(err)
		}
		if !allow {
			if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()", name); err != nil {
				t.Fatal(err)
			}
		}
	}
	cut(false)
	defer cut(true)
	checks := []struct {
		method, path, token string
		body                any
		hdr                 map[string]string
	}{
		{"GET", fmt.Sprintf("/datasets/%d", id), "", nil, nil},
		{"GET", fmt.Sprintf("/api/v1/resources/%d", id), "", nil, nil},
		{"GET", fmt.Sprintf("/api/v1/resources/%d/download/open.csv", id), "", nil, nil},
		{"GET", "/api/v1/catalog/resources", staff, nil, nil},
		{"GET", fmt.Sprintf("/api/v1/catalog/resources/%d", id), staff, nil, nil},
		{"GET", "/console", "", nil, map[string]string{"Cookie": "opendata_session=" + staff}},
		{"POST", "/api/v1/auth/login", "", map[string]string{"username": "jt_staff", "password": "transport-pass-1"}, nil},
		{"POST", "/login", "", "username=jt_staff&password=transport-pass-1",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": "opendata_csrf=t", "X-CSRF-Token": "t"}},
		{"GET", fmt.Sprintf("/api/v1/resources/%d/records", id), "", nil, nil},
		{"GET", "/readyz", "", nil, nil},
	}
	for _, c := range checks {
		r := e.do(c.method, c.path, c.token, c.body, c.hdr)
		if r.status != 503 || r.header.Get("Retry-After") == "" {
			t.Errorf("during the outage %s %s → %d (Retry-After %q): %.300s", c.method, c.path, r.status, r.header.Get("Retry-After"), r.body)
		}
		if c.path != "/readyz" {
			noLeak(t, c.path, r.body)
		}
	}
	if r := e.do("GET", "/healthz", "", nil, nil); r.status != 200 {
		t.Errorf("healthz during the outage: %d (the process is alive)", r.status)
	}
	cut(true)
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range checks {
		for {
			r := e.do(c.method, c.path, c.token, c.body, c.hdr)
			if r.status < 500 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the outage %s %s → %d: %.300s", c.method, c.path, r.status, r.body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
