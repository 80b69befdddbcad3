package server_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
)

// stationsSample is a register sample: 站点编号 S07 is on rows 8 and 13
// with different content (a "one data, one source" conflict).
func stationsSample() []byte {
	var b strings.Builder
	b.WriteString("站点编号,站点名称,负责人,联系电话,状态\n")
	states := []string{"在用", "停用", "在建"}
	for i := 1; i <= 24; i++ {
		code := fmt.Sprintf("S%02d", i)
		if i == 12 {
			code = "S07"
		}
		fmt.Fprintf(&b, "%s,站点%d,%s建国,1390718%04d,%s\n", code, i, string([]rune("张王李赵刘陈")[i%6]), i, states[i%3])
	}
	return []byte(b.String())
}

// sampleMultipart is a multipart form with fields and the file under fileField.
func sampleMultipart(t *testing.T, fields url.Values, fileField, filename string, content []byte) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	if filename != "" {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, fileField, filename))
		h.Set("Content-Type", "application/octet-stream")
		w, _ := mw.CreatePart(h)
		w.Write(content)
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

func TestDraftAPI(t *testing.T) {
	e := sqliteEnv(t)
	staff := e.login("jt_staff", "transport-pass-1")
	post := func(token, lang, name string, content []byte) resp {
		body, ct := sampleMultipart(t, nil, "file", name, content)
		hdr := map[string]string{"Content-Type": ct}
		if lang != "" {
			hdr["Accept-Language"] = lang
		}
		return e.do("POST", "/api/v1/catalog/drafts", token, body, hdr)
	}
	r := post(staff, "", "stations.csv", stationsSample())
	if r.status != 200 {
		t.Fatalf("draft: %d %s", r.status, r.body)
	}
	d := r.json(t)
	var names []string
	items := map[string]map[string]any{}
	for _, x := range d["items"].([]any) {
		it := x.(map[string]any)
		names = append(names, it["name"].(string))
		items[it["name"].(string)] = it
	}
	if fmt.Sprint(names) != "[站点编号 站点名称 负责人 联系电话 状态]" || d["rows"].(float64) != 24 {
		t.Fatalf("items %v, rows %v", names, d["rows"])
	}
	if p := items["负责人"]; p["personal"] != true || p["detected_by"] != "header" || !strings.Contains(fmt.Sprint(p["reasons"]), "表头“负责人”") {
		t.Errorf("负责人: %v", p)
	}
	if p := items["联系电话"]; p["personal"] != true || p["check"] != "mobile" || strings.Contains(fmt.Sprint(p["examples"]), "13907180001") {
		t.Errorf("联系电话: %v", p)
	}
	if p := items["状态"]; fmt.Sprint(p["enum"]) != "[停用 在建 在用]" {
		t.Errorf("状态: %v", p)
	}
	key := d["key"].(map[string]any)
	if fmt.Sprint(d["key_columns"]) != "[站点编号]" || fmt.Sprint(key["repeats"]) != "[map[rows:[8 13] same:false value:S07]]" {
		t.Errorf("key: %v %v", d["key_columns"], key)
	}
	// In English.
	r = post(staff, "en", "stations.csv", stationsSample())
	if !strings.Contains(string(r.body), `the header \"负责人\" names personal data (a person`) {
		t.Errorf("English reasons: %s", r.body)
	}
	// Refusals, in words.
	cases := []struct {
		name, token, file string
		content           []byte
		status            int
		want              string
	}{
		{"anonymous", "", "a.csv", stationsSample(), 401, ""},
		{"header only", staff, "a.csv", []byte("名称,数量\n"), 400, "没有数据行"},
		{"unknown format", staff, "a.pdf", []byte("%PDF"), 400, "无法从文件名判断格式"},
		{"no file", staff, "", nil, 400, "请选择样例文件"},
		{"too large", staff, "big.csv", bytes.Repeat([]byte("a,b\n"), 8<<20+1), 413, "32 MiB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := post(c.token, "", c.file, c.content)
			if r.status != c.status || !strings.Contains(string(r.body), c.want) {
				t.Fatalf("%d %.300s", r.status, r.body)
			}
		})
	}
	// A developer account keeps no catalog.
	if got := e.do("GET", "/api/v1/catalog/resources", staff, nil, nil).json(t)["total"].(float64); got != 0 {
		t.Fatalf("a draft stored %v entries", got)
	}
}

func TestConsoleDraftFillsTheItems(t *testing.T) {
	e := sqliteEnv(t)
	staff := e.login("jt_staff", "transport-pass-1")
	form := entryForm("JTJ-201")
	form.Set("op", "draft")
	postDraft := func(path string, v url.Values, file string, content []byte, lang string) resp {
		body, ct := sampleMultipart(t, v, "sample", file, content)
		cookie := "opendata_csrf=tok123"
		if lang != "" {
			cookie += "; opendata_lang=" + lang
		}
		return e.do("POST", path, staff, body, map[string]string{"Content-Type": ct, "Cookie": cookie})
	}
	// Without the CSRF token nothing happens.
	if r := postDraft("/console/resources/new/draft", form, "stations.csv", stationsSample(), ""); r.status != 403 {
		t.Fatalf("draft without CSRF: %d", r.status)
	}
	r := postDraft("/console/resources/new/draft?csrf_token=tok123", form, "stations.csv", stationsSample(), "")
	body := string(r.body)
	if r.status != 200 {
		t.Fatalf("draft: %d %s", r.status, body)
	}
	for _, want := range []string{
		`name="items.0.name" value="站点编号"`, `name="items.4.name" value="状态"`, `name="items_count" value="5"`,
		`name="items.0.key" value="1" checked`, `name="items.2.personal" value="1" checked`, `name="items.4.enum" value="停用、在建、在用"`,
		`>全市公交线路及站数</textarea>`, // the rest of the form is kept
		"已根据“stations.csv”的 24 行数据生成 5 个信息项的建议", "表头“负责人”表明是个人信息（姓名）", "建议的记录标识：站点编号",
		"<code>S07</code>：第 8、13 行",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("proposal lacks %q", want)
		}
	}
	noRawText(t, "draft form", r.body)
	// The check of the phone column is selected.
	if !strings.Contains(body, `<select id="i3-check" name="items.3.check"><option value="">`) ||
		!strings.Contains(body[strings.Index(body, `id="i3-check"`):], `<option value="mobile" selected>`) {
		t.Errorf("phone check not proposed")
	}
	// No file: said next to the box, the form kept.
	r = postDraft("/console/resources/new/draft?csrf_token=tok123", form, "", nil, "")
	if r.status != 422 || !strings.Contains(string(r.body), "请选择样例文件") || !strings.Contains(string(r.body), `value="线路编号"`) {
		t.Fatalf("draft without a file: %d", r.status)
	}
	// A file that cannot be read: said in English too.
	r = postDraft("/console/resources/new/draft?csrf_token=tok123", form, "a.csv", []byte("名称,数量\n"), "en")
	if r.status != 422 || !strings.Contains(string(r.body), "the file has a header but no data rows") {
		t.Fatalf("unreadable sample: %d", r.status)
	}
	noRawText(t, "draft form (en)", r.body)
	// Nothing was saved.
	if got := e.do("GET", "/api/v1/catalog/resources", staff, nil, nil).json(t)["total"].(float64); got != 0 {
		t.Fatalf("a draft stored %v entries", got)
	}
	// The edit form proposes too, keeping the revision.
	created := e.postForm(staff, "/console/resources/new", entryForm("JTJ-202"), "")
	if created.status != 200 {
		t.Fatalf("create: %d", created.status)
	}
	list := e.do("GET", "/api/v1/catalog/resources", staff, nil, nil).json(t)["resources"].([]any)
	id := int64(list[0].(map[string]any)["id"].(float64))
	edit := entryForm("JTJ-202")
	edit.Set("revision", "1")
	r = postDraft(fmt.Sprintf("/console/resources/%d/draft?csrf_token=tok123", id), edit, "stations.csv", stationsSample(), "")
	if r.status != 200 || !strings.Contains(string(r.body), `name="revision" value="1"`) || !strings.Contains(string(r.body), `name="items.0.name" value="站点编号"`) {
		t.Fatalf("edit draft: %d", r.status)
	}
	other := e.login("wj_staff", "health-pass-123")
	body2, ct := sampleMultipart(t, edit, "sample", "stations.csv", stationsSample())
	if r := e.do("POST", fmt.Sprintf("/console/resources/%d/draft?csrf_token=tok123", id), other, body2, map[string]string{"Content-Type": ct, "Cookie": "opendata_csrf=tok123"}); r.status != 403 {
		t.Fatalf("other department's draft: %d", r.status)
	}
}
