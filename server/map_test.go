package server_test

import (
	"fmt"
	"strings"
	"testing"
)

// A dataset with longitude and latitude columns shows its preview's
// points on a map, when anyone may read its records; on-application data
// and data without coordinates show none.
func TestDatasetMap(t *testing.T) {
	e := sqliteEnv(t)
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	csv := "站点编号,站点名称,经度,纬度\r\n1,舞阳坝,109.4812,30.2741\r\n2,土桥坝,109.4951,30.2903\r\n3,人民广场,,30.28\r\n4,火车站,109.4633,30.3012\r\n"
	mk := func(code, open string) int64 {
		entry := busEntry(e.bus)
		entry["code"], entry["open_type"] = code, open
		entry["items"] = []map[string]any{{"name": "站点编号", "type": "int", "required": true}, {"name": "站点名称", "type": "string"},
			{"name": "经度", "type": "decimal"}, {"name": "纬度", "type": "decimal"}}
		if open == "on_application" {
			entry["open_condition"] = "科研机构说明用途后申请"
		}
		r := e.do("POST", "/api/v1/catalog/resources", staff, entry, nil)
		if r.status != 201 {
			t.Fatalf("create %s: %d %s", code, r.status, r.body)
		}
		id := int64(r.json(t)["id"].(float64))
		r = e.upload(staff, id, "stops.csv", []byte(csv))
		if j := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string)); j["status"] != "succeeded" {
			t.Fatalf("ingest %s: %v", code, j)
		}
		e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/submit", id), staff, nil, nil)
		if r := e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/approve", id), admin, nil, nil); r.status != 200 {
			t.Fatalf("publish %s: %s", code, r.body)
		}
		return id
	}
	open, onApp := mk("MAP-1", "unconditional"), mk("MAP-2", "on_application")
	noCoords := e.entryWithData(staff, admin, "MAP-3", "unconditional", "unconditional")

	page := string(e.page("", fmt.Sprintf("/datasets/%d", open), "").body)
	if !strings.Contains(page, `<section id="map">`) || !strings.Contains(page, `class="chart map"`) {
		t.Fatal("no map on the open dataset's page")
	}
	m := page[strings.Index(page, `<section id="map">`):]
	m = m[:strings.Index(m, "</section>")]
	if n := strings.Count(m, "<circle"); n != 3 {
		t.Errorf("%d points drawn, want 3 (one row has no longitude)", n)
	}
	for _, want := range []string{"109.4812", "°E", "°N", "预览前 4 行中的 3 个位置"} {
		if !strings.Contains(m, want) {
			t.Errorf("map lacks %q", want)
		}
	}
	if en := string(e.page("", fmt.Sprintf("/datasets/%d", open), "en").body); !strings.Contains(en, "3 places from the first 4 rows") {
		t.Error("English map note missing")
	}
	page = string(e.page("", fmt.Sprintf("/datasets/%d", onApp), "").body)
	if strings.Contains(page, `id="map"`) || strings.Contains(page, "109.4812") {
		t.Error("on-application dataset shows a map or coordinates")
	}
	if page := string(e.page("", fmt.Sprintf("/datasets/%d", noCoords), "").body); strings.Contains(page, `id="map"`) {
		t.Error("a map without coordinate columns")
	}
}
