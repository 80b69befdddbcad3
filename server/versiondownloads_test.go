package server_test

import (
	"fmt"
	"strings"
	"testing"
)

// Every published version can be downloaded from the dataset page, for
// open data only; each link serves that version.
func TestDatasetPageDownloadsEveryVersion(t *testing.T) {
	e := sqliteEnv(t)
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	id := e.entryWithData(staff, admin, "VER-1", "unconditional", "unconditional")
	r := e.upload(staff, id, "stops.csv", gbk(busStopsGBK))
	if j := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string)); j["status"] != "succeeded" {
		t.Fatalf("second ingest: %v", j)
	}
	e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/2/submit", id), staff, nil, nil)
	if r := e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/2/approve", id), admin, nil, nil); r.status != 200 {
		t.Fatalf("publish v2: %s", r.body)
	}
	page := string(e.page("", fmt.Sprintf("/datasets/%d", id), "").body)
	for n := 1; n <= 2; n++ {
		for _, f := range []string{"open.csv", "open.parquet"} {
			link := fmt.Sprintf(`href="/datasets/%d/download/%s?version=%d"`, id, f, n)
			if !strings.Contains(page, link) {
				t.Errorf("dataset page lacks %s", link)
			}
		}
	}
	res := e.do("GET", fmt.Sprintf("/datasets/%d/download/open.csv?version=1", id), "", nil, nil)
	if res.status != 200 || !strings.Contains(res.header.Get("Content-Disposition"), "VER-1-v1.csv") {
		t.Fatalf("v1 download: %d %v", res.status, res.header)
	}
	// Data open on application: no links, and the route refuses.
	app := e.entryWithData(staff, admin, "VER-2", "unconditional", "on_application")
	page = string(e.page("", fmt.Sprintf("/datasets/%d", app), "").body)
	if strings.Contains(page, "/download/open.csv?version=") {
		t.Error("on-application dataset offers version downloads")
	}
	if res := e.do("GET", fmt.Sprintf("/datasets/%d/download/open.csv?version=1", app), "", nil, nil); res.status != 403 {
		t.Errorf("on-application download: %d", res.status)
	}
}
