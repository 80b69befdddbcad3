package server_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"opendata/auth"
	"opendata/blob"
	"opendata/config"
	"opendata/db/dbtest"
	"opendata/notify/notifytest"
)

func gatewayEnv(t *testing.T, mutate func(*config.Config)) *env {
	bs, err := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return start(t, dbtest.SQLite(t), bs, mutate)
}

// eachGatewayEnv runs fn on SQLite + local disk and on PostgreSQL + MinIO.
func eachGatewayEnv(t *testing.T, mutate func(*config.Config), fn func(t *testing.T, e *env)) {
	t.Run("sqlite+local", func(t *testing.T) { fn(t, gatewayEnv(t, mutate)) })
	t.Run("postgres+minio", func(t *testing.T) {
		d := dbtest.Postgres(t)
		fn(t, start(t, d, minioStore(t), mutate))
	})
}

// signupDeveloper registers through the API, has the bureau activate the
// account (no SMTP here) and logs in.
func signupDeveloper(t *testing.T, e *env, admin, email, org string) (token string, id int64) {
	t.Helper()
	r := e.do("POST", "/api/v1/account/signup", "", map[string]string{"email": email, "password": "developer-pass-1", "display_name": "李开发", "organisation": org}, nil)
	if r.status != 202 || r.json(t)["next"] != "await_activation" || r.json(t)["user"] != nil {
		t.Fatalf("signup: %d %s", r.status, r.body)
	}
	// Awaiting activation is said as such, and only to the password's holder.
	if r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": email, "password": "developer-pass-1"}, nil); r.status != 403 ||
		r.json(t)["error"].(map[string]any)["code"] != "account_inactive" || !strings.Contains(string(r.body), "尚未启用") {
		t.Fatalf("login before activation: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": email, "password": "wrong-pass-xyz"}, nil); r.status != 401 {
		t.Fatalf("wrong password before activation: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/api/v1/developers", admin, nil, nil)
	for _, d := range r.json(t)["developers"].([]any) {
		if d := d.(map[string]any); d["email"] == strings.ToLower(email) {
			id = int64(d["id"].(float64))
		}
	}
	if id == 0 {
		t.Fatalf("bureau does not see the sign-up: %s", r.body)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/developers/%d/activate", id), admin, nil, nil); r.status != 200 || r.json(t)["active"] != true {
		t.Fatalf("activate: %d %s", r.status, r.body)
	}
	return e.login(email, "developer-pass-1"), id
}

func TestGatewayKeysAndLimits(t *testing.T) {
	eachGatewayEnv(t, func(c *config.Config) { c.RegisteredRate, c.RegisteredDaily = "3-S", 0 }, gatewayKeysAndLimits)
}

func gatewayKeysAndLimits(t *testing.T, e *env) {
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	id := e.entryWithData(staff, admin, "G-U", "unconditional", "unconditional")
	dev, _ := signupDeveloper(t, e, admin, "dev@example.cn", "某大学交通研究所")

	// A developer is nobody to the staff side.
	for _, path := range []string{"/api/v1/catalog/resources", "/api/v1/share/requests", "/api/v1/audit"} {
		if r := e.do("GET", path, dev, nil, nil); r.status != 401 && r.status != 403 {
			t.Fatalf("developer on %s: %d", path, r.status)
		}
	}
	// Keys: created once with the token, listed without it.
	r := e.do("POST", "/api/v1/keys", dev, map[string]any{"name": "公交分析", "expires_in_days": 30}, nil)
	if r.status != 201 {
		t.Fatalf("create key: %d %s", r.status, r.body)
	}
	key := r.json(t)["token"].(string)
	keyID := int64(r.json(t)["key"].(map[string]any)["id"].(float64))
	if !strings.HasPrefix(key, "oda_") {
		t.Fatalf("token %q", key)
	}
	r = e.do("GET", "/api/v1/keys", dev, nil, nil)
	if strings.Contains(string(r.body), key) || !strings.Contains(string(r.body), key[:10]) {
		t.Fatalf("listing shows the secret or not the prefix: %s", r.body)
	}
	var stored string
	e.app.DB.QueryRow(context.Background(), "SELECT token_hash FROM api_keys WHERE id = ?", keyID).Scan(&stored)
	if stored == key || stored != auth.HashToken(key) {
		t.Fatal("the key is not stored hashed")
	}
	if r := e.do("POST", "/api/v1/keys", key, map[string]any{"name": "x"}, nil); r.status != 403 {
		t.Fatalf("a key made a key: %d", r.status)
	}
	if r := e.do("POST", "/api/v1/keys", staff, map[string]any{"name": "x"}, nil); r.status != 403 {
		t.Fatalf("staff made a key: %d", r.status)
	}

	// Call → limits → 429 → reset. (The calls above spent the account's
	// allowance too: let that window pass so this one starts fresh.)
	time.Sleep(1100 * time.Millisecond)
	path := fmt.Sprintf("/api/v1/resources/%d/records?select=%s&sort=-%s", id, url.QueryEscape("站点编号,站点名称,负责人身份证"), url.QueryEscape("站点编号"))
	for i := 0; i < 3; i++ {
		r = e.do("GET", path, "", nil, map[string]string{"X-API-Key": key})
		if r.status == 429 { // a second boundary fell between calls: wait it out
			time.Sleep(time.Second)
			i--
			continue
		}
		if r.status != 200 || r.header.Get("RateLimit-Limit") != "3" {
			t.Fatalf("call %d: %d %v %s", i, r.status, r.header, r.body)
		}
	}
	j := r.json(t)
	recs := j["records"].([]any)
	first := recs[0].(map[string]any)
	if len(recs) != 4 || first["站点编号"] != 4.0 || first["站点名称"] != "火车站,北广场" || first["负责人身份证"] == "11010519491231002X" {
		t.Fatalf("records: %s", r.body)
	}
	r = e.do("GET", path, key, nil, nil)
	if r.status != 429 || r.header.Get("Retry-After") == "" || r.json(t)["error"].(map[string]any)["code"] != "rate_limited" {
		t.Fatalf("4th call in a second: %d %v %s", r.status, r.header, r.body)
	}
	reset, _ := strconv.Atoi(r.header.Get("RateLimit-Reset"))
	time.Sleep(time.Duration(reset)*time.Second + 100*time.Millisecond)
	if r := e.do("GET", path, key, nil, nil); r.status != 200 {
		t.Fatalf("after the reset: %d %s", r.status, r.body)
	}
	// The bureau raises the key to the partner tier: its limit follows.
	if r := e.do("POST", fmt.Sprintf("/api/v1/keys/%d/tier", keyID), dev, map[string]string{"tier": "partner"}, nil); r.status != 403 {
		t.Fatalf("developer set a tier: %d", r.status)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/keys/%d/tier", keyID), admin, map[string]string{"tier": "partner"}, nil); r.status != 200 {
		t.Fatalf("tier: %d %s", r.status, r.body)
	}
	if r := e.do("GET", path, key, nil, nil); r.header.Get("RateLimit-Limit") != "100" {
		t.Fatalf("partner limit: %v", r.header)
	}
	r = e.do("GET", "/api/v1/key", key, nil, nil)
	if lim := r.json(t)["limits"].(map[string]any); r.status != 200 || lim["rate"] != 100.0 || lim["period_seconds"] != 1.0 || r.json(t)["key"].(map[string]any)["tier"] != "partner" {
		t.Fatalf("key info: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/key", "", nil, nil); r.status != 401 {
		t.Fatalf("key info without a key: %d", r.status)
	}
	// Anonymous callers are limited per IP with the anonymous tier.
	if r := e.do("GET", path, "", nil, nil); r.status != 200 || r.header.Get("RateLimit-Limit") != "120" {
		t.Fatalf("anonymous: %d %v", r.status, r.header)
	}
	// Formats.
	r = e.do("GET", path+"&format=csv", key, nil, nil)
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil || len(rows) != 5 || rows[0][1] != "站点名称" || rows[1][1] != "火车站,北广场" || r.header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("csv: %v %q", err, r.body)
	}
	r = e.do("GET", path+"&format=ndjson&limit=2", key, nil, nil)
	if lines := strings.Split(strings.TrimSpace(string(r.body)), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], `{"站点编号":4,`) {
		t.Fatalf("ndjson: %q", r.body)
	}
	// Revoked and expired keys stop at once.
	key2 := e.do("POST", "/api/v1/keys", dev, map[string]any{"name": "第二把", "expires_in_days": 365}, nil).json(t)["token"].(string)
	// 30 days on, the first key has expired (the second has not).
	e.app.Access.Now = func() time.Time { return time.Now().Add(30*24*time.Hour + time.Minute) }
	if r := e.do("GET", path, key, nil, nil); r.status != 401 || strings.Contains(string(r.body), "舞阳坝") {
		t.Fatalf("expired key: %d", r.status)
	}
	if r := e.do("GET", path, key2, nil, nil); r.status != 200 {
		t.Fatalf("unexpired key: %d", r.status)
	}
	e.app.Access.Now = nil
	id2 := int64(e.do("GET", "/api/v1/keys", dev, nil, nil).json(t)["keys"].([]any)[0].(map[string]any)["id"].(float64))
	if r := e.do("GET", path, key2, nil, nil); r.status != 200 {
		t.Fatalf("second key: %d", r.status)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/keys/%d/revoke", id2), dev, nil, nil); r.status != 200 || r.json(t)["revoked_at"] == nil {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := e.do("GET", path, key2, nil, nil); r.status != 401 {
		t.Fatalf("revoked key: %d", r.status)
	}
	if r := e.do("GET", path, "oda_forged", nil, nil); r.status != 401 {
		t.Fatalf("forged key: %d", r.status)
	}
	// Key events are audited.
	r = e.do("GET", "/api/v1/audit?action=key.revoke", admin, nil, nil)
	if !strings.Contains(string(r.body), `"action":"key.revoke"`) {
		t.Fatalf("audit: %s", r.body)
	}
	// Suspending the account stops its keys.
	key3 := e.do("POST", "/api/v1/keys", dev, map[string]any{"name": "第三把"}, nil).json(t)["token"].(string)
	devID := e.do("GET", "/api/v1/auth/me", dev, nil, nil).json(t)["id"].(float64)
	e.do("POST", fmt.Sprintf("/api/v1/developers/%d/suspend", int64(devID)), admin, nil, nil)
	if r := e.do("GET", path, key3, nil, nil); r.status != 401 {
		t.Fatalf("key of a suspended account: %d", r.status)
	}
}

// TestGatewayApplication: application → review → approval → access →
// expiry → denial, and revocation.
func TestGatewayApplication(t *testing.T) { eachGatewayEnv(t, nil, gatewayApplication) }

func gatewayApplication(t *testing.T, e *env) {
	ctx := context.Background()
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	other := e.login("wj_staff", "health-pass-123")
	id := e.entryWithData(staff, admin, "G-C", "conditional", "on_application")
	dev, devID := signupDeveloper(t, e, admin, "lab@example.cn", "某大学交通研究所")
	key := e.do("POST", "/api/v1/keys", dev, map[string]any{"name": "研究"}, nil).json(t)["token"].(string)
	path := fmt.Sprintf("/api/v1/resources/%d/records", id)

	if r := e.do("GET", path, "", nil, nil); r.status != 401 || strings.Contains(string(r.body), "舞阳坝") {
		t.Fatalf("anonymous on on-application data: %d %s", r.status, r.body)
	}
	if r := e.do("GET", path, key, nil, nil); r.status != 403 || strings.Contains(string(r.body), "舞阳坝") {
		t.Fatalf("key without application: %d %s", r.status, r.body)
	}
	form := map[string]any{"resource_id": id, "organisation": "某大学交通研究所", "purpose": "研究公交站点布局", "intended_use": "学术论文中的空间分析",
		"columns": []string{"站点编号", "站点名称", "日均客流"}, "term_days": 30, "contact": "027-88888888"}
	bad := map[string]any{"resource_id": id, "organisation": "", "purpose": "x", "term_days": 9999}
	r := e.do("POST", "/api/v1/applications", dev, bad, nil)
	if f := r.json(t)["error"].(map[string]any)["fields"].(map[string]any); r.status != 400 || f["purpose"] == nil || f["term_days"] == nil || f["contact"] == nil {
		t.Fatalf("bad application: %d %s", r.status, r.body)
	}
	r = e.do("POST", "/api/v1/applications", dev, form, nil)
	if r.status != 201 {
		t.Fatalf("apply: %d %s", r.status, r.body)
	}
	app := r.json(t)
	appID := int64(app["id"].(float64))
	deadline, _ := time.Parse(time.RFC3339Nano, app["deadline"].(string))
	if want := e.app.Calendar.AddWorkingDays(time.Now(), 10); deadline.Sub(want).Abs() > time.Minute {
		t.Fatalf("deadline %v, want 10 working days: %v", deadline, want)
	}
	if left := app["time_left"].(map[string]any); left["working_days"].(float64) < 9 {
		t.Fatalf("time left: %v", left)
	}
	if r := e.do("POST", "/api/v1/applications", dev, form, nil); r.status != 409 {
		t.Fatalf("second pending application: %d", r.status)
	}
	// The provider sees it in its queue (and was notified); another
	// department neither sees nor answers it.
	if r := e.do("GET", "/api/v1/applications", staff, nil, nil); !strings.Contains(string(r.body), "研究公交站点布局") {
		t.Fatalf("provider queue: %s", r.body)
	}
	if r := e.do("GET", "/api/v1/notifications", staff, nil, nil); !strings.Contains(string(r.body), "application_filed") {
		t.Fatalf("provider not notified: %s", r.body)
	}
	if r := e.do("GET", "/api/v1/applications", other, nil, nil); strings.Contains(string(r.body), "研究公交站点布局") {
		t.Fatalf("another department sees the application: %s", r.body)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/applications/%d/approve", appID), other, map[string]any{}, nil); r.status != 404 {
		t.Fatalf("another department approved: %d", r.status)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/applications/%d/approve", appID), dev, map[string]any{}, nil); r.status != 401 && r.status != 403 {
		t.Fatalf("the applicant approved: %d", r.status)
	}
	// Approve with a narrower scope and a 1-day term.
	r = e.do("POST", fmt.Sprintf("/api/v1/applications/%d/approve", appID), staff, map[string]any{"columns": []string{"站点编号", "站点名称"}, "term_days": 1}, nil)
	if r.status != 200 || r.json(t)["status"] != "approved" {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	grant := r.json(t)["grant"].(map[string]any)
	expires, _ := time.Parse(time.RFC3339Nano, grant["expires_at"].(string))
	inbox, _ := e.app.Notify.UserInbox(ctx, devID, "zh-CN")
	if len(inbox) == 0 || inbox[0].Kind != "application_approved" {
		t.Fatalf("applicant not told: %+v", inbox)
	}
	// Access with the same key, within the granted columns.
	r = e.do("GET", path+"?sort="+url.QueryEscape("站点编号"), key, nil, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `{"站点编号":1,"站点名称":"舞阳坝"}`) || strings.Contains(string(r.body), "日均客流") || strings.Contains(string(r.body), "身份证") {
		t.Fatalf("granted access: %d %s", r.status, r.body)
	}
	if r := e.do("GET", path+"?select="+url.QueryEscape("日均客流"), key, nil, nil); r.status != 400 {
		t.Fatalf("column outside the grant: %d %s", r.status, r.body)
	}
	// Reads under a grant are audited.
	if r := e.do("GET", fmt.Sprintf("/api/v1/audit?resource_id=%d&action=open.read", id), staff, nil, nil); !strings.Contains(string(r.body), `"action":"open.read"`) {
		t.Fatalf("granted read not audited: %s", r.body)
	}
	// Expiry: a minute before the end it works, a minute after it does not.
	e.app.Access.Now = func() time.Time { return expires.Add(-time.Minute) }
	if r := e.do("GET", path, key, nil, nil); r.status != 200 {
		t.Fatalf("a minute before expiry: %d", r.status)
	}
	e.app.Access.Now = func() time.Time { return expires.Add(time.Minute) }
	if r := e.do("GET", path, key, nil, nil); r.status != 403 || strings.Contains(string(r.body), "舞阳坝") {
		t.Fatalf("a minute after expiry: %d %s", r.status, r.body)
	}
	e.app.Access.Now = nil
	// Revocation takes effect at once.
	if r := e.do("POST", fmt.Sprintf("/api/v1/applications/%d/revoke", appID), staff, map[string]string{"reason": ""}, nil); r.status != 400 {
		t.Fatalf("revoke without reason: %d", r.status)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/applications/%d/revoke", appID), staff, map[string]string{"reason": "用途超出申请范围"}, nil); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := e.do("GET", path, key, nil, nil); r.status != 403 {
		t.Fatalf("after revocation: %d", r.status)
	}
	// A refused application tells the applicant why.
	r = e.do("POST", "/api/v1/applications", dev, form, nil)
	app2 := int64(r.json(t)["id"].(float64))
	if r := e.do("POST", fmt.Sprintf("/api/v1/applications/%d/refuse", app2), staff, map[string]string{"reason": ""}, nil); r.status != 400 {
		t.Fatalf("refuse without reason: %d", r.status)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/applications/%d/refuse", app2), staff, map[string]string{"reason": "申请用途与数据无关"}, nil); r.status != 200 {
		t.Fatalf("refuse: %d", r.status)
	}
	r = e.do("GET", fmt.Sprintf("/api/v1/applications/%d", app2), dev, nil, nil)
	if r.json(t)["status"] != "refused" || r.json(t)["reason"] != "申请用途与数据无关" {
		t.Fatalf("applicant's view: %s", r.body)
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/applications/%d", app2), other, nil, nil); r.status != 404 {
		t.Fatalf("another department reads the application: %d", r.status)
	}
	// A pending application can be withdrawn by its applicant only.
	app3 := int64(e.do("POST", "/api/v1/applications", dev, form, nil).json(t)["id"].(float64))
	if r := e.do("POST", fmt.Sprintf("/api/v1/applications/%d/withdraw", app3), staff, nil, nil); r.status != 403 {
		t.Fatalf("staff withdrew: %d", r.status)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/applications/%d/withdraw", app3), dev, nil, nil); r.status != 200 || r.json(t)["status"] != "withdrawn" {
		t.Fatalf("withdraw: %d %s", r.status, r.body)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/applications/%d/withdraw", app2), dev, nil, nil); r.status != 409 {
		t.Fatalf("withdraw a refused one: %d", r.status)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/applications/%d/approve", app3), staff, map[string]any{}, nil); r.status != 409 {
		t.Fatalf("approve a withdrawn one: %d", r.status)
	}
}

func TestGatewayUsage(t *testing.T) { eachGatewayEnv(t, nil, gatewayUsage) }

func gatewayUsage(t *testing.T, e *env) {
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	other := e.login("wj_staff", "health-pass-123")
	id := e.entryWithData(staff, admin, "G-U", "unconditional", "unconditional")
	dev, _ := signupDeveloper(t, e, admin, "dev@example.cn", "某大学交通研究所")
	key := e.do("POST", "/api/v1/keys", dev, map[string]any{"name": "统计"}, nil).json(t)["token"].(string)
	for i := 0; i < 3; i++ {
		e.do("GET", fmt.Sprintf("/api/v1/resources/%d/records?limit=2", id), key, nil, nil)
	}
	e.do("GET", fmt.Sprintf("/api/v1/resources/%d/records", id), "", nil, nil)

	r := e.do("GET", "/api/v1/usage?days=7", dev, nil, nil)
	rep := r.json(t)
	tot := rep["totals"].(map[string]any)
	if tot["calls"] != 3.0 || tot["rows"] != 6.0 || tot["bytes"].(float64) < 100 || len(rep["days"].([]any)) != 7 {
		t.Fatalf("developer usage: %s", r.body)
	}
	if daily := rep["daily"].([]any); daily[6].(map[string]any)["calls"] != 3.0 {
		t.Fatalf("today's calls: %v", daily)
	}
	if by := rep["by"].([]any); len(by) != 1 || !strings.Contains(by[0].(map[string]any)["label"].(string), "G-U") {
		t.Fatalf("by dataset: %v", by)
	}
	// The department sees who uses its data (the anonymous caller too).
	r = e.do("GET", "/api/v1/usage", staff, nil, nil)
	if tot := r.json(t)["totals"].(map[string]any); tot["calls"] != 4.0 || !strings.Contains(string(r.body), "某大学交通研究所") {
		t.Fatalf("department usage: %s", r.body)
	}
	if r := e.do("GET", "/api/v1/usage", other, nil, nil); r.json(t)["totals"].(map[string]any)["calls"] != 0.0 {
		t.Fatalf("another department sees usage of data not its own: %s", r.body)
	}
	if r := e.do("GET", "/api/v1/usage", admin, nil, nil); r.json(t)["totals"].(map[string]any)["calls"] != 4.0 {
		t.Fatalf("bureau usage: %s", r.body)
	}
	if r := e.do("GET", "/api/v1/usage?days=0", dev, nil, nil); r.status != 400 {
		t.Fatalf("days=0: %d", r.status)
	}
	if r := e.do("GET", "/api/v1/usage", key, nil, nil); r.status != 403 {
		t.Fatalf("usage with a key: %d", r.status)
	}
}

// TestRecordsBadInputHTTP: bad parameters are 400s naming the parameter,
// never a 500 and never another dataset's rows.
func TestRecordsBadInputHTTP(t *testing.T) {
	e := gatewayEnv(t, nil)
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	a := e.entryWithData(staff, admin, "B-A", "unconditional", "unconditional")
	b := e.entryWithData(staff, admin, "B-B", "unconditional", "unconditional")
	r := e.do("GET", fmt.Sprintf("/api/v1/resources/%d/records?limit=1&sort=%s", b, url.QueryEscape("站点编号")), "", nil, nil)
	cursorB := r.json(t)["next_cursor"].(string)
	q := url.QueryEscape
	for _, tc := range []struct{ params, field string }{
		{"select=nope", "select"},
		{"filter=" + q("站点编号 eq 一"), "filter"},
		{"filter=" + q("站点名称 eq '舞阳坝' OR 1=1"), "filter"},
		{"filter=" + q("站点名称 eq '舞阳坝'); DROP TABLE users; --"), "filter"},
		{"filter=" + q("(站点编号 eq 1"), "filter"},
		{"filter=" + q("站点编号 in ("+strings.Repeat("1,", 300)+"1)"), "filter"},
		{"sort=" + q("站点编号; DELETE"), "sort"},
		{"limit=100000", "limit"},
		{"limit=-5", "limit"},
		{"offset=x", "offset"},
		{"cursor=" + q(cursorB) + "&sort=" + q("站点编号"), "cursor"},
		{"cursor=" + q(cursorB[:len(cursorB)-3]+"AAA") + "&sort=" + q("站点编号"), "cursor"},
		{"format=" + q("json' --"), "format"},
		{"group_by=" + q("站点名称\"; --"), "group_by"},
	} {
		r := e.do("GET", fmt.Sprintf("/api/v1/resources/%d/records?%s", a, tc.params), "", nil, nil)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", tc.params, r.status, r.body)
			continue
		}
		f, _ := r.json(t)["error"].(map[string]any)["fields"].(map[string]any)
		if f[tc.field] == nil {
			t.Errorf("%s: the error does not name %s: %s", tc.params, tc.field, r.body)
		}
		if strings.Contains(string(r.body), "舞阳坝\",") {
			t.Errorf("%s: data in an error", tc.params)
		}
	}
	if r := e.do("GET", "/api/v1/resources/abc/records", "", nil, nil); r.status != 400 {
		t.Fatalf("bad id: %d", r.status)
	}
	if r := e.do("GET", "/api/v1/resources/99999/records", "", nil, nil); r.status != 404 {
		t.Fatalf("missing dataset: %d", r.status)
	}
}

// TestRecordsNewVersion: publishing a new version switches the records API
// over in one step; a cursor of the old version is refused with a clear
// message rather than mixing versions.
func TestRecordsNewVersion(t *testing.T) {
	e := gatewayEnv(t, nil)
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	id := e.entryWithData(staff, admin, "V-U", "unconditional", "unconditional")
	path := fmt.Sprintf("/api/v1/resources/%d/records", id)
	r := e.do("GET", path+"?limit=2", "", nil, nil)
	cursor := r.json(t)["next_cursor"].(string)
	if r.header.Get("X-Dataset-Version") != "1" {
		t.Fatalf("version header: %v", r.header)
	}
	v2 := busStopsGBK + "5,新建站,300,11010519491231002X\r\n"
	up := e.upload(staff, id, "stops-v2.csv", gbk(v2))
	if j := e.waitJob(staff, up.json(t)["job"].(map[string]any)["id"].(string)); j["status"] != "succeeded" {
		t.Fatalf("ingest v2: %v", j)
	}
	// Until v2 is published, the API keeps serving v1.
	if r := e.do("GET", path+"?count=true", "", nil, nil); r.json(t)["count"] != 4.0 {
		t.Fatalf("before publication: %s", r.body)
	}
	e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/2/submit", id), staff, nil, nil)
	if r := e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/2/approve", id), admin, nil, nil); r.status != 200 {
		t.Fatalf("publish v2: %s", r.body)
	}
	r = e.do("GET", path+"?count=true&filter="+url.QueryEscape("站点名称 eq 新建站"), "", nil, nil)
	if r.status != 200 || r.json(t)["count"] != 1.0 || r.json(t)["version"] != 2.0 || r.header.Get("X-Dataset-Version") != "2" {
		t.Fatalf("after publication: %d %s", r.status, r.body)
	}
	r = e.do("GET", path+"?limit=2&cursor="+url.QueryEscape(cursor), "", nil, nil)
	if r.status != 400 || !strings.Contains(string(r.body), "第 1 版") {
		t.Fatalf("old cursor: %d %s", r.status, r.body)
	}
}

// TestApplicationReminders: one working day before the deadline the
// department is reminded; once overdue, it and the bureau are told; each once.
func TestApplicationReminders(t *testing.T) {
	e := gatewayEnv(t, nil)
	ctx := context.Background()
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	id := e.entryWithData(staff, admin, "R-C", "conditional", "on_application")
	dev, _ := signupDeveloper(t, e, admin, "lab@example.cn", "某研究所")
	r := e.do("POST", "/api/v1/applications", dev, map[string]any{"resource_id": id, "organisation": "某研究所", "purpose": "研究公交站点布局",
		"intended_use": "学术论文中的空间分析", "term_days": 30, "contact": "027-88888888"}, nil)
	deadline, _ := time.Parse(time.RFC3339Nano, r.json(t)["deadline"].(string))
	count := func(kind string) int {
		n := 0
		for _, tok := range []string{staff, admin} {
			for _, x := range e.do("GET", "/api/v1/notifications", tok, nil, nil).json(t)["notifications"].([]any) {
				if x.(map[string]any)["kind"] == kind {
					n++
				}
			}
		}
		return n
	}
	if n, _ := e.app.Access.RemindApplications(ctx); n != 0 {
		t.Fatalf("reminded with 10 working days left: %d", n)
	}
	e.app.Access.Now = func() time.Time { return deadline.Add(-time.Hour) }
	if n, _ := e.app.Access.RemindApplications(ctx); n != 1 || count("application_due") != 1 {
		t.Fatalf("last day: %d", n)
	}
	if n, _ := e.app.Access.RemindApplications(ctx); n != 0 {
		t.Fatal("reminded twice")
	}
	e.app.Access.Now = func() time.Time { return deadline.Add(time.Hour) }
	if n, _ := e.app.Access.RemindApplications(ctx); n != 1 || count("application_overdue") != 2 {
		t.Fatalf("overdue: %d, notices %d", n, count("application_overdue"))
	}
	if n, _ := e.app.Access.RemindApplications(ctx); n != 0 {
		t.Fatal("overdue notice twice")
	}
	e.app.Access.Now = nil
	r = e.do("GET", "/api/v1/applications", staff, nil, nil)
	if left := r.json(t)["applications"].([]any)[0].(map[string]any)["time_left"].(map[string]any); left["overdue"] != false {
		t.Fatalf("time left now: %v", left)
	}
}

// TestSignupWithEmail: with an SMTP server, a sign-up is verified by the
// mailed link; the account cannot log in before, and the link works once.
func TestSignupWithEmail(t *testing.T) {
	addr, mail := notifytest.FakeSMTP(t)
	e := gatewayEnv(t, func(c *config.Config) { c.SMTPAddr = addr })
	r := e.do("POST", "/api/v1/account/signup", "", map[string]string{"email": "Lab@Example.cn", "password": "developer-pass-1", "display_name": "王研究"}, nil)
	if r.status != 202 || r.json(t)["next"] != "verify_email" {
		t.Fatalf("signup: %d %s", r.status, r.body)
	}
	var msg string
	select {
	case msg = <-mail:
	case <-time.After(5 * time.Second):
		t.Fatal("no verification e-mail")
	}
	i := strings.Index(msg, "/account/verify?token=")
	if i < 0 || !strings.Contains(msg, "To: lab@example.cn") {
		t.Fatalf("mail: %s", msg)
	}
	link := strings.Fields(msg[i:])[0]
	token := strings.TrimPrefix(link, "/account/verify?token=")
	if r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "lab@example.cn", "password": "developer-pass-1"}, nil); r.status != 403 {
		t.Fatalf("login before verification: %d", r.status)
	}
	// Opening the link (a mail scanner does) changes nothing; the button does.
	if r := e.do("GET", link, "", nil, nil); r.status != 200 || !strings.Contains(string(r.body), `action="/account/verify"`) {
		t.Fatalf("verify page: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "lab@example.cn", "password": "developer-pass-1"}, nil); r.status != 403 {
		t.Fatalf("GET of the link activated the account: %d", r.status)
	}
	confirm := func(tok string) resp {
		return e.do("POST", "/account/verify", "", url.Values{"token": {tok}, "csrf_token": {"c1"}}.Encode(),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": "opendata_csrf=c1"})
	}
	if r := confirm("forged"); r.status != 400 {
		t.Fatalf("forged token: %d", r.status)
	}
	if r := confirm(token); r.status != 200 || !strings.Contains(string(r.body), "邮箱已验证") {
		t.Fatalf("verify: %d %s", r.status, r.body)
	}
	if r := confirm(token); r.status != 400 {
		t.Fatalf("link used twice: %d", r.status)
	}
	tok := e.login("lab@example.cn", "developer-pass-1")
	if me := e.do("GET", "/api/v1/auth/me", tok, nil, nil).json(t); me["email_verified"] != true || me["role"] != "developer" {
		t.Fatalf("me: %v", me)
	}
	// The same address cannot register twice, and the answer does not say
	// so: it is the answer of a new sign-up; the address's owner is told by
	// e-mail, and the account keeps its password.
	second := e.do("POST", "/api/v1/account/signup", "", map[string]string{"email": "LAB@example.cn", "password": "another-pass-1", "display_name": "x"}, nil)
	fresh := e.do("POST", "/api/v1/account/signup", "", map[string]string{"email": "new@example.cn", "password": "another-pass-1", "display_name": "x"}, nil)
	if second.status != 202 || string(second.body) != string(fresh.body) {
		t.Fatalf("second signup tells the address exists: %d %s vs %d %s", second.status, second.body, fresh.status, fresh.body)
	}
	var notes []string
	for len(notes) < 2 {
		select {
		case m := <-mail:
			notes = append(notes, m)
		case <-time.After(5 * time.Second):
			t.Fatalf("mails: %d", len(notes))
		}
	}
	sort.Slice(notes, func(i, j int) bool { return strings.Contains(notes[i], "To: lab@example.cn") })
	if !strings.Contains(notes[0], "To: lab@example.cn") || strings.Contains(notes[0], "verify?token=") || !strings.Contains(notes[0], "/login") ||
		!strings.Contains(notes[1], "To: new@example.cn") || !strings.Contains(notes[1], "verify?token=") {
		t.Fatalf("mails: %q", notes)
	}
	e.login("lab@example.cn", "developer-pass-1")
}
