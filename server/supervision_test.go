package server_test

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opendata/auth"
	"opendata/blob"
	"opendata/config"
	"opendata/db/dbtest"
)

func TestSharingSupervision(t *testing.T) {
	bs, _ := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
	e := start(t, dbtest.SQLite(t), bs, func(c *config.Config) { c.MinNoticeDays = 0 })
	ctx := context.Background()
	e.app.Users.CreateUser(ctx, auth.NewUser{Username: "jt_admin", Password: "transport-admin-1", Role: auth.RoleDeptAdmin, DepartmentID: e.bus})
	staff := e.login("jt_staff", "transport-pass-1")
	other := e.login("wj_staff", "health-pass-123")
	admin := e.login("admin", "bureau-secret-1")
	entry := busEntry(e.bus)
	entry["share_type"], entry["share_condition"] = "conditional", "仅限履职需要"
	r := e.do("POST", "/api/v1/catalog/resources", staff, entry, nil)
	id := int64(r.json(t)["id"].(float64))
	r = e.upload(staff, id, "stops.csv", gbk(busStopsGBK))
	e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string))

	// A request lands in the provider's inbox with its deadline.
	r = e.do("POST", "/api/v1/share/requests", other, map[string]any{"resource_id": id, "purpose": "核对就医站点", "legal_duty": "《突发公共卫生事件应急条例》", "term_days": 10}, nil)
	req := r.json(t)
	if r.status != 201 || req["time_left"].(map[string]any)["working_days"].(float64) != 5 {
		t.Fatalf("file: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/api/v1/notifications", staff, nil, nil)
	if !strings.Contains(string(r.body), "新的共享申请") || !strings.Contains(string(r.body), "公交站点信息") {
		t.Fatalf("provider inbox: %s", r.body)
	}
	e.do("POST", fmt.Sprintf("/api/v1/share/requests/%.0f/approve", req["id"]), staff, nil, nil)
	if r := e.do("GET", "/api/v1/notifications", other, map[string]string{}, map[string]string{"Accept-Language": "en"}); !strings.Contains(string(r.body), "Share request #1 (公交站点信息): approved") {
		t.Fatalf("requester inbox: %s", r.body)
	}

	// A dispute: reported, answered, visible to the bureau.
	r = e.do("POST", fmt.Sprintf("/api/v1/share/resources/%d/disputes", id), other, map[string]any{"version": 1, "row_key": "站点编号=2",
		"column": "日均客流", "problem": "客流数据明显偏低", "evidence": "2025年10月人工计数"}, nil)
	if r.status != 201 {
		t.Fatalf("dispute: %d %s", r.status, r.body)
	}
	did := int64(r.json(t)["id"].(float64))
	if r := e.do("POST", fmt.Sprintf("/api/v1/disputes/%d/answer", did), other, map[string]any{"confirmed": true, "answer": "x"}, nil); r.status != 403 {
		t.Fatalf("reporter answered: %d", r.status)
	}
	if r := e.do("GET", "/api/v1/notifications", admin, nil, nil); !strings.Contains(string(r.body), "数据疑义") {
		t.Fatalf("bureau copied: %s", r.body)
	}
	r = e.do("POST", fmt.Sprintf("/api/v1/disputes/%d/answer", did), staff, map[string]any{"confirmed": true, "answer": "已核实，将在第 2 版更正", "fixed_in_version": 2}, nil)
	if r.status != 200 || r.json(t)["status"] != "confirmed" {
		t.Fatalf("answer: %d %s", r.status, r.body)
	}

	// An open dataset's public page shows its disputes.
	e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/submit", id), staff, nil, nil)
	e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/approve", id), admin, nil, nil)
	if r := e.do("GET", fmt.Sprintf("/datasets/%d", id), "", nil, nil); !strings.Contains(string(r.body), "数据疑义与更正") || !strings.Contains(string(r.body), "已确认") {
		t.Fatalf("dataset page disputes: %d", r.status)
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/resources/%d/disputes", id), "", nil, nil); strings.Contains(string(r.body), "人工计数") || !strings.Contains(string(r.body), "confirmed") {
		t.Fatalf("public disputes: %s", r.body)
	}

	// Stop sharing: filed with a reason; with zero notice it takes effect now.
	if r := e.do("POST", fmt.Sprintf("/api/v1/share/resources/%d/stop", id), staff, map[string]any{"reason": "系统迁移", "notice_days": 0}, nil); r.status != 403 {
		t.Fatalf("staff stops sharing: %d", r.status)
	}
	jtAdmin := e.login("jt_admin", "transport-admin-1")
	if r := e.do("POST", fmt.Sprintf("/api/v1/share/resources/%d/stop", id), jtAdmin, map[string]any{"reason": "", "notice_days": 0}, nil); r.status != 400 {
		t.Fatalf("stop without reason: %d", r.status)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/share/resources/%d/stop", id), jtAdmin, map[string]any{"reason": "业务系统停用，数据转由省平台提供", "notice_days": 0}, nil); r.status != 200 {
		t.Fatalf("stop: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/notifications", other, nil, nil); !strings.Contains(string(r.body), "停止共享") {
		t.Fatalf("grant holder told: %s", r.body)
	}
	r = e.do("GET", fmt.Sprintf("/api/v1/share/resources/%d/data?purpose=%s", id, url.QueryEscape("核对就医站点")), other, nil, map[string]string{"Accept-Language": "en"})
	if r.status != 403 || !strings.Contains(string(r.body), "sharing stopped") {
		t.Fatalf("after stop: %d %s", r.status, r.body)
	}

	// The calendar: the bureau edits and imports; others only read.
	if r := e.do("GET", "/api/v1/calendar/2025", staff, nil, nil); r.status != 200 || !strings.Contains(string(r.body), `"2025-10-11","kind":"workday"`) {
		t.Fatalf("calendar: %s", r.body)
	}
	if r := e.do("GET", "/api/v1/calendar/2031", staff, nil, nil); !strings.Contains(string(r.body), "no holiday data") {
		t.Fatalf("missing year: %s", r.body)
	}
	if r := e.do("POST", "/api/v1/calendar/import", staff, "2031-01-01,holiday,元旦", map[string]string{"Content-Type": "text/csv"}); r.status != 403 {
		t.Fatalf("staff import: %d", r.status)
	}
	if r := e.do("POST", "/api/v1/calendar/import", admin, "date,kind,name\n2031-01-01,holiday,元旦\n2031-13-01,holiday,x", map[string]string{"Content-Type": "text/csv", "Accept-Language": "en"}); r.status != 400 || !strings.Contains(string(r.body), "line 3") {
		t.Fatalf("bad import: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/calendar/import", admin, "date,kind,name\n2031-01-01,holiday,元旦\n2031-01-04,workday,调休", map[string]string{"Content-Type": "text/csv"}); r.status != 200 {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/calendar/2031", staff, nil, nil); !strings.Contains(string(r.body), `"loaded":true`) {
		t.Fatalf("imported year: %s", r.body)
	}
	if e.app.Calendar.IsWorkingDay(mustDate("2031-01-01")) || !e.app.Calendar.IsWorkingDay(mustDate("2031-01-04")) {
		t.Fatal("the live calendar did not follow the import")
	}
}

func mustDate(s string) time.Time {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	t, _ := time.ParseInLocation("2006-01-02 15:04", s+" 12:00", loc)
	return t
}

func TestConsoleSharingForms(t *testing.T) {
	e := sqliteEnv(t)
	staff := e.login("jt_staff", "transport-pass-1")
	other := e.login("wj_staff", "health-pass-123")
	entry := busEntry(e.bus)
	entry["share_type"], entry["share_condition"] = "conditional", "仅限履职需要"
	r := e.do("POST", "/api/v1/catalog/resources", staff, entry, nil)
	id := int64(r.json(t)["id"].(float64))
	r = e.upload(staff, id, "stops.csv", gbk(busStopsGBK))
	e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string))
	form := func(token, path string, v url.Values, csrf bool) resp {
		hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		if csrf {
			hdr["Cookie"] = "opendata_csrf=tok123"
			v.Set("csrf_token", "tok123")
		}
		return e.do("POST", path, token, v.Encode(), hdr)
	}
	v := url.Values{"purpose": {"核对就医站点"}, "legal_duty": {"《突发公共卫生事件应急条例》"}, "columns": {"站点名称"}, "term_days": {"30"}}
	if r := form(other, fmt.Sprintf("/console/share/%d/request", id), v, false); r.status != 403 || !strings.Contains(string(r.body), "CSRF") {
		t.Fatalf("form without CSRF: %d", r.status)
	}
	r = form(other, fmt.Sprintf("/console/share/%d/request", id), v, true)
	if r.status != 200 || !strings.Contains(string(r.body), "操作成功") || !strings.Contains(string(r.body), "待答复") {
		t.Fatalf("request form: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/console/share/requests", staff, nil, nil); !strings.Contains(string(r.body), `/console/share/requests/1/approve`) || !strings.Contains(string(r.body), "剩余 5 个工作日") {
		t.Fatalf("provider's list: %s", r.body)
	}
	if r := form(staff, "/console/share/requests/1/approve", url.Values{}, true); r.status != 200 || !strings.Contains(string(r.body), "已同意") {
		t.Fatalf("approve form: %d", r.status)
	}
	r = form(other, fmt.Sprintf("/console/share/%d/data", id), url.Values{"purpose": {"核对就医站点"}}, true)
	if r.status != 200 || !strings.HasPrefix(string(r.body), "\uFEFF站点名称") || strings.Contains(string(r.body), "日均客流") {
		t.Fatalf("data after approval: %d %q", r.status, r.body)
	}
	if r := e.do("GET", "/console/share", other, nil, nil); !strings.Contains(string(r.body), "已获授权") {
		t.Fatal("share console does not show the grant")
	}
}
