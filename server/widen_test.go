package server_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"opendata/auth"
)

// TestWideningEditNeedsReview (issue 10 item 6): a department staff member
// alone made on-application data public by editing open_type (or
// share_type, or a personal flag) of a published entry — through the API or
// the console — with no review. Now such an edit waits for a second person
// with the approver role; narrowing acts at once; all of it is audited.
func TestWideningEditNeedsReview(t *testing.T) {
	e := sqliteEnv(t)
	ctx := context.Background()
	if _, err := e.app.Users.CreateUser(ctx, auth.NewUser{Username: "jt_admin", Password: "Transport-Admin-9", Role: auth.RoleDeptAdmin, DepartmentID: e.bus}); err != nil {
		t.Fatal(err)
	}
	staff, admin := e.login("jt_staff", "transport-pass-1"), e.login("admin", "bureau-secret-1")
	deptAdmin := e.login("jt_admin", "Transport-Admin-9")
	id := e.entryWithData(staff, admin, "JTJ-W1", "unconditional", "on_application")
	entry := func(rev int) map[string]any {
		m := busEntry(e.bus)
		m["code"], m["open_type"], m["open_condition"], m["revision"] = "JTJ-W1", "on_application", "科研机构说明用途后申请", rev
		return m
	}
	res := fmt.Sprintf("/api/v1/catalog/resources/%d", id)
	public := func() string {
		t.Helper()
		r := e.do("GET", fmt.Sprintf("/api/v1/resources/%d", id), "", nil, nil)
		if r.status != 200 {
			t.Fatalf("public entry: %d", r.status)
		}
		return r.json(t)["open_type"].(string)
	}
	download := func() int {
		return e.do("GET", fmt.Sprintf("/api/v1/resources/%d/download/open.csv", id), "", nil, nil).status
	}

	// The API: staff widen open_type → 202, nothing changes.
	wide := entry(1)
	wide["open_type"] = "unconditional"
	r := e.do("PUT", res, staff, wide, nil)
	if r.status != 202 {
		t.Fatalf("widening edit: %d %s", r.status, r.body)
	}
	if !strings.Contains(string(r.body), "审核") {
		t.Errorf("202 says nothing in words: %s", r.body)
	}
	pe := r.json(t)["pending_edit"].(map[string]any)
	apiEdit := int64(pe["id"].(float64))
	if fmt.Sprint(pe["widens"]) != "[open_type]" {
		t.Fatalf("widens %v", pe["widens"])
	}
	if got := public(); got != "on_application" || download() != 403 {
		t.Fatalf("after a staff edit alone the data is %s, download %d", got, download())
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/catalog/edits/%d/approve", apiEdit), staff, nil, nil); r.status != 403 {
		t.Fatalf("staff approved their own widening: %d", r.status)
	}

	// The console: the same edit by form waits too.
	form := url.Values{}
	for k, v := range map[string]string{"code": "JTJ-W1", "name": "公交站点信息", "summary": "全市公交站点", "catalog_kind": "theme", "domain": "transport",
		"format": "table", "collection_channel": "business_system", "update_period": "monthly", "share_type": "unconditional",
		"open_type": "unconditional", "usage_note": "引用请注明来源", "responsible_person": "张三", "responsible_contact": "0718-8200000",
		"revision": "1", "items_count": "4",
		"items.0.name": "站点编号", "items.0.type": "int", "items.0.key": "1", "items.0.required": "1",
		"items.1.name": "站点名称", "items.1.type": "string", "items.2.name": "日均客流", "items.2.type": "decimal",
		"items.3.name": "负责人身份证", "items.3.type": "string", "items.3.personal": "1", "items.3.personal_action": "mask", "items.3.check": "id_number"} {
		form.Set(k, v)
	}
	form["share_methods"] = []string{"api", "file"}
	r = e.postForm(staff, fmt.Sprintf("/console/resources/%d/edit", id), form, "")
	if r.status != 200 || !strings.Contains(string(r.body), "须由另一位有审核权限的人员批准") {
		t.Fatalf("console widening edit: %d", r.status)
	}
	if got := public(); got != "on_application" || download() != 403 {
		t.Fatalf("after a console edit alone the data is %s", got)
	}

	// The review queue shows one pending edit (the console's replaced the
	// API's); the department admin — a second person — approves it there.
	q := e.do("GET", "/api/v1/review-queue", deptAdmin, nil, nil).json(t)
	edits := q["edits"].([]any)
	if len(edits) != 1 {
		t.Fatalf("queue edits %v", edits)
	}
	consoleEdit := int64(edits[0].(map[string]any)["id"].(float64))
	page := e.page(deptAdmin, "/console", "")
	if !strings.Contains(string(page.body), "开放方式放宽为“无条件开放”") || !strings.Contains(string(page.body), fmt.Sprintf("/console/edits/%d/approve", consoleEdit)) {
		t.Fatalf("console queue lacks the pending edit")
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/catalog/edits/%d/approve", apiEdit), deptAdmin, nil, nil); r.status != 409 {
		t.Fatalf("the replaced edit was approved: %d", r.status)
	}
	if r := e.postForm(deptAdmin, fmt.Sprintf("/console/edits/%d/approve", consoleEdit), url.Values{}, ""); r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	if got := public(); got != "unconditional" || download() != 200 {
		t.Fatalf("approved edit not in effect: %s, download %d", got, download())
	}
	if r := e.postForm(deptAdmin, fmt.Sprintf("/console/edits/%d/approve", consoleEdit), url.Values{}, ""); r.status != 409 {
		t.Fatalf("approved twice: %d", r.status)
	}

	// Four eyes hold for approvers too: the department admin's own widening
	// (an ID column no longer personal) needs someone else.
	cur := e.do("GET", res, staff, nil, nil).json(t)
	rev := int(cur["revision"].(float64))
	unmask := entry(rev)
	unmask["open_type"] = "unconditional"
	unmask["items"].([]map[string]any)[3]["personal"] = false
	r = e.do("PUT", res, deptAdmin, unmask, nil)
	if r.status != 202 {
		t.Fatalf("unmasking edit: %d %s", r.status, r.body)
	}
	own := int64(r.json(t)["pending_edit"].(map[string]any)["id"].(float64))
	if r := e.do("POST", fmt.Sprintf("/api/v1/catalog/edits/%d/approve", own), deptAdmin, nil, nil); r.status != 403 {
		t.Fatalf("the proposer approved their own edit: %d", r.status)
	}
	if r := e.do("POST", fmt.Sprintf("/api/v1/catalog/edits/%d/reject", own), admin, map[string]string{"reason": "身份证号不得公开"}, nil); r.status != 200 {
		t.Fatalf("reject: %d %s", r.status, r.body)
	}
	if got := e.do("GET", res, staff, nil, nil).json(t); got["items"].([]any)[3].(map[string]any)["personal"] != true {
		t.Fatalf("rejected edit took effect: %v", got["items"])
	}

	// Narrowing acts at once: share_type unconditional → conditional.
	narrow := entry(rev)
	narrow["open_type"] = "unconditional"
	narrow["share_type"], narrow["share_condition"] = "conditional", "仅限履行社会救助职责的部门"
	if r := e.do("PUT", res, staff, narrow, nil); r.status != 200 {
		t.Fatalf("narrowing edit: %d %s", r.status, r.body)
	}

	// Each step is in the audit log.
	for _, action := range []string{"publication.edit_proposed", "publication.edit_approved", "publication.edit_rejected"} {
		var n int
		if err := e.app.DB.QueryRow(ctx, "SELECT COUNT(*) FROM audit_events WHERE action = ? AND resource_id = ?", action, id).Scan(&n); err != nil || n == 0 {
			t.Errorf("audit lacks %s (%d, %v)", action, n, err)
		}
	}
}
