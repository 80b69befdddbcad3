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
