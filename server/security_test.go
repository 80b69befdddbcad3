package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"opendata/access"
	"opendata/auth"
	"opendata/config"
	"opendata/notify/notifytest"
	"opendata/ratelimit"
)

// zeros is an endless body of a byte; it streams, so nothing is buffered here.
type endless struct{ b byte }

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.b
	}
	return len(p), nil
}

// postStream sends a body of n bytes (n < 0: chunked, without a length)
// that starts with prefix and goes on with filler.
func (e *env) postStream(path, contentType, prefix string, n int64) (int, string) {
	e.t.Helper()
	body := io.MultiReader(strings.NewReader(prefix), endless{'a'})
	var rd io.Reader = body
	if n >= 0 {
		rd = io.LimitReader(body, n)
	}
	req, _ := http.NewRequest("POST", e.url+path, rd)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Cookie", "opendata_csrf=c1")
	req.Header.Set("X-CSRF-Token", "c1")
	if n >= 0 {
		req.ContentLength = n
	} else {
		req.ContentLength = -1
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		// The server may close the connection once it has refused the body.
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	return res.StatusCode, string(b)
}

// TestBodyLimits: a 200 MB password is refused before it is read (or cut
// at the limit when sent without a length), on the JSON login, the login
// form and every other JSON route.
func TestBodyLimits(t *testing.T) {
	e := sqliteEnv(t)
	admin := e.login("admin", "bureau-secret-1")
	cases := []struct {
		name, path, ct, prefix string
		n                      int64
	}{
		{"login json, 200 MB announced", "/api/v1/auth/login", "application/json", `{"username":"admin","password":"`, 200 << 20},
		{"login json, chunked", "/api/v1/auth/login", "application/json", `{"username":"admin","password":"`, -1},
		{"login form, 200 MB announced", "/login", "application/x-www-form-urlencoded", "csrf_token=c1&username=admin&password=", 200 << 20},
		{"login form, chunked", "/login", "application/x-www-form-urlencoded", "csrf_token=c1&username=admin&password=", -1},
		{"sign-up, chunked", "/api/v1/account/signup", "application/json", `{"email":"a@example.cn","password":"`, -1},
		{"sign-up form", "/signup", "application/x-www-form-urlencoded", "csrf_token=c1&email=a%40example.cn&password=", 64 << 10},
		{"auth body over 16 KiB", "/api/v1/auth/login", "application/json", `{"username":"admin","password":"`, 17 << 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			status, body := e.postStream(c.path, c.ct, c.prefix, c.n)
			if status != 413 && status != 0 {
				t.Fatalf("%d %.300s", status, body)
			}
			if status == 413 && !strings.Contains(body, "16 KiB") {
				t.Errorf("body does not name the limit: %.300s", body)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v: the body was read", d)
			}
		})
	}
	// Other JSON routes: max_body_kb (1 MiB by default).
	big := `{"code":"X","name":"` + strings.Repeat("长", 400_000) + `"}`
	if r := e.do("POST", "/api/v1/departments", admin, []byte(big), map[string]string{"Content-Type": "application/json"}); r.status != 413 || !strings.Contains(string(r.body), "1024 KiB") {
		t.Fatalf("large JSON: %d %.300s", r.status, r.body)
	}
	// Under the limits all is as before.
	if r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": "bureau-secret-1"}, nil); r.status != 200 {
		t.Fatalf("normal login: %d %s", r.status, r.body)
	}
}

// TestPasswordCapBeforeHashing: with every hashing slot taken, a normal
// password waits and is told the server is busy, but an over-long one is
// refused at once: it never reaches the hash.
func TestPasswordCapBeforeHashing(t *testing.T) {
	e := sqliteEnv(t)
	e.app.Users.Hasher = auth.NewHasher(1, 0, 0)
	hold := make(chan struct{})
	held := make(chan struct{})
	go e.app.Users.Hasher.Do(context.Background(), func() { close(held); <-hold })
	<-held
	defer close(hold)
	r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": strings.Repeat("x7", 300)}, nil)
	if r.status != 401 {
		t.Fatalf("over-long password: %d %s", r.status, r.body)
	}
	r = e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": "bureau-secret-1"}, nil)
	if r.status != 503 || r.header.Get("Retry-After") == "" || r.json(t)["error"].(map[string]any)["code"] != "busy" {
		t.Fatalf("busy: %d %v %s", r.status, r.header, r.body)
	}
}

// TestLoginFlood: 120 concurrent logins with two hashing slots: the server
// answers every one (200, 401, 429 or 503 with Retry-After, never a 5xx
// other than 503 busy), and stays responsive for other requests.
func TestLoginFlood(t *testing.T) {
	e := gatewayEnv(t, func(c *config.Config) {
		c.HashConcurrency, c.HashWait, c.LoginIPRate, c.AnonRate = 2, 300*time.Millisecond, "10000-M", "10000-M"
	})
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 200, MaxIdleConnsPerHost: 200}}
	for i := 0; i < 120; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := fmt.Sprintf(`{"username":"user%d","password":"guess-pass-%d"}`, i, i)
			res, err := client.Post(e.url+"/api/v1/auth/login", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == 503 && res.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			mu.Lock()
			counts[res.StatusCode]++
			mu.Unlock()
		}(i)
	}
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	res, err := client.Get(e.url + "/api/v1/resources")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("other request during the flood: %v %v", err, res)
	}
	res.Body.Close()
	other := time.Since(start)
	wg.Wait()
	if counts[503] == 0 || counts[401]+counts[503] != 120 {
		t.Fatalf("answers %v: want only 401 and 503 (busy)", counts)
	}
	t.Logf("answers %v; another request during the flood took %v", counts, other)
}

// loginForm posts the portal's login form without following the redirect.
func (e *env) loginForm(form url.Values, csrfCookie string) *http.Response {
	e.t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("POST", e.url+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", "opendata_csrf="+csrfCookie)
	res, err := noFollow.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func cookieOf(h http.Header, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestLockoutEndToEnd: five wrong passwords lock the account; the right
// one is then refused with the catalog's words in the user's language and
// a Retry-After; the user finds a notice in their inbox and an e-mail.
func TestLockoutEndToEnd(t *testing.T) {
	addr, mail := notifytest.FakeSMTP(t)
	e := gatewayEnv(t, func(c *config.Config) { c.SMTPAddr = addr })
	ctx := context.Background()
	u, err := e.app.Users.CreateUser(ctx, auth.NewUser{Username: "jt_admin", Password: "transport-admin-1", Role: auth.RoleDeptAdmin, DepartmentID: e.bus, Email: "jt.admin@example.cn"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "jt_admin", "password": fmt.Sprintf("guess-pass-%d", i)}, nil); r.status != 401 {
			t.Fatalf("failure %d: %d %s", i, r.status, r.body)
		}
	}
	r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "jt_admin", "password": "guess-pass-5"}, nil)
	if r.status != 429 || r.json(t)["error"].(map[string]any)["code"] != "account_locked" || r.header.Get("Retry-After") == "" {
		t.Fatalf("fifth failure: %d %v %s", r.status, r.header, r.body)
	}
	r = e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "jt_admin", "password": "transport-admin-1"}, map[string]string{"Accept-Language": "en"})
	if r.status != 429 || !strings.Contains(string(r.body), "locked for now; please try again in 15 minutes") {
		t.Fatalf("right password while locked: %d %s", r.status, r.body)
	}
	// The e-mail address is the same account: no second allowance.
	if r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "JT.Admin@example.cn", "password": "transport-admin-1"}, nil); r.status != 429 {
		t.Fatalf("by e-mail while locked: %d %s", r.status, r.body)
	}
	// The login form says it on the page, in Chinese.
	form := url.Values{"username": {"jt_admin"}, "password": {"transport-admin-1"}, "csrf_token": {"c1"}}
	r = e.do("POST", "/login", "", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": "opendata_csrf=c1"})
	if r.status != 429 || !strings.Contains(string(r.body), "此账户已被临时锁定，请在 15 分钟后再试") || cookieOf(r.header, "opendata_session") != nil {
		t.Fatalf("login form while locked: %d %s", r.status, r.body)
	}
	select {
	case m := <-mail:
		if !strings.Contains(m, "To: jt.admin@example.cn") {
			t.Fatalf("lock mail: %s", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no lockout e-mail")
	}
	// The in-app notice, in the user's own inbox, on the console.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ns, _ := e.app.Notify.UserInbox(ctx, u.ID, "zh-CN")
		if len(ns) == 1 && ns[0].Kind == "account_locked" && strings.Contains(ns[0].Text, "连续 5 次密码错误") && strings.Contains(ns[0].Text, "127.0.0.1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notice: %+v", ns)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// After the lockout (shortened here) the account works again and the
	// console shows the notice.
	e.app.Users.Throttle.Limits = ratelimit.NewMemory("fresh:")
	tok := e.login("jt_admin", "transport-admin-1")
	if r := e.do("GET", "/console/notifications", tok, nil, nil); !strings.Contains(string(r.body), "被临时锁定") {
		t.Fatalf("console inbox lacks the lockout notice: %s", r.body)
	}
}

// TestLoginThrottledPerAddress: the address's sign-in attempts are limited
// whatever names they try (the limit is login_ip_rate).
func TestLoginThrottledPerAddress(t *testing.T) {
	e := gatewayEnv(t, func(c *config.Config) { c.LoginIPRate = "3-M" })
	for i := 0; i < 4; i++ {
		r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": fmt.Sprintf("name%d", i), "password": "some-password-1"}, nil)
		if (i < 3 && r.status != 401) || (i == 3 && (r.status != 429 || r.json(t)["error"].(map[string]any)["code"] != "login_throttled" || r.header.Get("Retry-After") == "")) {
			t.Fatalf("attempt %d: %d %s", i, r.status, r.body)
		}
	}
}

// TestLoginRedirect: after login only a same-origin path is followed.
func TestLoginRedirect(t *testing.T) {
	e := sqliteEnv(t)
	for next, want := range map[string]string{
		"/%09/evil.example/x":  "/console",
		"/\t/evil.example/x":   "/console",
		"//evil.example/x":     "/console",
		"/\\evil.example":      "/console",
		"https://evil.example": "/console",
		"/%2F/evil.example":    "/console",
		" /evil":               "/console",
		"/console/share?x=1":   "/console/share?x=1",
		"/console/audit":       "/console/audit",
	} {
		res := e.loginForm(url.Values{"username": {"admin"}, "password": {"bureau-secret-1"}, "csrf_token": {"c1"}, "next": {next}}, "c1")
		if res.StatusCode != 303 || res.Header.Get("Location") != want {
			t.Errorf("next=%q: %d Location %q, want %q", next, res.StatusCode, res.Header.Get("Location"), want)
		}
		// The login page carries the same cleaned value in its form.
		r := e.do("GET", "/login?next="+url.QueryEscape(next), "", nil, nil)
		if !strings.Contains(string(r.body), `name="next" value="`+strings.ReplaceAll(want, "&", "&amp;")+`"`) {
			t.Errorf("login page form for next=%q: %s", next, r.body)
		}
	}
}

// TestCookiesAndHSTS: behind the documented HTTPS proxy (base_url https,
// or trust_proxy with X-Forwarded-Proto) cookies are Secure and HSTS is
// sent; over plain HTTP neither. A login issues a new CSRF token.
func TestCookiesAndHSTS(t *testing.T) {
	login := func(e *env, hdr map[string]string) resp {
		if hdr == nil {
			hdr = map[string]string{}
		}
		hdr["Cookie"] = "opendata_csrf=planted-by-attacker"
		return e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": "bureau-secret-1"}, hdr)
	}
	check := func(name string, r resp, secure bool) {
		t.Helper()
		s, c := cookieOf(r.header, "opendata_session"), cookieOf(r.header, "opendata_csrf")
		if r.status != 200 || s == nil || c == nil {
			t.Fatalf("%s: %d %v", name, r.status, r.header)
		}
		if s.Secure != secure || c.Secure != secure || (r.header.Get("Strict-Transport-Security") != "") != secure {
			t.Errorf("%s: session Secure %v, csrf Secure %v, HSTS %q; want secure=%v", name, s.Secure, c.Secure, r.header.Get("Strict-Transport-Security"), secure)
		}
		if !s.HttpOnly || s.SameSite != http.SameSiteLaxMode {
			t.Errorf("%s: session cookie %+v", name, s)
		}
		if c.Value == "planted-by-attacker" || c.Value == "" || c.Value != r.json(t)["csrf_token"] {
			t.Errorf("%s: the CSRF token was not rotated at login: %q", name, c.Value)
		}
	}
	plain := sqliteEnv(t)
	check("plain http", login(plain, nil), false)
	check("plain http, forged forwarded proto", login(plain, map[string]string{"X-Forwarded-Proto": "https"}), false)

	https := gatewayEnv(t, func(c *config.Config) { c.BaseURL = "https://data.example.gov.cn" })
	check("base_url https", login(https, nil), true)
	if r := https.do("GET", "/", "", nil, nil); r.header.Get("Strict-Transport-Security") == "" || !cookieOf(r.header, "opendata_csrf").Secure {
		t.Errorf("portal page over https: %v", r.header)
	}

	proxied := gatewayEnv(t, func(c *config.Config) { c.TrustProxy = true })
	check("trust_proxy, X-Forwarded-Proto https", login(proxied, map[string]string{"X-Forwarded-Proto": "https"}), true)
	check("trust_proxy, plain", login(proxied, nil), false)

	// The portal form login rotates the token too, and logout clears the session.
	res := https.loginForm(url.Values{"username": {"admin"}, "password": {"bureau-secret-1"}, "csrf_token": {"planted"}}, "planted")
	if c := cookieOf(res.Header, "opendata_csrf"); res.StatusCode != 303 || c == nil || c.Value == "planted" || !c.Secure || !cookieOf(res.Header, "opendata_session").Secure {
		t.Fatalf("form login: %d %v", res.StatusCode, res.Header)
	}
}

// TestEveryPublicPathLimited: every route an anonymous visitor reaches
// spends their allowance (RateLimit headers), search, dataset pages,
// department pages, disputes and login included, and is refused past it.
func TestEveryPublicPathLimited(t *testing.T) {
	e := sqliteEnv(t)
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	id := e.entryWithData(staff, admin, "LIM-1", "unconditional", "unconditional")
	fill := strings.NewReplacer(":id", fmt.Sprint(id), ":code", "JTJ", ":file", "open.csv", ":n", "1", ":job", "x", ":year", "2026", ":action", "approve", "*", "style.css")
	for _, rt := range e.routes {
		method, path := rt[0], rt[1]
		if method != "GET" && method != "POST" {
			continue
		}
		p := fill.Replace(path)
		var r resp
		if method == "POST" {
			r = e.do("POST", p, "", url.Values{"csrf_token": {"c1"}}.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": "opendata_csrf=c1"})
		} else {
			r = e.do("GET", p, "", nil, nil)
		}
		exempt := strings.HasPrefix(p, "/static/") || p == "/healthz" || p == "/readyz" || p == "/metrics"
		if limited := r.header.Get("RateLimit-Limit") != ""; limited == exempt {
			t.Errorf("%s %s (%d): limited=%v", method, path, r.status, limited)
		}
	}
	// Past the allowance each of these is refused.
	e.app.AnonTier, _ = ratelimit.ParseTier("2-M", 0)
	e.app.Limits = ratelimit.NewMemory("fresh:")
	for _, p := range []string{"/search?q=公交", fmt.Sprintf("/datasets/%d", id), "/departments/JTJ", fmt.Sprintf("/api/v1/resources/%d/disputes", id), "/login"} {
		e.app.Limits = ratelimit.NewMemory("fresh:" + p)
		var r resp
		for i := 0; i < 3; i++ {
			r = e.do("GET", p, "", nil, nil)
		}
		if r.status != 429 || r.header.Get("Retry-After") == "" {
			t.Errorf("%s: third call %d", p, r.status)
		}
	}
	e.app.Limits = ratelimit.NewMemory("fresh:login-post")
	var r resp
	for i := 0; i < 3; i++ {
		r = e.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": "bureau-secret-1"}, nil)
	}
	if r.status != 429 {
		t.Errorf("login API: third call %d", r.status)
	}
}

// TestBadKeysSpendTheAddress: unknown API keys, credentials and session
// tokens count against the caller's address, so guessing keys is throttled.
func TestBadKeysSpendTheAddress(t *testing.T) {
	e := sqliteEnv(t)
	e.app.AnonTier, _ = ratelimit.ParseTier("3-M", 0)
	for i, h := range []map[string]string{
		{"X-API-Key": "oda_guess1"}, {"Authorization": "Bearer oda_guess2"}, {"Authorization": "Bearer odc_guess3"}, {"X-API-Key": "oda_guess4"},
	} {
		r := e.do("GET", "/api/v1/resources", "", nil, h)
		if want := map[bool]int{true: 429, false: 401}[i == 3]; r.status != want {
			t.Fatalf("guess %d: %d %s", i, r.status, r.body)
		}
	}
	if r := e.do("GET", "/api/v1/catalog/resources", "ods_forged", nil, nil); r.status != 429 {
		t.Fatalf("forged session after the allowance: %d", r.status)
	}
}

// TestQuotaPerAccount: every key of an account shares one daily quota and
// rate: revoke-and-create gives no fresh quota, 20 keys no more calls.
func TestQuotaPerAccount(t *testing.T) {
	eachGatewayEnv(t, func(c *config.Config) { c.RegisteredRate, c.RegisteredDaily = "1000-M", 5 }, quotaPerAccount)
}

func quotaPerAccount(t *testing.T, e *env) {
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	id := e.entryWithData(staff, admin, "Q-1", "unconditional", "unconditional")
	dev, _ := signupDeveloper(t, e, admin, "quota@example.cn", "某研究所")
	newKey := func(name string) (string, float64) {
		r := e.do("POST", "/api/v1/keys", dev, map[string]any{"name": name}, nil)
		if r.status != 201 {
			t.Fatalf("key: %d %s", r.status, r.body)
		}
		return r.json(t)["token"].(string), r.json(t)["key"].(map[string]any)["id"].(float64)
	}
	path := fmt.Sprintf("/api/v1/resources/%d/records?limit=1", id)
	call := func(key string) int { return e.do("GET", path, "", nil, map[string]string{"X-API-Key": key}).status }
	k1, id1 := newKey("first")
	for i := 0; i < 3; i++ {
		if s := call(k1); s != 200 {
			t.Fatalf("call %d: %d", i, s)
		}
	}
	// Revoke and create: the account has 2 calls left, not 5.
	e.do("POST", fmt.Sprintf("/api/v1/keys/%.0f/revoke", id1), dev, nil, nil)
	k2, _ := newKey("second")
	if s := call(k2); s != 200 {
		t.Fatalf("new key, 4th call of the day: %d", s)
	}
	var keys []string
	for i := 0; i < access.MaxKeys-1; i++ {
		k, _ := newKey(fmt.Sprintf("k%d", i))
		keys = append(keys, k)
	}
	ok := 0
	for _, k := range keys {
		if call(k) == 200 {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d keys made %d more calls; the account had 1 left", len(keys), ok)
	}
	r := e.do("GET", path, "", nil, map[string]string{"X-API-Key": k2, "Accept-Language": "en"})
	if r.status != 429 || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "daily quota") {
		t.Fatalf("past the quota: %d %s", r.status, r.body)
	}
	// Another account is not affected.
	other, _ := signupDeveloper(t, e, admin, "other@example.cn", "另一研究所")
	r = e.do("POST", "/api/v1/keys", other, map[string]any{"name": "x"}, nil)
	if s := call(r.json(t)["token"].(string)); s != 200 {
		t.Fatalf("another account: %d", s)
	}
}
