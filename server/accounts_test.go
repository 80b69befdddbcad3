package server_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"opendata/auth"
)

// TestWhoCreatesAdmins: a department admin creates staff of their own
// department only; a second admin account (who could approve the first
// one's submission) is the bureau's to create.
func TestWhoCreatesAdmins(t *testing.T) {
	e := sqliteEnv(t)
	ctx := context.Background()
	if _, err := e.app.Users.CreateUser(ctx, auth.NewUser{Username: "jt_admin", Password: "transport-admin-1", Role: auth.RoleDeptAdmin, DepartmentID: e.bus}); err != nil {
		t.Fatal(err)
	}
	deptAdmin := e.login("jt_admin", "transport-admin-1")
	admin := e.login("admin", "bureau-secret-1")
	user := func(name string, role auth.Role, dept int64) map[string]any {
		return map[string]any{"username": name, "password": "a-good-password-9", "role": role, "department_id": dept}
	}
	r := e.do("POST", "/api/v1/users", deptAdmin, user("jt_admin2", auth.RoleDeptAdmin, e.bus), nil)
	if r.status != 403 || !strings.Contains(string(r.body), "部门管理员账户由大数据局创建") {
		t.Fatalf("department admin created an admin: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/users", deptAdmin, user("wj_new", auth.RoleDeptStaff, e.hlth), nil); r.status != 403 {
		t.Fatalf("department admin created staff of another department: %d", r.status)
	}
	if r := e.do("POST", "/api/v1/users", deptAdmin, user("boss", auth.RoleBureauAdmin, 0), nil); r.status != 403 {
		t.Fatalf("department admin created a bureau admin: %d", r.status)
	}
	if r := e.do("POST", "/api/v1/users", deptAdmin, user("jt_new", auth.RoleDeptStaff, e.bus), nil); r.status != 201 {
		t.Fatalf("department admin creates staff: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/users", admin, user("jt_admin2", auth.RoleDeptAdmin, e.bus), nil); r.status != 201 {
		t.Fatalf("bureau creates a department admin: %d %s", r.status, r.body)
	}
	// The policy applies to admins' creations, in the reader's language.
	weak := user("jt_weak", auth.RoleDeptStaff, e.bus)
	weak["password"] = "1234567890"
	r = e.do("POST", "/api/v1/users", deptAdmin, weak, map[string]string{"Accept-Language": "en"})
	if r.status != 400 || r.json(t)["error"].(map[string]any)["fields"].(map[string]any)["password"] != "This is a common password that is easy to guess; please choose another" {
		t.Fatalf("weak password: %d %s", r.status, r.body)
	}
	weak["password"] = "jt_weak-password"
	r = e.do("POST", "/api/v1/users", deptAdmin, weak, nil)
	if r.status != 400 || r.json(t)["error"].(map[string]any)["fields"].(map[string]any)["password"] != "密码不能包含用户名或邮箱名" {
		t.Fatalf("password with the username: %d %s", r.status, r.body)
	}
}

// TestRotateRevokedCredential: revoked stays revoked — rotating it gives
// nothing that works.
func TestRotateRevokedCredential(t *testing.T) {
	eachGatewayEnv(t, nil, rotateRevokedCredential)
}

func rotateRevokedCredential(t *testing.T, e *env) {
	ctx := context.Background()
	if _, err := e.app.Users.CreateUser(ctx, auth.NewUser{Username: "jt_admin", Password: "transport-admin-1", Role: auth.RoleDeptAdmin, DepartmentID: e.bus}); err != nil {
		t.Fatal(err)
	}
	deptAdmin := e.login("jt_admin", "transport-admin-1")
	r := e.do("POST", "/api/v1/credentials", deptAdmin, map[string]string{"system_name": "公交调度系统"}, nil)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	cred := r.json(t)
	id, token := cred["id"].(float64), cred["token"].(string)
	if r := e.do("GET", "/api/v1/share/resources", token, nil, nil); r.status != 200 {
		t.Fatalf("credential works: %d", r.status)
	}
	// A live one rotates: the old token stops, the new one works.
	r = e.do("POST", fmt.Sprintf("/api/v1/credentials/%.0f/rotate", id), deptAdmin, nil, nil)
	if r.status != 200 && r.status != 201 {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	next := r.json(t)
	if r := e.do("GET", "/api/v1/share/resources", token, nil, nil); r.status != 401 {
		t.Fatalf("old token after rotation: %d", r.status)
	}
	nid, ntoken := next["id"].(float64), next["token"].(string)
	e.do("POST", fmt.Sprintf("/api/v1/credentials/%.0f/revoke", nid), deptAdmin, nil, nil)
	// Rotating the revoked one (or the first, rotated, one again) is refused.
	for _, rid := range []float64{nid, id} {
		r = e.do("POST", fmt.Sprintf("/api/v1/credentials/%.0f/rotate", rid), deptAdmin, nil, nil)
		if r.status != 409 || r.json(t)["error"].(map[string]any)["code"] != "credential_revoked" || strings.Contains(string(r.body), "odc_") {
			t.Fatalf("rotate revoked %v: %d %s", rid, r.status, r.body)
		}
	}
	if r := e.do("GET", "/api/v1/share/resources", ntoken, nil, nil); r.status != 401 {
		t.Fatalf("revoked token: %d", r.status)
	}
	var live int
	e.app.DB.QueryRow(ctx, "SELECT COUNT(*) FROM dept_credentials WHERE revoked_at IS NULL").Scan(&live)
	if live != 0 {
		t.Fatalf("%d working credentials after rotating revoked ones", live)
	}
	// Eight rotations of one live credential at once: one new credential.
	r = e.do("POST", "/api/v1/credentials", deptAdmin, map[string]string{"system_name": "客流分析系统"}, nil)
	cid := r.json(t)["id"].(float64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do("POST", fmt.Sprintf("/api/v1/credentials/%.0f/rotate", cid), deptAdmin, nil, nil)
			mu.Lock()
			codes[r.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	e.app.DB.QueryRow(ctx, "SELECT COUNT(*) FROM dept_credentials WHERE revoked_at IS NULL").Scan(&live)
	if codes[201] != 1 || codes[409] != 7 || live != 1 {
		t.Fatalf("concurrent rotations: %v, %d live", codes, live)
	}
}

// TestSignupNeutral: without SMTP, a sign-up for a registered address gets
// the very answer a new one gets (API and page), and nothing changes for
// the existing account; the policy applies to sign-ups, in words.
func TestSignupNeutral(t *testing.T) {
	e := sqliteEnv(t)
	admin := e.login("admin", "bureau-secret-1")
	signupDeveloper(t, e, admin, "taken@example.cn", "某研究所")
	taken := e.do("POST", "/api/v1/account/signup", "", map[string]string{"email": "taken@example.cn", "password": "other-pass-word", "display_name": "x"}, nil)
	fresh := e.do("POST", "/api/v1/account/signup", "", map[string]string{"email": "fresh@example.cn", "password": "other-pass-word", "display_name": "x"}, nil)
	if taken.status != 202 || string(taken.body) != string(fresh.body) || strings.Contains(string(taken.body), "exist") {
		t.Fatalf("taken %d %s / fresh %d %s", taken.status, taken.body, fresh.status, fresh.body)
	}
	e.login("taken@example.cn", "developer-pass-1") // the old password still works
	page := func(email string) resp {
		v := url.Values{"email": {email}, "password": {"other-pass-word"}, "display_name": {"x"}, "csrf_token": {"c1"}}
		return e.do("POST", "/signup", "", v.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": "opendata_csrf=c1"})
	}
	a, b := page("taken@example.cn"), page("fresh2@example.cn")
	strip := func(r resp) string { // the pages differ only in their CSRF tokens
		s := string(r.body)
		if i := strings.Index(s, "<main"); i >= 0 {
			s = s[i:]
		}
		return s
	}
	if a.status != 202 || strip(a) != strip(b) || strings.Contains(string(a.body), "‽") {
		t.Fatalf("sign-up pages differ: %d %s\n%d %s", a.status, a.body, b.status, b.body)
	}
	// Weak passwords are refused in the catalog's words.
	r := e.do("POST", "/api/v1/account/signup", "", map[string]string{"email": "weak@example.cn", "password": "aaaaaaaaaaaa", "display_name": "x"}, nil)
	if r.status != 400 || r.json(t)["error"].(map[string]any)["fields"].(map[string]any)["password"] != "密码至少要有 3 个不同的字符" {
		t.Fatalf("weak sign-up: %d %s", r.status, r.body)
	}
	v := url.Values{"email": {"weak@example.cn"}, "password": {"password123"}, "display_name": {"x"}, "csrf_token": {"c1"}}
	r = e.do("POST", "/signup?lang=en", "", v.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": "opendata_csrf=c1"})
	if r.status != 400 || !strings.Contains(string(r.body), "This is a common password") || strings.Contains(string(r.body), "auth.password") || strings.Contains(string(r.body), "‽") {
		t.Fatalf("weak sign-up page: %d %s", r.status, r.body)
	}
}

// TestOneLoginPage: staff and developers sign in on one 登录 page, with a
// username or an e-mail address; an account awaiting activation is told so.
func TestOneLoginPage(t *testing.T) {
	e := sqliteEnv(t)
	ctx := context.Background()
	if _, err := e.app.Users.CreateUser(ctx, auth.NewUser{Username: "jt_admin", Password: "transport-admin-1", Role: auth.RoleDeptAdmin, DepartmentID: e.bus, Email: "zhang@jtj.example.cn"}); err != nil {
		t.Fatal(err)
	}
	r := e.do("GET", "/login", "", nil, nil)
	body := string(r.body)
	if !strings.Contains(body, "<h1>登录</h1>") || !strings.Contains(body, "用户名或电子邮箱") || strings.Contains(body, "工作人员登录") || !strings.Contains(body, `href="/signup"`) {
		t.Fatalf("login page: %s", body)
	}
	if r := e.do("GET", "/login?lang=en", "", nil, nil); !strings.Contains(string(r.body), "Username or e-mail") {
		t.Fatalf("login page (en): %s", r.body)
	}
	form := func(user, pw string) resp {
		v := url.Values{"username": {user}, "password": {pw}, "csrf_token": {"c1"}}
		return e.do("POST", "/login", "", v.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": "opendata_csrf=c1"})
	}
	res := e.loginForm(url.Values{"username": {"Zhang@JTJ.example.cn"}, "password": {"transport-admin-1"}, "csrf_token": {"c1"}}, "c1")
	if res.StatusCode != 303 || res.Header.Get("Location") != "/console" || cookieOf(res.Header, "opendata_session") == nil {
		t.Fatalf("staff by e-mail: %d %v", res.StatusCode, res.Header)
	}
	e.do("POST", "/api/v1/account/signup", "", map[string]string{"email": "wait@example.cn", "password": "developer-pass-1", "display_name": "等"}, nil)
	r = form("wait@example.cn", "developer-pass-1")
	if r.status != 403 || !strings.Contains(string(r.body), "此账户尚未启用") || strings.Contains(string(r.body), "密码错误") {
		t.Fatalf("awaiting activation: %d %s", r.status, r.body)
	}
	r = form("wait@example.cn", "developer-pass-2")
	if r.status != 401 || !strings.Contains(string(r.body), "用户名（或电子邮箱）或密码错误") || strings.Contains(string(r.body), "尚未启用") {
		t.Fatalf("awaiting activation, wrong password: %d %s", r.status, r.body)
	}
}

// TestAPIDocsSplit: /docs/api shows the public routes first and the staff
// routes in their own part.
func TestAPIDocsSplit(t *testing.T) {
	e := sqliteEnv(t)
	body := string(e.do("GET", "/docs/api", "", nil, nil).body)
	pub, staff := strings.Index(body, `<h2 id="public">`), strings.Index(body, `<h2 id="staff">`)
	if pub < 0 || staff < pub {
		t.Fatalf("sections: %d %d", pub, staff)
	}
	for _, op := range []string{"GET /api/v1/resources/{id}/records", "POST /api/v1/keys", "GET /api/v1/usage", "POST /api/v1/account/signup", "GET /api/v1/catalog.csv"} {
		if i := strings.Index(body, "<code>"+op+"</code>"); i < pub || i > staff {
			t.Errorf("%s not in the public part", op)
		}
	}
	for _, op := range []string{"POST /api/v1/catalog/resources/{id}/uploads", "GET /api/v1/audit", "POST /api/v1/share/requests", "POST /api/v1/users"} {
		if i := strings.Index(body, "<code>"+op+"</code>"); i < staff {
			t.Errorf("%s not in the staff part", op)
		}
	}
}
