package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"opendata/catalog"
)

// TestEnglishNamesInEnglish: in English the pages that list datasets and
// departments show the English title and name where one is set, and the
// Chinese one where none is; in Chinese always the Chinese one.
func TestEnglishNamesInEnglish(t *testing.T) {
	e := sqliteEnv(t)
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	// JTJ has no English name; the first dataset has an English title.
	entry := busEntry(e.bus)
	entry["code"], entry["name"], entry["name_en"] = "EN-1", "公交站点英文", "Bus stops of the city"
	r := e.do("POST", "/api/v1/catalog/resources", staff, entry, nil)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	withEn := int64(r.json(t)["id"].(float64))
	r = e.upload(staff, withEn, "stops.csv", gbk(busStopsGBK))
	if j := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string)); j["status"] != "succeeded" {
		t.Fatalf("ingest: %v", j)
	}
	e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/submit", withEn), staff, nil, nil)
	if r := e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/approve", withEn), admin, nil, nil); r.status != 200 {
		t.Fatalf("publish: %s", r.body)
	}
	zhOnly := e.entryWithData(staff, admin, "EN-2", "conditional", "unconditional")
	// A department with an English name.
	if _, err := e.app.Catalog.CreateDepartment(context.Background(), catalog.Department{Code: "TJJ", Name: "市统计局", NameEn: "Statistics Bureau", Kind: "department"}); err != nil {
		t.Fatal(err)
	}
	get := func(path, lang, token string) string {
		hdr := map[string]string{"Cookie": "opendata_lang=" + lang}
		if token != "" {
			hdr["Cookie"] += "; opendata_session=" + token
		}
		r := e.do("GET", path, "", nil, hdr)
		if r.status != 200 {
			t.Fatalf("%s %s: %d", lang, path, r.status)
		}
		return visible(string(r.body))
	}
	for _, c := range []struct {
		path, token string
		en, zh      []string // shown in English, in Chinese
		notEn       []string // not shown in English
	}{
		{fmt.Sprintf("/datasets/%d", withEn), "", []string{"Bus stops of the city", "市交通运输局"}, []string{"公交站点英文"}, []string{"公交站点英文"}},
		{fmt.Sprintf("/datasets/%d", zhOnly), "", []string{"公交站点信息"}, []string{"公交站点信息"}, nil},
		{"/search", "", []string{"Bus stops of the city", "公交站点信息"}, []string{"公交站点英文", "公交站点信息"}, []string{"公交站点英文"}},
		{"/", "", []string{"Bus stops of the city"}, []string{"公交站点英文"}, []string{"公交站点英文"}},
		{"/departments/JTJ", "", []string{"市交通运输局", "Bus stops of the city"}, []string{"市交通运输局", "公交站点英文"}, []string{"公交站点英文"}},
		{"/departments/TJJ", "", []string{"Statistics Bureau"}, []string{"市统计局"}, []string{"市统计局"}},
		{"/departments", "", []string{"Statistics Bureau"}, []string{"市统计局"}, []string{"市统计局"}},
		{fmt.Sprintf("/console/resources/%d", withEn), staff, []string{"Bus stops of the city"}, []string{"公交站点英文"}, nil},
		{"/console", staff, []string{"Bus stops of the city"}, []string{"公交站点英文"}, nil},
	} {
		en, zh := get(c.path, "en", c.token), get(c.path, "zh-CN", c.token)
		for _, w := range c.en {
			if !strings.Contains(en, w) {
				t.Errorf("en %s: no %q", c.path, w)
			}
		}
		for _, w := range c.zh {
			if !strings.Contains(zh, w) {
				t.Errorf("zh %s: no %q", c.path, w)
			}
		}
		for _, w := range c.notEn {
			if strings.Contains(en, w) {
				t.Errorf("en %s: still shows %q", c.path, w)
			}
		}
	}
}
