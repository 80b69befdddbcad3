package server_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"opendata/blob"
	"opendata/db"
	"opendata/db/dbtest"
)

// Many clicks on "approve" for one share request, at once, over HTTP: one
// answers 200, the others 409 in words; one grant exists.
func TestConcurrentApproveOverHTTP(t *testing.T) {
	for _, engine := range []struct {
		name string
		open func(testing.TB) *db.DB
	}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}} {
		t.Run(engine.name, func(t *testing.T) {
			bs, _ := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
			e := start(t, engine.open(t), bs, nil)
			staff := e.login("jt_staff", "transport-pass-1")
			other := e.login("wj_staff", "health-pass-123")
			entry := busEntry(e.bus)
			entry["share_type"], entry["share_condition"] = "conditional", "仅限履职需要"
			r := e.do("POST", "/api/v1/catalog/resources", staff, entry, nil)
			id := int64(r.json(t)["id"].(float64))
			r = e.do("POST", "/api/v1/share/requests", other, map[string]any{"resource_id": id, "purpose": "核对就医站点", "legal_duty": "《突发公共卫生事件应急条例》", "term_days": 10}, nil)
			if r.status != 201 {
				t.Fatalf("file: %d %s", r.status, r.body)
			}
			path := fmt.Sprintf("/api/v1/share/requests/%.0f/approve", r.json(t)["id"])
			const n = 8
			var wg sync.WaitGroup
			answers := make([]resp, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					answers[i] = e.do("POST", path, staff, nil, map[string]string{"Accept-Language": "en"})
				}(i)
			}
			wg.Wait()
			ok, conflict := 0, 0
			for _, a := range answers {
				switch a.status {
				case 200:
					ok++
				case 409:
					conflict++
					if !strings.Contains(string(a.body), "decided by someone else first") || strings.Contains(string(a.body), "UPDATE") {
						t.Fatalf("409 body: %s", a.body)
					}
				default:
					t.Fatalf("answer %d: %s", a.status, a.body)
				}
			}
			if ok != 1 || conflict != n-1 {
				t.Fatalf("%d × 200, %d × 409", ok, conflict)
			}
			var grants int
			e.app.DB.QueryRow(context.Background(), "SELECT COUNT(*) FROM share_grants WHERE resource_id = ?", id).Scan(&grants)
			if grants != 1 {
				t.Fatalf("%d grants", grants)
			}
		})
	}
}
