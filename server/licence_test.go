package server_test

import (
	"fmt"
	"strings"
	"testing"
)

// The dataset page and the DCAT export name the licence: the configured
// default, or the entry's own; the console form takes and checks it.
func TestLicenceOnPageAndInDCAT(t *testing.T) {
	e := sqliteEnv(t)
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	id := e.entryWithData(staff, admin, "LIC-1", "unconditional", "unconditional")

	page := e.page("", fmt.Sprintf("/datasets/%d", id), "")
	for _, want := range []string{"许可与使用条款", `<a href="https://creativecommons.org/licenses/by/4.0/" rel="license noopener" target="_blank">CC BY 4.0</a>`, "提供部门另有说明：引用请注明来源"} {
		if !strings.Contains(string(page.body), want) {
			t.Errorf("dataset page lacks %q", want)
		}
	}
	if r := e.do("GET", "/api/v1/catalog.jsonld", "", nil, nil); !strings.Contains(string(r.body), `"dct:license":{"@id":"https://creativecommons.org/licenses/by/4.0/","@type":"dct:LicenseDocument","dct:title":"CC BY 4.0"}`) {
		t.Errorf("DCAT without the default licence: %.600s", r.body)
	}

	// The entry's own licence.
	entry := busEntry(e.bus)
	entry["code"], entry["licence"], entry["licence_url"] = "LIC-1", "恩施市政府数据开放许可协议", "https://data.enshi.example/licence"
	if r := e.do("PUT", fmt.Sprintf("/api/v1/catalog/resources/%d", id), staff, entry, map[string]string{"If-Match": `"1"`}); r.status != 200 {
		t.Fatalf("edit: %d %s", r.status, r.body)
	}
	page = e.page("", fmt.Sprintf("/datasets/%d", id), "en")
	if !strings.Contains(string(page.body), `<a href="https://data.enshi.example/licence" rel="license noopener" target="_blank">恩施市政府数据开放许可协议</a>`) ||
		!strings.Contains(string(page.body), "Licence and terms of use") || strings.Contains(string(page.body), "CC BY 4.0") {
		t.Errorf("dataset page without the entry's licence")
	}
	r := e.do("GET", "/api/v1/catalog.jsonld", "", nil, nil)
	if strings.Count(string(r.body), `"dct:title":"恩施市政府数据开放许可协议"`) != 3 { // the dataset and its two distributions
		t.Errorf("DCAT without the entry's licence: %.800s", r.body)
	}

	// A licence address that is no web address is refused, in words.
	bad := entryForm("JTJ-301")
	bad.Set("licence", "X")
	bad.Set("licence_url", "javascript:alert(1)")
	if r := e.postForm(staff, "/console/resources/new", bad, ""); r.status != 422 || !strings.Contains(string(r.body), "须为 http:// 或 https:// 开头的完整地址") {
		t.Fatalf("bad licence address: %d", r.status)
	}
	good := entryForm("JTJ-302")
	good.Set("licence", "CC0 1.0")
	if r := e.postForm(staff, "/console/resources/new", good, ""); r.status != 200 {
		t.Fatalf("create with licence: %d", r.status)
	}
	list := e.do("GET", "/api/v1/catalog/resources?q=JTJ-302", staff, nil, nil).json(t)["resources"].([]any)
	found := false
	for _, x := range list {
		if m := x.(map[string]any); m["code"] == "JTJ-302" && m["licence"] == "CC0 1.0" {
			found = true
		}
	}
	if !found {
		t.Errorf("licence not stored: %v", list)
	}
}
