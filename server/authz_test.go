package server_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"opendata/auth"
)

// TestAuthorizationMatrix checks design.md §5 cell by cell: who reads which
// variant of which share/open type through which route.
func TestAuthorizationMatrix(t *testing.T) {
	e := sqliteEnv(t)
	ctx := context.Background()
	for _, u := range []auth.NewUser{{Username: "office", Password: "supervise-pass-1", Role: auth.RoleOffice},
		{Username: "jt_admin", Password: "transport-admin-1", Role: auth.RoleDeptAdmin, DepartmentID: e.bus},
		{Username: "wj_admin", Password: "health-admin-123", Role: auth.RoleDeptAdmin, DepartmentID: e.hlth}} {
		if _, err := e.app.Users.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	staff := e.login("jt_staff", "transport-pass-1")
	admin := e.login("admin", "bureau-secret-1")
	mk := func(code, share, open string) int64 { return e.entryWithData(staff, admin, code, share, open) }
	ids := map[string]int64{"U": mk("M-U", "unconditional", "unconditional"), "C": mk("M-C", "conditional", "on_application"), "N": mk("M-N", "none", "none")}

	// A system credential of the other department.
	wjAdmin := e.login("wj_admin", "health-admin-123")
	r := e.do("POST", "/api/v1/credentials", wjAdmin, map[string]string{"system_name": "卫健数据交换"}, nil)
	sysToken := r.json(t)["token"].(string)

	principals := map[string]string{
		"public": "", "provider": staff, "other": e.login("wj_staff", "health-pass-123"), "bureau": admin,
		"office": e.login("office", "supervise-pass-1"), "system": sysToken,
	}
	// Secrets that must never appear in a refused answer.
	leaks := []string{"舞阳坝", "11010519491231002X", "110105********002X"}

	type cell struct {
		who, res, route string
		allow           bool
	}
	var cells []cell
	add := func(route, who string, allowed ...string) {
		for _, res := range []string{"U", "C", "N"} {
			ok := false
			for _, a := range allowed {
				ok = ok || a == res
			}
			cells = append(cells, cell{who, res, route, ok})
		}
	}
	// Full variant through the sharing API (purpose stated).
	add("share", "public")
	add("share", "provider", "U", "C", "N")
	add("share", "other", "U")
	add("share", "bureau")
	add("share", "office")
	add("share", "system", "U")
	// The same through the staff console (web).
	add("web", "public")
	add("web", "provider", "U", "C", "N")
	add("web", "other", "U")
	add("web", "bureau")
	add("web", "office")
	// Open variant download and the public page: open type decides; the
	// caller's role does not matter.
	for who := range principals {
		add("download", who, "U")
		add("page", who, "U", "C")
	}
	// The records API: departments read the full variant as sharing allows
	// (purpose stated); everyone else the open variant of U only (C needs
	// an approved application, tested in gateway_test.go).
	add("records", "public", "U")
	add("records", "provider", "U", "C", "N")
	add("records", "other", "U")
	add("records", "bureau", "U")
	add("records", "office", "U")
	add("records", "system", "U")
	check := func(c cell) {
		t.Helper()
		var path string
		switch c.route {
		case "share":
			path = fmt.Sprintf("/api/v1/share/resources/%d/data?purpose=%s", ids[c.res], url.QueryEscape("核对低保对象住址"))
		case "web":
			path = fmt.Sprintf("/console/share/%d/data", ids[c.res])
		case "download":
			path = fmt.Sprintf("/api/v1/resources/%d/download/open.csv", ids[c.res])
		case "page":
			path = fmt.Sprintf("/datasets/%d", ids[c.res])
		case "records":
			path = fmt.Sprintf("/api/v1/resources/%d/records?purpose=%s", ids[c.res], url.QueryEscape("核对低保对象住址"))
		}
		var r resp
		if c.route == "web" { // an audited read from the browser is a POST
			r = e.do("POST", path, principals[c.who], url.Values{"purpose": {"核对低保对象住址"}, "csrf_token": {"c1"}}.Encode(),
				map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": "opendata_csrf=c1"})
		} else {
			r = e.do("GET", path, principals[c.who], nil, nil)
		}
		body := string(r.body)
		if c.allow && c.route == "page" && c.res == "C" {
			// The page of on-application data is public; its data is not
			// (issue 10 item 4): only the provider, the bureau and the office
			// see the column statistics' values.
			sees := c.who == "provider" || c.who == "bureau" || c.who == "office"
			if r.status != 200 || strings.Contains(body, "舞阳坝") != sees {
				t.Errorf("%s page C: got %d, shows data %v, want %v", c.who, r.status, strings.Contains(body, "舞阳坝"), sees)
			}
			return
		}
		if c.allow {
			if r.status != 200 || !strings.Contains(body, "舞阳坝") {
				t.Errorf("%s %s %s: want allowed, got %d", c.who, c.route, c.res, r.status)
			}
			internal := c.who == "provider" || c.who == "other" || c.who == "system"
			if c.route != "share" && c.route != "web" && !(c.route == "records" && internal) && strings.Contains(body, "11010519491231002X") {
				t.Errorf("%s %s %s: open variant leaks an ID number", c.who, c.route, c.res)
			}
			return
		}
		loginPage := c.route == "web" && c.who == "public" && r.status == 200 && strings.Contains(body, `action="/login"`)
		if r.status != 401 && r.status != 403 && r.status != 404 && !loginPage {
			t.Errorf("%s %s %s: want denied, got %d", c.who, c.route, c.res, r.status)
		}
		for _, l := range leaks {
			if strings.Contains(body, l) {
				t.Errorf("%s %s %s: denial body contains data (%s)", c.who, c.route, c.res, l)
			}
		}
	}
	for _, c := range cells {
		check(c)
	}

	// The full variant keeps personal data for those entitled to it.
	r = e.do("GET", fmt.Sprintf("/api/v1/share/resources/%d/data?purpose=%s", ids["U"], url.QueryEscape("核对低保对象住址")), principals["other"], nil, nil)
	if !strings.Contains(string(r.body), "11010519491231002X") {
		t.Fatalf("full variant: %s", r.body)
	}
	// No purpose, no data.
	if r := e.do("GET", fmt.Sprintf("/api/v1/share/resources/%d/data", ids["U"]), principals["other"], nil, nil); r.status != 400 || !strings.Contains(string(r.body), "purpose") || strings.Contains(string(r.body), "舞阳坝") {
		t.Fatalf("no purpose: %d %s", r.status, r.body)
	}

	// After an approved request the other department reads C, within the
	// granted columns only.
	r = e.do("POST", "/api/v1/share/requests", principals["other"], map[string]any{"resource_id": ids["C"], "purpose": "核对低保对象住址",
		"legal_duty": "《社会救助暂行办法》第十一条", "columns": []string{"站点编号", "站点名称"}, "term_days": 30}, nil)
	if r.status != 201 {
		t.Fatalf("file: %d %s", r.status, r.body)
	}
	reqID := int64(r.json(t)["id"].(float64))
	if r := e.do("POST", fmt.Sprintf("/api/v1/share/requests/%d/approve", reqID), principals["other"], nil, nil); r.status != 403 {
		t.Fatalf("requester approved: %d", r.status)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/share/requests/%d/approve", reqID), staff, map[string]any{"columns": []string{"站点名称"}}, nil); r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	r = e.do("GET", fmt.Sprintf("/api/v1/share/resources/%d/data?purpose=%s", ids["C"], url.QueryEscape("核对低保对象住址")), principals["other"], nil, nil)
	if r.status != 200 || !strings.Contains(string(r.body), "\uFEFF站点名称\r\n舞阳坝") && !strings.Contains(string(r.body), "\uFEFF站点名称\n舞阳坝") {
		t.Fatalf("granted columns: %d %q", r.status, r.body)
	}
	if strings.Contains(string(r.body), "11010519491231002X") || strings.Contains(string(r.body), "1200.5") {
		t.Fatal("columns outside the grant were sent")
	}
	// The records API applies the same grant: the granted column only.
	r = e.do("GET", fmt.Sprintf("/api/v1/resources/%d/records?purpose=%s", ids["C"], url.QueryEscape("核对低保对象住址")), principals["other"], nil, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `{"站点名称":"舞阳坝"}`) || strings.Contains(string(r.body), "1101051949") || strings.Contains(string(r.body), "1200.5") {
		t.Fatalf("records within the grant: %d %s", r.status, r.body)
	}
	r = e.do("GET", fmt.Sprintf("/api/v1/resources/%d/records?purpose=%s&filter=%s", ids["C"], url.QueryEscape("核对低保对象住址"), url.QueryEscape("负责人身份证 prefix 110")), principals["other"], nil, nil)
	if r.status != 400 || !strings.Contains(string(r.body), `没有列“负责人身份证”`) || strings.Contains(string(r.body), "1101051949") {
		t.Fatalf("filter outside the grant: %d %s", r.status, r.body)
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/resources/%d/records", ids["U"]), principals["other"], nil, nil); r.status != 400 || !strings.Contains(string(r.body), "purpose") {
		t.Fatalf("records without purpose: %d %s", r.status, r.body)
	}
	// The system credential of that department has the grant too.
	if r := e.do("GET", fmt.Sprintf("/api/v1/share/resources/%d/data?purpose=%s", ids["C"], url.QueryEscape("系统自动核对")), sysToken, nil, nil); r.status != 200 {
		t.Fatalf("system with grant: %d", r.status)
	}

	// The provider sees who read its data, when and why.
	r = e.do("GET", fmt.Sprintf("/api/v1/audit?resource_id=%d&action=share.read", ids["C"]), staff, nil, nil)
	evs := r.json(t)["events"].([]any)
	if len(evs) != 6 || evs[1].(map[string]any)["purpose"] != "核对低保对象住址" || evs[0].(map[string]any)["actor"] != "system:卫健数据交换" {
		t.Fatalf("audit for provider: %s", r.body)
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/audit?resource_id=%d", ids["C"]), principals["other"], nil, nil); r.status != 404 {
		t.Fatalf("another department browses the provider's audit: %d", r.status)
	}
	if p, n, err := e.app.Audit.Verify(ctx); p != nil || err != nil || n == 0 {
		t.Fatalf("audit chain: %v %v", p, err)
	}
}
