package server_test

import (
	"fmt"
	"strings"
	"testing"
)

// The dataset page's column table gives each column's empty cells and the
// null markers they were read from, for columns the public may see
// statistics of.
func TestDatasetPageNullMarkers(t *testing.T) {
	e := sqliteEnv(t)
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	csv := "站点编号,站点名称,日均客流,负责人身份证\r\n1,舞阳坝,无,11010519491231002X\r\n2,土桥坝,-,11010519491231002X\r\n3,人民广场,无,110105194912310021\r\n4,火车站,650,11010519491231002X\r\n"
	entry := busEntry(e.bus)
	entry["code"] = "NULL-1"
	r := e.do("POST", "/api/v1/catalog/resources", staff, entry, nil)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := int64(r.json(t)["id"].(float64))
	r = e.upload(staff, id, "stops.csv", []byte(csv))
	if j := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string)); j["status"] != "succeeded" {
		t.Fatalf("ingest: %v", j)
	}
	e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/submit", id), staff, nil, nil)
	if r := e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/approve", id), admin, nil, nil); r.status != 200 {
		t.Fatalf("publish: %s", r.body)
	}
	page := string(e.page("", fmt.Sprintf("/datasets/%d", id), "").body)
	items := page[strings.Index(page, "<th scope=\"col\">"+"名称"):]
	items = items[:strings.Index(items, "</table>")]
	if !strings.Contains(items, "<th scope=\"col\">空值</th>") {
		t.Fatalf("no empty-cells column: %s", items)
	}
	row := items[strings.Index(items, "<td>日均客流</td>"):]
	row = row[:strings.Index(row, "</tr>")]
	if !strings.Contains(row, "<td>3 <small") || !strings.Contains(row, "“无”</span> × 2") || !strings.Contains(row, "“-”</span> × 1") {
		t.Errorf("日均客流 row: %s", row)
	}
}
