package server_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"opendata/audit"
)

// TestScreensCarryTheDecision (issue 13 item 5): share requests split into
// incoming and outgoing, each card with the departments, purpose, columns
// and term; the audit log with resource, actor and purpose columns,
// filters and paging; notices that link to their item.
func TestScreensCarryTheDecision(t *testing.T) {
	e := sqliteEnv(t)
	ctx := context.Background()
	staff := e.login("jt_staff", "transport-pass-1")
	other := e.login("wj_staff", "health-pass-123")
	admin := e.login("admin", "bureau-secret-1")
	id := e.entryWithData(staff, admin, "SCR-1", "conditional", "unconditional")
	r := e.do("POST", "/api/v1/share/requests", other, map[string]any{"resource_id": id, "purpose": "核对就医站点的公交可达性",
		"legal_duty": "《突发公共卫生事件应急条例》", "columns": []string{"站点编号", "站点名称"}, "term_days": 45}, nil)
	if r.status != 201 {
		t.Fatalf("request: %d %s", r.status, r.body)
	}
	reqID := int64(r.json(t)["id"].(float64))

	// The provider sees it as incoming, the requester as outgoing.
	section := func(body, from, to string) string {
		i := strings.Index(body, from)
		if i < 0 {
			return ""
		}
		body = body[i:]
		if j := strings.Index(body, to); to != "" && j >= 0 {
			body = body[:j]
		}
		return body
	}
	card := fmt.Sprintf(`id="request-%d"`, reqID)
	prov := string(e.page(staff, "/console/share/requests", "").body)
	in := section(prov, `id="incoming"`, `id="outgoing"`)
	for _, want := range []string{card, "申请部门：市卫生健康委员会", "提供部门：市交通运输局", "核对就医站点的公交可达性", "数据项：站点编号、站点名称", "使用期限：45 天", fmt.Sprintf("/console/share/requests/%d/approve", reqID)} {
		if !strings.Contains(in, want) {
			t.Errorf("provider's incoming list lacks %q:\n%s", want, in)
		}
	}
	if strings.Contains(section(prov, `id="outgoing"`, ""), card) {
		t.Error("the provider's request shows as outgoing too")
	}
	req := string(e.page(other, "/console/share/requests", "").body)
	out := section(req, `id="outgoing"`, "")
	if !strings.Contains(out, card) || strings.Contains(section(req, `id="incoming"`, `id="outgoing"`), card) {
		t.Errorf("requester's lists: %s", req)
	}
	if strings.Contains(out, fmt.Sprintf("/console/share/requests/%d/approve", reqID)) {
		t.Error("the requester may approve their own request")
	}
	en := string(e.page(other, "/console/share/requests", "en").body)
	if !strings.Contains(en, "Outgoing") || !strings.Contains(en, "Requesting department") {
		t.Errorf("English lists: %s", en)
	}

	// The notice takes the provider to the card, not to the JSON API.
	if r := e.page(staff, "/console/notifications", ""); !strings.Contains(string(r.body), fmt.Sprintf(`href="/console/share/requests#request-%d"`, reqID)) {
		t.Errorf("notice link: %s", r.body)
	}

	// The audit log: resource, actor, action in words, purpose; filters; pages.
	if r := e.do("POST", fmt.Sprintf("/api/v1/share/requests/%d/approve", reqID), staff, nil, nil); r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/share/resources/%d/data?purpose=%s", id, url.QueryEscape("核对就医站点")), other, nil, nil); r.status != 200 {
		t.Fatalf("read: %d %s", r.status, r.body)
	}
	log := string(e.page(staff, "/console/audit", "").body)
	for _, want := range []string{"资源", "公交站点", "读取共享数据", "核对就医站点", "wj_staff · 市卫生健康委员会", `name="department"`, `name="action"`, `type="date"`} {
		if !strings.Contains(log, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	reads := string(e.page(staff, "/console/audit?action=share.read", "").body)
	if !strings.Contains(reads, "读取共享数据") || strings.Contains(reads, "同意共享申请</td>") {
		t.Errorf("action filter: %s", reads)
	}
	if r := e.page(staff, fmt.Sprintf("/console/audit?department=%d", e.hlth), ""); strings.Contains(string(r.body), "jt_staff") {
		t.Error("department filter keeps the provider's own events")
	}
	if r := e.page(staff, "/console/audit?from=2026-13-01", ""); r.status != 400 || !strings.Contains(string(r.body), "from：应为 YYYY-MM-DD 格式的日期") {
		t.Errorf("bad date: %d", r.status)
	}
	// The other department does not see the provider's events.
	if r := e.page(other, "/console/audit", ""); strings.Contains(string(r.body), "同意共享申请</td>") || !strings.Contains(string(r.body), "没有符合条件的记录") {
		t.Error("the requester sees the provider's log")
	}
	for i := 0; i < audit.PageSize+5; i++ {
		e.app.Audit.Append(ctx, audit.Event{ActorName: "bulk", Action: "share.read", ResourceID: id, Purpose: fmt.Sprintf("批量%03d", i)})
	}
	first := string(e.page(staff, "/console/audit", "").body)
	if strings.Count(first, "<tr><td>") != audit.PageSize || !strings.Contains(first, `rel="next"`) || !strings.Contains(first, "批量054") || strings.Contains(first, "批量000") {
		t.Fatalf("first page: %d rows", strings.Count(first, "<tr><td>"))
	}
	i := strings.Index(first, `href="/console/audit?before=`)
	next := first[i+6 : i+6+strings.Index(first[i+6:], `"`)]
	second := string(e.page(staff, strings.ReplaceAll(next, "&amp;", "&"), "").body)
	if !strings.Contains(second, "批量000") || strings.Contains(second, "批量054") {
		t.Errorf("second page (%s) does not go on from the first", next)
	}
}
