package server_test

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opendata/blob"
	"opendata/config"
	"opendata/db"
	"opendata/db/dbtest"
)

// Two instances on one database, each with its own embedded index: every
// publication, edit and withdrawal made on either is found (or no longer
// found) on the other within 2 s, through the search change log.
func TestSearchAcrossInstances(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		bs, err := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		noNotice := func(c *config.Config) { c.MinNoticeDays = 0 }
		one := start(t, d, bs, noNotice)
		two := startInstance(t, d, bs, noNotice)
		two.bus, two.hlth = one.bus, one.hlth
		titles := func(e *env, q string) string {
			r := e.do("GET", "/api/v1/resources?q="+url.QueryEscape(q), "", nil, nil)
			var out []string
			for _, h := range r.json(t)["hits"].([]any) {
				out = append(out, h.(map[string]any)["title"].(string))
			}
			return strings.Join(out, "|")
		}
		within := func(what string, ok func() bool) {
			t.Helper()
			deadline := time.Now().Add(2 * time.Second)
			for !ok() {
				if time.Now().After(deadline) {
					t.Fatalf("%s: not within 2 s", what)
				}
				time.Sleep(25 * time.Millisecond)
			}
		}

		id := publishBusStops(t, one) // published on the first
		within("publication seen by the second instance", func() bool { return titles(two, "公交站点") == "公交站点信息" })

		staff := two.login("jt_staff", "transport-pass-1")
		entry := busEntry(one.bus)
		entry["name"] = "公交站点与候车亭信息"
		if r := two.do("PUT", fmt.Sprintf("/api/v1/catalog/resources/%d", id), staff, entry, nil); r.status != 200 {
			t.Fatalf("edit: %d %s", r.status, r.body)
		}
		if got := titles(two, "候车亭"); got != "公交站点与候车亭信息" { // the editor's own instance: at once
			t.Fatalf("edit on its own instance: %q", got)
		}
		within("edit seen by the first instance", func() bool { return titles(one, "候车亭") == "公交站点与候车亭信息" })

		admin := one.login("admin", "bureau-secret-1")
		if r := one.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/withdrawal", id), admin,
			map[string]any{"reason": "数据已由新系统替代", "notice_days": 0}, nil); r.status != 200 {
			t.Fatalf("withdraw: %d %s", r.status, r.body)
		}
		within("withdrawal seen by the second instance", func() bool { return titles(two, "候车亭") == "" && titles(one, "候车亭") == "" })

		// Both instances followed the same log to the same place.
		l1, _ := one.app.Follower.Positions()
		within("both at the end of the log", func() bool {
			l2, _ := two.app.Follower.Positions()
			l1, _ = one.app.Follower.Positions()
			return l1 == l2 && l1 > 0
		})
	})
}
