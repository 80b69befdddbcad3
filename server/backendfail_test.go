package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"opendata/catalog"
)

// errorPage fails unless the answer is the error page: a failure status,
// the page's title in the reader's language, a request id, and none of the
// cause's text.
func errorPage(t *testing.T, what string, r resp, lang string) {
	t.Helper()
	title, rid := "出错了", "请求编号"
	if lang == "en" {
		title, rid = "Something went wrong", "Request id"
	}
	body := string(r.body)
	if r.status < 500 || !strings.Contains(body, title) || !strings.Contains(body, rid) {
		t.Fatalf("%s with a failing backend: %d, want the error page (%q, %q):\n%.600s", what, r.status, title, rid, body)
	}
	noRawText(t, what, r.body)
	for _, raw := range []string{"no such table", "database is closed", "SQL logic error"} {
		if strings.Contains(body, raw) {
			t.Fatalf("%s shows the cause %q", what, raw)
		}
	}
}

// TestPagesWithFailingBackends renders the portal's and the console's pages
// while the metadata database fails, in part (one table gone: the
// department names) or whole (closed), and wants the error page — never a
// half page that leaves out what it could not read (issue 12 item 3).
func TestPagesWithFailingBackends(t *testing.T) {
	e := sqliteEnv(t)
	admin, staff := e.login("admin", "bureau-secret-1"), e.login("jt_staff", "transport-pass-1")
	id := e.entryWithData(staff, admin, "BUS-FAIL", "unconditional", "unconditional")

	// The object store lost a version's preview source and quality report:
	// the page serves what it has and says what it cannot show.
	id2 := e.entryWithData(staff, admin, "BUS-FAIL2", "unconditional", "unconditional")
	ctx := context.Background()
	for _, name := range []string{"open.csv", "quality.json"} {
		if err := e.app.Blobs.Delete(ctx, catalog.VersionPrefix(id2, 1)+name); err != nil {
			t.Fatal(err)
		}
	}
	for _, lang := range []string{"", "en"} {
		r := e.page("", fmt.Sprintf("/datasets/%d", id2), lang)
		want := []string{"数据预览暂时无法显示", "质量报告暂时无法显示", "请求编号"}
		if lang == "en" {
			want = []string{"The preview cannot be shown just now", "The quality report cannot be shown just now", "Request id"}
		}
		for _, w := range want {
			if r.status != 200 || !strings.Contains(string(r.body), w) {
				t.Fatalf("objects gone, dataset page (%s): %d, want %q", lang, r.status, w)
			}
		}
		noRawText(t, "objects gone", r.body)
	}

	// The department names fail; the search index still answers. Every page
	// that labels a department must say it cannot, not show an empty label
	// (the facet bug of the issue).
	if _, err := e.app.DB.Exec(ctx, "ALTER TABLE departments RENAME TO departments_away"); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"", "en"} {
		for _, p := range []string{"/", "/search", "/search?q=公交", "/departments", "/departments/JTJ", fmt.Sprintf("/datasets/%d", id)} {
			errorPage(t, "departments gone: "+p+" "+lang, e.page("", p, lang), lang)
		}
	}
	if _, err := e.app.DB.Exec(ctx, "ALTER TABLE departments_away RENAME TO departments"); err != nil {
		t.Fatal(err)
	}
	// The usage counts fail: the dataset page (and its API) do not show
	// zero views and downloads as if they were true.
	if _, err := e.app.DB.Exec(ctx, "ALTER TABLE resource_stats RENAME TO resource_stats_away"); err != nil {
		t.Fatal(err)
	}
	errorPage(t, "usage gone: dataset page", e.page("", fmt.Sprintf("/datasets/%d", id), ""), "")
	if r := e.do("GET", fmt.Sprintf("/api/v1/resources/%d", id), "", nil, nil); r.status < 500 || strings.Contains(string(r.body), "resource_stats") {
		t.Fatalf("usage gone: dataset API %d %s", r.status, r.body)
	}
	if _, err := e.app.DB.Exec(ctx, "ALTER TABLE resource_stats_away RENAME TO resource_stats"); err != nil {
		t.Fatal(err)
	}
	if r := e.page("", "/", ""); r.status != 200 || !strings.Contains(string(r.body), "市交通运输局") {
		t.Fatalf("home after the table is back: %d", r.status)
	}

	// The whole database gone: portal and console pages alike.
	pages := []struct{ who, path string }{
		{"", "/"}, {"", "/search?q=公交"}, {"", "/departments"}, {"", "/departments/JTJ"},
		{"", fmt.Sprintf("/datasets/%d", id)},
		{staff, "/console"}, {staff, fmt.Sprintf("/console/resources/%d", id)}, {staff, fmt.Sprintf("/console/resources/%d/versions/1", id)},
		{staff, "/console/share"}, {staff, "/console/share/requests"}, {staff, "/console/notifications"}, {admin, "/console/audit"},
		{admin, "/console/applications"}, {admin, "/console/usage"}, {admin, "/console/calendar"},
	}
	if err := e.app.DB.Close(); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"", "en"} {
		for _, p := range pages {
			errorPage(t, "database closed: "+p.path+" "+lang, e.page(p.who, p.path, lang), lang)
		}
	}
}
