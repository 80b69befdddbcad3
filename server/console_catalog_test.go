package server_test

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// postForm posts a console form as a browser would: the CSRF cookie and
// field, and the language cookie ("" for Chinese).
func (e *env) postForm(token, path string, v url.Values, lang string) resp {
	e.t.Helper()
	v.Set("csrf_token", "tok123")
	cookie := "opendata_csrf=tok123"
	if lang != "" {
		cookie += "; opendata_lang=" + lang
	}
	return e.do("POST", path, token, v.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
}

func (e *env) page(token, path, lang string) resp {
	e.t.Helper()
	hdr := map[string]string{}
	if lang != "" {
		hdr["Cookie"] = "opendata_lang=" + lang
	}
	return e.do("GET", path, token, nil, hdr)
}

// entryForm is a complete, valid entry as the form posts it.
func entryForm(code string) url.Values {
	return url.Values{
		"code": {code}, "name": {"公交线路"}, "summary": {"全市公交线路及站数"}, "catalog_kind": {"department"}, "domain": {"transport"},
		"format": {"table"}, "collection_channel": {"business_system"}, "update_period": {"monthly"}, "share_type": {"unconditional"},
		"share_methods": {"api", "file"}, "open_type": {"unconditional"}, "usage_note": {"引用请注明来源"}, "responsible_person": {"张三"},
		"responsible_contact": {"0718-8200000"}, "keywords": {"公交、线路"}, "release_date": {"2024-03-01"},
		"items_count":  {"3"},
		"items.0.name": {"线路编号"}, "items.0.type": {"string"}, "items.0.key": {"1"}, "items.0.required": {"1"},
		"items.1.name": {"站数"}, "items.1.type": {"int"}, "items.1.unit": {"个"},
		"items.2.name": {"驾驶员身份证"}, "items.2.type": {"string"}, "items.2.personal": {"1"}, "items.2.personal_action": {"mask"}, "items.2.check": {"id_number"},
	}
}

// noRawText fails when a page shows a message key, a raw field name or Go
// error text.
func noRawText(t *testing.T, what string, body []byte) {
	t.Helper()
	text := string(body)
	// Only what people read: drop tags and attribute values.
	text = regexp.MustCompile(`(?s)<[^>]*>`).ReplaceAllString(text, " ")
	for _, raw := range []string{"‽", "entry.invalid", "entry.", "field.", "update_period", "share_type", "department_id", "items[", "invalid fields",
		"sql:", "conflict:", "forbidden:", "not found:", "revision 1, you edited"} {
		if strings.Contains(text, raw) {
			i := strings.Index(text, raw)
			t.Fatalf("%s shows %q: …%s…", what, raw, text[max(0, i-80):min(len(text), i+80)])
		}
	}
}

func TestConsoleEntryCreate(t *testing.T) {
	e := sqliteEnv(t)
	staff := e.login("jt_staff", "transport-pass-1")

	r := e.page(staff, "/console/resources/new", "")
	if r.status != 200 || !strings.Contains(string(r.body), `name="items.0.name"`) || !strings.Contains(string(r.body), "市交通运输局") {
		t.Fatalf("new entry form: %d", r.status)
	}
	noRawText(t, "new form", r.body)

	// Without the CSRF token nothing happens.
	if r := e.do("POST", "/console/resources/new", staff, entryForm("JTJ-101").Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); r.status != 403 {
		t.Fatalf("form without CSRF: %d", r.status)
	}

	// Invalid: messages next to each field, in Chinese, values kept.
	bad := entryForm("公交")
	bad.Set("share_type", "conditional")
	bad.Set("open_type", "none")
	bad.Set("items.1.name", "线路编号")
	bad.Set("release_date", "2024-13-01")
	r = e.postForm(staff, "/console/resources/new", bad, "")
	body := string(r.body)
	for _, want := range []string{"有 5 处需要修改", "有条件共享须写明共享条件（第十五条）", "不予开放须注明法律、法规依据（第二十一条）", "与另一数据项同名",
		"日期格式为 年-月-日", "2–64 位字母", `>全市公交线路及站数</textarea>`, `href="#i1-name"`} {
		if !strings.Contains(body, want) {
			t.Errorf("invalid form lacks %q", want)
		}
	}
	if r.status != 422 {
		t.Fatalf("invalid form: %d", r.status)
	}
	noRawText(t, "invalid form", r.body)
	// The same in English.
	r = e.postForm(staff, "/console/resources/new", bad, "en")
	if r.status != 422 || !strings.Contains(string(r.body), "a conditional share must state its condition (A-15)") || !strings.Contains(string(r.body), "another data item has this name") {
		t.Fatalf("invalid form in English: %d", r.status)
	}
	noRawText(t, "invalid form (en)", r.body)

	// Rows: add, move, remove without saving anything.
	v := entryForm("JTJ-101")
	v.Set("op", "add")
	r = e.postForm(staff, "/console/resources/new", v, "")
	if r.status != 200 || !strings.Contains(string(r.body), `name="items.3.name"`) || strings.Contains(string(r.body), "处需要修改") {
		t.Fatalf("add row: %d", r.status)
	}
	v.Set("op", "up.1")
	r = e.postForm(staff, "/console/resources/new", v, "")
	if i, j := strings.Index(string(r.body), `value="站数"`), strings.Index(string(r.body), `value="线路编号"`); i < 0 || j < 0 || i > j {
		t.Fatalf("move up: 站数 at %d, 线路编号 at %d", i, j)
	}
	v.Set("op", "remove.2")
	if r = e.postForm(staff, "/console/resources/new", v, ""); strings.Contains(string(r.body), "驾驶员身份证") {
		t.Fatal("removed row still there")
	}
	if list := e.do("GET", "/api/v1/catalog/resources", staff, nil, nil).json(t); list["total"].(float64) != 0 {
		t.Fatal("a row operation saved the entry")
	}

	// Valid: saved, then the entry's page says so.
	v = entryForm("JTJ-101")
	r = e.postForm(staff, "/console/resources/new", v, "")
	if r.status != 200 || !strings.Contains(string(r.body), "已创建目录条目") || !strings.Contains(string(r.body), "jt_staff 创建了此条目") {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	got := e.do("GET", "/api/v1/catalog/resources", staff, nil, nil).json(t)["resources"].([]any)[0].(map[string]any)
	items := got["items"].([]any)
	if got["code"] != "JTJ-101" || len(items) != 3 || fmt.Sprint(got["key_columns"]) != "[线路编号]" || fmt.Sprint(got["keywords"]) != "[公交 线路]" ||
		items[2].(map[string]any)["personal"] != true || items[2].(map[string]any)["check"] != "id_number" || items[1].(map[string]any)["unit"] != "个" ||
		fmt.Sprint(got["share_methods"]) != "[api file]" || got["department_id"].(float64) != float64(e.bus) {
		t.Fatalf("stored entry: %v", got)
	}
	// The code is taken now.
	if r := e.postForm(staff, "/console/resources/new", entryForm("JTJ-101"), ""); r.status != 422 || !strings.Contains(string(r.body), "已有目录条目使用此资源代码") {
		t.Fatalf("duplicate code: %d", r.status)
	}
	// Department staff create for their own department only, whatever the form says.
	v = entryForm("JTJ-102")
	v.Set("department_id", fmt.Sprint(e.hlth))
	e.postForm(staff, "/console/resources/new", v, "")
	r = e.do("GET", "/api/v1/catalog/resources?department_id="+fmt.Sprint(e.hlth), staff, nil, nil)
	if r.json(t)["total"].(float64) != 0 {
		t.Fatal("staff created an entry for another department")
	}
}

func TestConsoleEntryEditConflict(t *testing.T) {
	e := sqliteEnv(t)
	staff := e.login("jt_staff", "transport-pass-1")
	admin := e.login("admin", "bureau-secret-1")
	other := e.login("wj_staff", "health-pass-123")
	e.postForm(staff, "/console/resources/new", entryForm("JTJ-201"), "")
	path := "/console/resources/1/edit"

	r := e.page(staff, path, "")
	if r.status != 200 || !strings.Contains(string(r.body), `name="revision" value="1"`) || !strings.Contains(string(r.body), `value="公交线路"`) {
		t.Fatalf("edit form: %d", r.status)
	}
	if r := e.page(other, path, ""); r.status != 403 {
		t.Fatalf("another department's edit form: %d", r.status)
	}
	if r := e.postForm(other, path, entryForm("JTJ-201"), ""); r.status != 403 {
		t.Fatalf("another department saved: %d", r.status)
	}

	// The bureau saves first…
	theirs := entryForm("JTJ-201")
	theirs.Set("revision", "1")
	theirs.Set("update_period", "weekly")
	theirs.Set("department_id", fmt.Sprint(e.bus))
	if r := e.postForm(admin, path, theirs, ""); r.status != 200 || !strings.Contains(string(r.body), "已保存") {
		t.Fatalf("bureau edit: %d %s", r.status, r.body)
	}
	// …then the staff member, still on revision 1, is told who changed what.
	mine := entryForm("JTJ-201")
	mine.Set("revision", "1")
	mine.Set("summary", "全市公交线路、站数和驾驶员")
	r = e.postForm(staff, path, mine, "")
	body := string(r.body)
	if r.status != 409 {
		t.Fatalf("stale save: %d", r.status)
	}
	for _, want := range []string{"在您编辑期间，其他人修改了此条目", "admin 把更新周期由 每月 改为 每周", "现在保存的值：每周",
		`name="revision" value="2"`, `全市公交线路、站数和驾驶员`} {
		if !strings.Contains(body, want) {
			t.Errorf("conflict page lacks %q", want)
		}
	}
	noRawText(t, "conflict page", r.body)
	if r := e.postForm(staff, path, mine, "en"); r.status != 409 || !strings.Contains(string(r.body), "admin changed the update period from Monthly to Weekly") {
		t.Fatalf("conflict page in English: %d", r.status)
	}
	// Nothing of theirs was lost, nothing of mine saved yet.
	got := e.do("GET", "/api/v1/catalog/resources/1", staff, nil, nil).json(t)
	if got["update_period"] != "weekly" || got["summary"] != "全市公交线路及站数" || got["revision"].(float64) != 2 {
		t.Fatalf("after the conflict: %v", got)
	}
	// Saving again, knowingly, on revision 2.
	mine.Set("revision", "2")
	if r := e.postForm(staff, path, mine, ""); r.status != 200 || !strings.Contains(string(r.body), "已保存") {
		t.Fatalf("save after conflict: %d", r.status)
	}
	page := e.page(staff, "/console/resources/1", "")
	for _, want := range []string{"jt_staff 把更新周期由 每周 改为 每月", "jt_staff 把摘要由 “全市公交线路及站数” 改为 “全市公交线路、站数和驾驶员”", "admin 把更新周期由 每月 改为 每周"} {
		if !strings.Contains(string(page.body), want) {
			t.Errorf("history lacks %q", want)
		}
	}
	noRawText(t, "resource page", page.body)
}

func TestConsoleEntryRetire(t *testing.T) {
	e := sqliteEnv(t)
	staff := e.login("jt_staff", "transport-pass-1")
	other := e.login("wj_staff", "health-pass-123")
	e.postForm(staff, "/console/resources/new", entryForm("JTJ-301"), "")

	if r := e.postForm(other, "/console/resources/1/retire", url.Values{"reason": {"不再采集"}, "revision": {"1"}}, ""); r.status != 403 {
		t.Fatalf("another department retired it: %d", r.status)
	}
	if r := e.postForm(staff, "/console/resources/1/retire", url.Values{"reason": {""}, "revision": {"1"}}, ""); r.status != 422 || !strings.Contains(string(r.body), "请说明撤销原因") {
		t.Fatalf("retire without a reason: %d", r.status)
	}
	r := e.postForm(staff, "/console/resources/1/retire", url.Values{"reason": {"数据已并入新系统"}, "revision": {"1"}}, "")
	if r.status != 200 || !strings.Contains(string(r.body), "已撤销目录条目") || !strings.Contains(string(r.body), "jt_staff 撤销了此条目，原因：数据已并入新系统") {
		t.Fatalf("retire: %d %s", r.status, r.body)
	}
	if r := e.page(staff, "/console/resources/1/edit", ""); r.status != 409 || !strings.Contains(string(r.body), "此条目已撤销") {
		t.Fatalf("edit form of a retired entry: %d", r.status)
	}
	if r := e.page(staff, "/console", ""); strings.Contains(string(r.body), "JTJ-301") {
		t.Fatal("retired entry in the console list")
	}
	if r := e.page(staff, "/console/retired", ""); !strings.Contains(string(r.body), "JTJ-301") || !strings.Contains(string(r.body), "数据已并入新系统") {
		t.Fatal("retired list")
	}
	if r := e.postForm(staff, "/console/resources/1/restore", url.Values{"revision": {"2"}}, ""); r.status != 200 || !strings.Contains(string(r.body), "已恢复目录条目") {
		t.Fatalf("restore: %d", r.status)
	}
	// A published, shown entry is withdrawn first.
	id := publishBusStops(t, e)
	r = e.postForm(staff, fmt.Sprintf("/console/resources/%d/retire", id), url.Values{"reason": {"不再采集"}}, "")
	if r.status != 409 || !strings.Contains(string(r.body), "请先停止发布并公告") {
		t.Fatalf("retired a published entry: %d", r.status)
	}
	noRawText(t, "refused retire", r.body)
	if r := e.page(staff, fmt.Sprintf("/console/resources/%d", id), ""); strings.Contains(string(r.body), `/retire"`) || !strings.Contains(string(r.body), "请先停止发布并公告") {
		t.Fatal("the page offers to retire a published entry")
	}
}

// A data item's min, max and pattern are on the form, checked, and stored.
func TestConsoleEntryConstraints(t *testing.T) {
	e := sqliteEnv(t)
	staff := e.login("jt_staff", "transport-pass-1")
	r := e.page(staff, "/console/resources/new", "")
	if !strings.Contains(string(r.body), `name="items.0.min"`) || !strings.Contains(string(r.body), `name="items.0.pattern"`) {
		t.Fatal("the form has no min, max or pattern")
	}
	bad := entryForm("JTJ-103")
	bad.Set("items.0.min", "1")
	bad.Set("items.1.max", "ten")
	bad.Set("items.2.pattern", `(\d+`)
	r = e.postForm(staff, "/console/resources/new", bad, "")
	body := string(r.body)
	for _, want := range []string{"下限和上限仅用于数值、日期或日期时间类数据项", "应为数值（如 0、73.5）或日期（如 2024-01-31）", "不是有效的正则表达式", `href="#i2-pattern"`} {
		if !strings.Contains(body, want) {
			t.Errorf("invalid form lacks %q", want)
		}
	}
	if r.status != 422 {
		t.Fatalf("invalid constraints: %d", r.status)
	}
	noRawText(t, "invalid constraints", r.body)
	ok := entryForm("JTJ-103")
	ok.Set("items.1.min", "1")
	ok.Set("items.1.max", "80")
	ok.Set("items.0.pattern", `[0-9]{1,3}路`)
	if r = e.postForm(staff, "/console/resources/new", ok, ""); r.status != 200 {
		t.Fatalf("create: %d", r.status)
	}
	items := e.do("GET", "/api/v1/catalog/resources", staff, nil, nil).json(t)["resources"].([]any)[0].(map[string]any)["items"].([]any)
	if it := items[1].(map[string]any); it["min"] != "1" || it["max"] != "80" || items[0].(map[string]any)["pattern"] != `[0-9]{1,3}路` {
		t.Fatalf("stored items %v", items)
	}
}
