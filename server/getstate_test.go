package server_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"opendata/notify"
)

// dbState is every stored row but the view and call counters (statistics
// by design), as text: two equal states mean nothing changed.
func (e *env) dbState() string {
	e.t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, table := range []string{"departments", "users", "sessions", "resources", "resource_history", "versions", "jobs", "publication_events",
		"calendar_days", "calendar_years", "audit_events", "audit_head", "share_requests", "share_request_events", "share_grants", "dept_credentials",
		"notifications", "disputes", "share_stops", "email_tokens", "api_keys", "open_applications", "open_grants"} {
		rows, err := e.app.DB.Query(ctx, "SELECT * FROM "+table+" ORDER BY 1")
		if err != nil {
			e.t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			fmt.Fprintf(&b, "%s %v\n", table, vals)
		}
		rows.Close()
	}
	return b.String()
}

// TestGetChangesNothing walks every GET route as staff (by cookie, as a
// browser would follow a link from another site), as a developer and
// anonymously, with a purpose in the query: no route may change a stored
// row — no audited read, no notice marked read, nothing.
func TestGetChangesNothing(t *testing.T) {
	e := sqliteEnv(t)
	ctx := context.Background()
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	id := e.entryWithData(staff, admin, "GET-1", "unconditional", "unconditional")
	dev, _ := signupDeveloper(t, e, admin, "get@example.cn", "某研究所")
	e.app.Notify.Send(ctx, "share_stop", notify.Params("name", "x", "code", "y", "date", "z", "reason", "r"), "/console/share", notify.To{DepartmentID: e.bus})
	wj := e.login("wj_staff", "health-pass-123")
	fill := strings.NewReplacer(":id", fmt.Sprint(id), ":code", "JTJ", ":file", "open.csv", ":n", "1", ":job", "1", ":year", "2026", ":action", "approve", "*", "style.css")
	before := e.dbState()
	for _, who := range []string{staff, wj, admin, dev, ""} {
		for _, rt := range e.routes {
			if rt[0] != "GET" {
				continue
			}
			p := fill.Replace(rt[1]) + "?purpose=" + url.QueryEscape("跨站链接指定的用途") + "&token=x"
			hdr := map[string]string{}
			if who != "" {
				hdr["Cookie"] = "opendata_session=" + who
			}
			r := e.do("GET", p, "", nil, hdr)
			if r.status >= 500 {
				t.Errorf("GET %s: %d %s", rt[1], r.status, r.body)
			}
		}
	}
	if after := e.dbState(); after != before {
		t.Fatalf("GET requests changed stored state:\n%s", diffLines(before, after))
	}
	// The audited read by cookie is refused with the reason; by the console's
	// form (POST) it works and is audited.
	r := e.do("GET", fmt.Sprintf("/api/v1/share/resources/%d/data?purpose=%s", id, url.QueryEscape("核对站点")), "", nil, map[string]string{"Cookie": "opendata_session=" + wj})
	if r.status != 403 || !strings.Contains(string(r.body), "read_by_post") {
		t.Fatalf("audited read by a cookie GET: %d %s", r.status, r.body)
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/share/resources/%d/data?purpose=%s", id, url.QueryEscape("核对站点")), wj, nil, nil); r.status != 200 {
		t.Fatalf("audited read with a bearer token: %d %s", r.status, r.body)
	}
	// Notices are marked read by the button.
	u, _ := e.app.Users.GetUserByName(ctx, "jt_staff")
	ns, _ := e.app.Notify.Inbox(ctx, u.DepartmentID, "", "zh-CN")
	unread := 0
	for _, n := range ns {
		if !n.Read {
			unread++
		}
	}
	if unread == 0 {
		t.Fatal("no unread notices left to mark")
	}
	r = e.do("POST", "/console/notifications/read", "", "csrf_token=c1", map[string]string{"Content-Type": "application/x-www-form-urlencoded",
		"Cookie": "opendata_csrf=c1; opendata_session=" + staff})
	if r.status != 200 {
		t.Fatalf("mark read: %d", r.status)
	}
	ns, _ = e.app.Notify.Inbox(ctx, u.DepartmentID, "", "zh-CN")
	for _, n := range ns {
		if !n.Read {
			t.Fatalf("still unread after the button: %+v", n)
		}
	}
}

func diffLines(a, b string) string {
	in := map[string]bool{}
	for _, l := range strings.Split(a, "\n") {
		in[l] = true
	}
	var out []string
	for _, l := range strings.Split(b, "\n") {
		if !in[l] {
			out = append(out, "+ "+l)
		}
	}
	inB := map[string]bool{}
	for _, l := range strings.Split(b, "\n") {
		inB[l] = true
	}
	for _, l := range strings.Split(a, "\n") {
		if !inB[l] {
			out = append(out, "- "+l)
		}
	}
	return strings.Join(out, "\n")
}
