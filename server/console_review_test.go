package server_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// The second delivery of the bus stops: stop 1's count changed, stop 3
// gone, stop 5 with a count that is not a number (rejected), stop 6 new
// with an ID whose check digit is wrong (stored, flagged).
const busStopsV2 = "站点编号,站点名称,日均客流,负责人身份证\r\n" +
	"1,舞阳坝,1300,11010519491231002X\r\n" +
	"2,土桥坝,950,11010519491231002X\r\n" +
	"4,\"火车站,北广场\",650,11010519491231002X\r\n" +
	"5,新站,五十,11010519491231002X\r\n" +
	"6,大桥,300,110105194912310021\r\n"

func TestConsoleReview(t *testing.T) {
	e := sqliteEnv(t)
	id := publishBusStops(t, e)
	staff := e.login("jt_staff", "transport-pass-1")
	admin := e.login("admin", "bureau-secret-1")
	other := e.login("wj_staff", "health-pass-123")
	r := e.uploadWith(staff, id, "公交站点-二月.csv", gbk(busStopsV2), dirty)
	if j := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string)); j["status"] != "succeeded" {
		t.Fatalf("second ingest: %v", j)
	}
	path := fmt.Sprintf("/console/resources/%d/versions/2", id)

	page := e.page(staff, path, "")
	body := string(page.body)
	if page.status != 200 {
		t.Fatalf("version page: %d", page.status)
	}
	for _, want := range []string{
		"质量报告", "各列统计", "负责人身份证",
		"校验不通过的单元格", "第 6 行“负责人身份证”：身份证号码校验位错误（GB 11643）", // a flagged cell with its row
		"未入库的行", "第 5 行“日均客流”：“五十”不是数字", // a rejected row with its reason
		"数据预览", "110105********002X", // the open variant, masked
		"与已发布的第 1 版比较", `<dd id="rows-added">1</dd>`, `<dd id="rows-removed">1</dd>`, `<dd id="rows-changed">1</dd>`,
		"按记录标识（站点编号）逐条比较", "新增的记录（示例）： 6", "删除的记录（示例）： 3", "有变化的记录（示例）： 1",
		"取值范围", "1200.5", "提交审核",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("version page lacks %q", want)
		}
	}
	if strings.Contains(body, "11010519491231002X") {
		t.Error("the open view shows an unmasked ID number")
	}
	noRawText(t, "version page", page.body)
	en := e.page(staff, path, "en")
	if !strings.Contains(string(en.body), "Compared with the published version 1") || !strings.Contains(string(en.body), "Cells failing checks") {
		t.Error("English version page")
	}
	noRawText(t, "version page (en)", en.body)

	// The first version has nothing to compare with.
	if r := e.page(staff, fmt.Sprintf("/console/resources/%d/versions/1", id), ""); !strings.Contains(string(r.body), "这是第一个版本") {
		t.Error("first version's comparison")
	}
	// Another department sees the version but not its data.
	if r := e.page(other, path, ""); r.status != 200 || strings.Contains(string(r.body), "110105") || !strings.Contains(string(r.body), "质量报告和数据只向提供部门") {
		t.Fatalf("other department's view: %d", r.status)
	}
	if r := e.postForm(other, path+"/full", url.Values{}, ""); strings.Contains(string(r.body), "11010519491231002X") {
		t.Fatal("another department read the full variant")
	}

	// The full variant: by POST with CSRF only, and audited.
	if r := e.do("POST", path+"/full", staff, nil, nil); r.status != 403 {
		t.Fatalf("full rows without CSRF: %d", r.status)
	}
	full := e.postForm(staff, path+"/full", url.Values{}, "")
	if full.status != 200 || !strings.Contains(string(full.body), "11010519491231002X") || !strings.Contains(string(full.body), "本次查看已记入访问日志") {
		t.Fatalf("full rows: %d", full.status)
	}
	audit := e.do("GET", "/api/v1/audit?action=publication.preview_full", admin, nil, nil)
	if !strings.Contains(string(audit.body), `"actor":"jt_staff"`) || !strings.Contains(string(audit.body), `"version":2`) {
		t.Fatalf("the full preview is not in the audit log: %s", audit.body)
	}

	// Decide from the page.
	act := func(token, action string, v url.Values) resp {
		v.Set("from", "version")
		return e.postForm(token, path+"/"+action, v, "")
	}
	if r := act(staff, "submit", url.Values{}); r.status != 200 || !strings.Contains(string(r.body), "已提交审核") || !strings.Contains(string(r.body), "待审核") {
		t.Fatalf("submit: %d", r.status)
	}
	if r := act(staff, "approve", url.Values{}); r.status != 403 || !strings.Contains(string(r.body), "发布由提供部门的管理员或大数据局审核") || !strings.Contains(string(r.body), "各列统计") {
		t.Fatalf("staff approved: %d", r.status)
	}
	if r := act(admin, "reject", url.Values{"reason": {" "}}); r.status != 422 || !strings.Contains(string(r.body), "请写明退回原因") {
		t.Fatalf("reject without a reason: %d", r.status)
	}
	if r := act(admin, "reject", url.Values{"reason": {"第 5 行客流不是数字，请更正"}}); r.status != 200 || !strings.Contains(string(r.body), "已退回") || !strings.Contains(string(r.body), "第 5 行客流不是数字，请更正") {
		t.Fatalf("reject: %d", r.status)
	}
	if r := act(admin, "approve", url.Values{}); r.status != 409 || !strings.Contains(string(r.body), "此版本已被退回") {
		t.Fatalf("approve a rejected version: %d", r.status)
	}
	act(staff, "submit", url.Values{})
	r = act(admin, "approve", url.Values{})
	if r.status != 200 || !strings.Contains(string(r.body), "已审核通过并发布") || !strings.Contains(string(r.body), "已发布") {
		t.Fatalf("approve: %d", r.status)
	}
	noRawText(t, "approved version", r.body)
	if got := e.do("GET", fmt.Sprintf("/api/v1/resources/%d", id), "", nil, nil).json(t); got["published_version"].(float64) != 2 {
		t.Fatalf("published: %v", got["published_version"])
	}
	if r := e.page(staff, fmt.Sprintf("/console/resources/%d/versions/9", id), ""); r.status != 404 {
		t.Errorf("missing version: %d", r.status)
	}
}
