package server_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// reportForm is the dataset page's "report an error" form as a citizen
// fills it.
func reportForm(name, contact string) url.Values {
	return url.Values{"name": {name}, "contact": {contact}, "column": {"日均客流"}, "row_key": {"站点编号=2"}, "problem": {"客流数字与人工计数不符"}}
}

// TestDisputeFormOnTheDatasetPage (issue 13 item 3): every dataset page
// offers a "report an error" form; a citizen gives a name and a contact,
// a department's staff report with their account; the form comes back
// filled in with its errors in the reader's language; CSRF is required.
func TestDisputeFormOnTheDatasetPage(t *testing.T) {
	e := sqliteEnv(t)
	staff, admin := e.login("jt_staff", "transport-pass-1"), e.login("admin", "bureau-secret-1")
	health := e.login("wj_staff", "health-pass-123")
	open := e.entryWithData(staff, admin, "JTJ-W1", "unconditional", "unconditional")
	onApp := e.entryWithData(staff, admin, "JTJ-W2", "none", "on_application")
	path := fmt.Sprintf("/datasets/%d/disputes", open)
	for _, id := range []int64{open, onApp} {
		r := e.page("", fmt.Sprintf("/datasets/%d", id), "")
		if body := string(r.body); r.status != 200 || !strings.Contains(body, "报告数据疑义") || !strings.Contains(body, fmt.Sprintf(`action="/datasets/%d/disputes#report"`, id)) || !strings.Contains(body, `name="contact"`) {
			t.Fatalf("dataset %d has no report form (%d)", id, r.status)
		}
	}
	// Without a contact: the form comes back with the inputs and the error
	// beside the field, in the reader's language.
	for lang, want := range map[string]string{"": "请填写有效的手机号、固定电话或电子邮箱", "en": "Give a valid mobile or telephone number or e-mail address"} {
		r := e.postForm("", path, reportForm("张三", ""), lang)
		body := string(r.body)
		if r.status != 400 || !strings.Contains(body, want) || !strings.Contains(body, `value="张三"`) || !strings.Contains(body, "客流数字与人工计数不符") || !strings.Contains(body, `aria-invalid="true"`) {
			t.Fatalf("%q: no contact: %d, want the form with %q\n%s", lang, r.status, want, visible(body))
		}
		for _, b := range readable(visible(body), map[string]string{"": "zh-CN", "en": "en"}[lang]) {
			t.Errorf("%q: %s", lang, b)
		}
	}
	if r := e.postForm("", path, reportForm("张三", "微信号 zs"), "en"); r.status != 400 || !strings.Contains(string(r.body), "Give a valid mobile") {
		t.Fatalf("a contact that is neither phone nor e-mail: %d", r.status)
	}
	bad := reportForm("", "13812345678")
	bad.Set("column", "票价")
	bad.Set("problem", "错")
	if r := e.postForm("", path, bad, ""); r.status != 400 || !strings.Contains(string(r.body), "请填写您的姓名") ||
		!strings.Contains(string(r.body), "请选择本数据集中的一个数据项") || !strings.Contains(string(r.body), "请说明哪里有误") {
		t.Fatalf("several errors: %d %s", r.status, visible(string(r.body)))
	}
	// CSRF is required, before login too.
	v := reportForm("张三", "13812345678")
	if r := e.do("POST", path, "", v.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); r.status != 403 {
		t.Fatalf("without CSRF: %d", r.status)
	}
	// A citizen with a contact: received, and told so (the client follows
	// the redirect back to the dataset page).
	sent := func(r resp) bool { return r.status == 200 && strings.Contains(string(r.body), "已收到您的疑义") }
	if r := e.postForm("", path, reportForm("张三", "zhangsan@example.cn"), ""); !sent(r) {
		t.Fatalf("citizen report: %d %s", r.status, visible(string(r.body)))
	}
	// On data open on application the citizen reports too (the page is public).
	if r := e.postForm("", fmt.Sprintf("/datasets/%d/disputes", onApp), reportForm("李四", "13812345678"), ""); !sent(r) {
		t.Fatalf("citizen on on-application data: %d %s", r.status, visible(string(r.body)))
	}
	// A department's staff member reports with the account: no contact asked.
	r := e.page(health, fmt.Sprintf("/datasets/%d", open), "")
	if body := string(r.body); !strings.Contains(body, "将以您的账号") || strings.Contains(body, `name="contact"`) {
		t.Fatalf("staff form: %s", visible(body))
	}
	if r := e.postForm(health, path, url.Values{"column": {"日均客流"}, "row_key": {"站点编号=3"}, "problem": {"客流为零，站点在运营"}}, ""); !sent(r) {
		t.Fatalf("staff report: %d %s", r.status, visible(string(r.body)))
	}
	// Stored: the citizen's contact in its own column, the staff report without one.
	var contacts []string
	rows, err := e.app.DB.Query(t.Context(), "SELECT reporter_contact FROM disputes ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		rows.Scan(&c)
		contacts = append(contacts, c)
	}
	rows.Close()
	if strings.Join(contacts, ",") != "zhangsan@example.cn,13812345678," {
		t.Fatalf("stored contacts %q", contacts)
	}
	// Staff of a department that cannot read on-application data are told why, with no form.
	if body := string(e.page(health, fmt.Sprintf("/datasets/%d", onApp), "").body); !strings.Contains(body, "贵部门无权读取") || strings.Contains(body, `name="row_key"`) {
		t.Fatalf("staff who may not report: %s", visible(body))
	}
	// The contact is never on the public page, nor the open dispute.
	for _, tok := range []string{"", health, admin} {
		body := string(e.page(tok, fmt.Sprintf("/datasets/%d", open), "").body)
		if strings.Contains(body, "zhangsan@example.cn") {
			t.Fatalf("contact on the dataset page")
		}
	}
}

// TestDisputeQueueAndAnswerOnTheWeb (issue 13 item 3): the provider's
// console lists the disputes on its data with the reporter's contact and
// the working days left; another department neither sees them nor answers;
// the provider answers on the card, and the answer is published on the
// dataset page without the contact.
func TestDisputeQueueAndAnswerOnTheWeb(t *testing.T) {
	e := sqliteEnv(t)
	staff, admin := e.login("jt_staff", "transport-pass-1"), e.login("admin", "bureau-secret-1")
	health := e.login("wj_staff", "health-pass-123")
	id := e.entryWithData(staff, admin, "JTJ-Q1", "unconditional", "unconditional")
	if r := e.postForm("", fmt.Sprintf("/datasets/%d/disputes", id), reportForm("赵六", "zhangsan@example.cn"), ""); r.status != 200 {
		t.Fatalf("report: %d", r.status)
	}
	var did int64
	e.app.DB.QueryRow(t.Context(), "SELECT id FROM disputes").Scan(&did)
	// The provider's queue: the reporter, the contact, the clock.
	for lang, want := range map[string][]string{"": {"数据疑义", "赵六（公众）", "zhangsan@example.cn", "剩余 5 个工作日", "客流数字与人工计数不符", "提交答复"},
		"en": {"Data disputes", "Reported by 赵六 (the public)", "zhangsan@example.cn", "5 working days left", "Send the answer"}} {
		r := e.page(staff, "/console/disputes", lang)
		body := visible(string(r.body))
		for _, w := range want {
			if r.status != 200 || !strings.Contains(body, w) {
				t.Fatalf("%q: provider's queue (%d) lacks %q:\n%s", lang, r.status, w, body)
			}
		}
		if !strings.Contains(string(r.body), `href="/console/disputes"`) {
			t.Fatal("the console navigation does not link the queue")
		}
	}
	// Another department: not listed, and may not answer.
	if body := string(e.page(health, "/console/disputes", "").body); strings.Contains(body, "zhangsan@example.cn") || strings.Contains(body, "客流数字与人工计数不符") {
		t.Fatalf("another department sees the dispute: %s", visible(body))
	}
	answer := url.Values{"confirmed": {"yes"}, "answer": {"已核实，第 2 版更正"}, "fixed_in_version": {"2"}}
	if r := e.postForm(health, fmt.Sprintf("/console/disputes/%d/answer", did), answer, ""); r.status != 403 {
		t.Fatalf("another department answered: %d", r.status)
	}
	// The bureau supervises: sees the dispute, not the contact, no answer form.
	if body := string(e.page(admin, "/console/disputes", "").body); !strings.Contains(body, "客流数字与人工计数不符") || strings.Contains(body, "zhangsan@example.cn") || strings.Contains(body, "提交答复") {
		t.Fatalf("bureau's view: %s", visible(body))
	}
	// CSRF is required.
	if r := e.do("POST", fmt.Sprintf("/console/disputes/%d/answer", did), staff, answer.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); r.status != 403 {
		t.Fatalf("answer without CSRF: %d", r.status)
	}
	// Errors come back on the card, in the reader's language.
	for lang, want := range map[string]string{"": "更正版本须晚于有疑义的版本", "en": "The fixing version must come after the disputed one"} {
		bad := url.Values{"confirmed": {"yes"}, "answer": {"已更正"}, "fixed_in_version": {"1"}}
		r := e.postForm(staff, fmt.Sprintf("/console/disputes/%d/answer", did), bad, lang)
		if body := string(r.body); r.status != 400 || !strings.Contains(body, want) || !strings.Contains(body, "已更正</textarea>") {
			t.Fatalf("%q: bad answer: %d %s", lang, r.status, visible(body))
		}
	}
	if r := e.postForm(staff, fmt.Sprintf("/console/disputes/%d/answer", did), url.Values{"answer": {"已核实"}}, "en"); r.status != 400 || !strings.Contains(string(r.body), "Choose the finding") {
		t.Fatalf("no finding: %d", r.status)
	}
	r := e.postForm(staff, fmt.Sprintf("/console/disputes/%d/answer", did), answer, "")
	if body := visible(string(r.body)); r.status != 200 || !strings.Contains(body, "答复已保存") || strings.Contains(body, "提交答复") {
		t.Fatalf("answer: %d %s", r.status, body)
	}
	// Published on the dataset page: question, answer, fixing version, no contact.
	for lang, want := range map[string][]string{"": {"客流数字与人工计数不符", "已核实，第 2 版更正", "已在第 2 版更正", "答复于"}, "en": {"fixed in version 2", "answered"}} {
		body := string(e.page("", fmt.Sprintf("/datasets/%d", id), lang).body)
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Fatalf("%q: public page lacks %q", lang, w)
			}
		}
		if strings.Contains(body, "zhangsan@example.cn") || strings.Contains(body, "赵六") {
			t.Fatalf("%q: the reporter on the public page", lang)
		}
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/resources/%d/disputes", id), "", nil, nil); r.status != 200 || strings.Contains(string(r.body), "zhangsan") || !strings.Contains(string(r.body), "第 2 版更正") {
		t.Fatalf("public API: %d %s", r.status, r.body)
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/share/resources/%d/disputes", id), admin, nil, nil); strings.Contains(string(r.body), "zhangsan") {
		t.Fatalf("the bureau reads the contact in the API: %s", r.body)
	}
}
