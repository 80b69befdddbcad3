package server_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var (
	// Go's, a driver's or a template's words.
	goText = regexp.MustCompile(`sql: |UNIQUE constraint|%!|<nil>|map\[|runtime error|pq: |SQLSTATE|dial tcp|context deadline|no rows in result set|invalid argument: |rate limit reached: |strconv\.|\bEOF\b|json: |cannot unmarshal|parsing time|Conversion Error|Binder Error`)
	// A message key: a catalog area, a dot, and more of the key.
	msgKey = regexp.MustCompile(`\b(err|error|entry|share|auth|console|portal|job|role|publish|audit|search|ingest|access|credential|workflow|catalog|review|gateway|signup|notice|dispute|period)\.[a-z_]+(\.[a-z_]+)*\b`)
	// An English sentence: four words in a row.
	english = regexp.MustCompile(`[A-Za-z]{2,}(?:[ ,;:'’-]+[A-Za-z]{2,}){3,}`)
	// Text a page declares English (the OpenAPI reference's summaries,
	// written in the spec) and code it shows as code (examples, API keys).
	declaredEN = regexp.MustCompile(`(?s)<(p|span|div|td) lang="en">.*?</(p|span|div|td)>`)
	asCode     = regexp.MustCompile(`(?s)<(script|style|pre|code|textarea|kbd|samp)\b.*?</(script|style|pre|code|textarea|kbd|samp)>`)
	tags       = regexp.MustCompile(`(?s)<[^>]*>`)
	hasHan     = regexp.MustCompile(`\p{Han}`)
	spaces     = regexp.MustCompile(`\s+`)
)

// visible is the text a reader sees on a page (not code samples).
func visible(body string) string {
	body = declaredEN.ReplaceAllString(body, " ")
	body = asCode.ReplaceAllString(body, " ")
	body = tags.ReplaceAllString(body, " ")
	return spaces.ReplaceAllString(html.UnescapeString(body), " ")
}

// readable names what a text shown to people must not hold in lang.
func readable(text, lang string) []string {
	var bad []string
	if strings.Contains(text, "‽") {
		bad = append(bad, "a missing message (‽)")
	}
	if m := goText.FindString(text); m != "" {
		bad = append(bad, fmt.Sprintf("Go or driver text %q", m))
	}
	if m := msgKey.FindString(text); m != "" {
		bad = append(bad, fmt.Sprintf("message key %q", m))
	}
	if lang == "zh-CN" {
		for _, m := range english.FindAllString(text, -1) {
			if !allowedEnglish(m) {
				bad = append(bad, fmt.Sprintf("English %q", m))
				break
			}
		}
	}
	return bad
}

// allowedEnglish are English runs that are names, not sentences: the
// formats, headers and libraries a developer types.
func allowedEnglish(s string) bool {
	for _, ok := range []string{"Authorization", "Bearer", "X-API-Key", "JSON", "CSV", "Parquet", "multipart", "DCAT", "OpenAPI", "UTF-8", "YYYY", "ETag", "If-Match", "equivalent", "holiday", "kind,term", "curl Python JavaScript", "contains prefix", "select, filter, sort", "agg, format, raw"} {
		if strings.Contains(s, ok) {
			return true
		}
	}
	return false
}

// TestEveryTextInTheReadersLanguage walks every GET route as every role,
// in Chinese and in English, and a set of API errors: no page and no API
// message holds a missing message, a message key or Go's error text, and
// no Chinese page or message holds an English sentence.
func TestEveryTextInTheReadersLanguage(t *testing.T) {
	e := sqliteEnv(t)
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	id := e.entryWithData(staff, admin, "LANG-1", "conditional", "unconditional")
	wj := e.login("wj_staff", "health-pass-123")
	dev, _ := signupDeveloper(t, e, admin, "lang@example.cn", "某研究所")
	// A share request and a dispute, so their pages have cards.
	e.do("POST", "/api/v1/share/requests", wj, map[string]any{"resource_id": id, "purpose": "核对就医站点的公交可达性", "columns": []string{}, "term_days": 30}, nil)
	e.do("POST", fmt.Sprintf("/api/v1/share/resources/%d/disputes", id), wj, map[string]any{"version": 1, "row_key": "站点编号=2",
		"column": "日均客流", "problem": "客流数字与人工计数不符", "evidence": "2024年3月人工计数记录"}, nil)
	fill := strings.NewReplacer(":id", fmt.Sprint(id), ":code", "JTJ", ":file", "open.csv", ":n", "1", ":job", "1", ":year", "2026", ":action", "approve", "*", "style.css")
	for _, lang := range []string{"zh-CN", "en"} {
		for who, tok := range map[string]string{"staff": staff, "other department": wj, "bureau": admin, "developer": dev, "anonymous": ""} {
			for _, rt := range e.routes {
				if rt[0] != "GET" || strings.HasPrefix(rt[1], "/static") || rt[1] == "/api/v1/openapi.yaml" || strings.Contains(rt[1], "/download") {
					continue
				}
				path := fill.Replace(rt[1])
				hdr := map[string]string{"Accept-Language": lang, "Cookie": "opendata_lang=" + lang}
				if tok != "" {
					hdr["Cookie"] += "; opendata_session=" + tok
				}
				r := e.do("GET", path, "", nil, hdr)
				text := ""
				switch {
				case strings.HasPrefix(r.header.Get("Content-Type"), "text/html"):
					text = visible(string(r.body))
				case r.status >= 400:
					text = errorText(r.body)
				default:
					continue // data a program reads, in the data's own words
				}
				for _, b := range readable(text, lang) {
					t.Errorf("%s, %s, GET %s (%d): %s", lang, who, path, r.status, b)
				}
			}
		}
		// Errors a client meets.
		for _, c := range []struct {
			method, path, token string
			body                any
			hdr                 map[string]string
		}{
			{"GET", "/api/v1/resources?q=" + url.QueryEscape(strings.Repeat("公", 300)), "", nil, nil},
			{"GET", "/api/v1/resources?sort=price", "", nil, nil},
			{"GET", "/api/v1/catalog/resources/abc", admin, nil, nil},
			{"GET", "/api/v1/catalog/resources/99999", admin, nil, nil},
			{"GET", "/api/v1/nosuch", "", nil, nil},
			{"POST", "/api/v1/catalog/resources", staff, "{not json", map[string]string{"Content-Type": "application/json"}},
			{"POST", "/api/v1/catalog/resources", staff, map[string]any{"code": "x"}, nil},
			{"POST", "/api/v1/catalog/resources", wj, busEntry(e.bus), nil},
			{"POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": "wrong-password"}, nil},
			{"GET", "/api/v1/catalog/resources", "forged-token", nil, nil},
			{"GET", fmt.Sprintf("/api/v1/share/resources/%d/data?purpose=x", id), dev, nil, nil},
			{"POST", "/console/catalog/new", staff, "code=x", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
			{"GET", "/datasets/999999", "", nil, nil},
			{"GET", "/datasets/abc", "", nil, nil},
			{"GET", fmt.Sprintf("/datasets/%d/download/secret.txt", id), "", nil, nil},
			// The records API's parameters: syntax, columns, values, paging.
			{"GET", records(id, "filter", "站点编号 eq"), "", nil, nil},
			{"GET", records(id, "filter", "(站点编号 eq 1"), "", nil, nil},
			{"GET", records(id, "filter", "站点编号 equals 1"), "", nil, nil},
			{"GET", records(id, "filter", "nope eq 1"), "", nil, nil},
			{"GET", records(id, "filter", "站点编号 eq abc"), "", nil, nil},
			{"GET", records(id, "filter", "站点名称 lt 'x"), "", nil, nil},
			{"GET", records(id, "filter", "站点编号 contains 1"), "", nil, nil},
			{"GET", records(id, "limit", "ten"), "", nil, nil},
			{"GET", records(id, "limit", "0"), "", nil, nil},
			{"GET", records(id, "sort", "nope"), "", nil, nil},
			{"GET", records(id, "agg", "median:站点编号"), "", nil, nil},
			{"GET", records(id, "format", "xml"), "", nil, nil},
			{"GET", records(id, "fliter", "x"), "", nil, nil},
			{"GET", records(id, "cursor", "garbage") + "&sort=站点编号", "", nil, nil},
			{"GET", "/api/v1/resources/99999/records", "", nil, nil},
			// Refusals and validation.
			{"POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/approve", id), staff, nil, nil},
			{"GET", "/api/v1/jobs/nosuch", staff, nil, nil},
			{"POST", "/api/v1/share/requests", wj, map[string]any{"resource_id": id, "columns": []string{"无此列"}, "term_days": 5000}, nil},
			{"POST", "/api/v1/share/requests", wj, "[1,", map[string]string{"Content-Type": "application/json"}},
		} {
			hdr := map[string]string{"Accept-Language": lang, "Cookie": "opendata_lang=" + lang}
			for k, v := range c.hdr {
				hdr[k] = v
			}
			r := e.do(c.method, c.path, c.token, c.body, hdr)
			if r.status < 400 {
				t.Errorf("%s %s: %d, want an error", c.method, c.path, r.status)
				continue
			}
			text := errorText(r.body)
			if strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
				text = visible(string(r.body))
			}
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s, %s %s (%d): says nothing", lang, c.method, c.path, r.status)
			}
			for _, b := range readable(text, lang) {
				t.Errorf("%s, %s %s (%d): %s", lang, c.method, c.path, r.status, b)
			}
			if lang == "en" && !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") && hasHan.MatchString(errorMessage(r.body)) {
				t.Errorf("en, %s %s: Chinese message %s", c.method, c.path, r.body)
			}
		}
	}
}

// records is the records API of dataset id with one parameter.
func records(id int64, name, value string) string {
	return fmt.Sprintf("/api/v1/resources/%d/records?%s=%s", id, name, url.QueryEscape(value))
}

// TestAPIErrorsSpeakTheLangParameter: ?lang= chooses the language of an
// API error over the Accept-Language header, and a records API error names
// its parameter in that language.
func TestAPIErrorsSpeakTheLangParameter(t *testing.T) {
	e := sqliteEnv(t)
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	id := e.entryWithData(staff, admin, "LANG-2", "conditional", "unconditional")
	for _, c := range []struct{ lang, header, want string }{
		{"en", "zh-CN", "at character 8: found the end of the filter; expected a value after eq"},
		{"zh-CN", "en", "第 8 个字符处：eq 后应为一个值，实为筛选条件的结尾"},
		{"", "en", "at character 8: found the end of the filter; expected a value after eq"},
		{"", "", "第 8 个字符处：eq 后应为一个值，实为筛选条件的结尾"},
	} {
		path := records(id, "filter", "站点编号 eq")
		if c.lang != "" {
			path += "&lang=" + c.lang
		}
		r := e.do("GET", path, "", nil, map[string]string{"Accept-Language": c.header})
		var a struct {
			Error struct {
				Detail string            `json:"detail"`
				Fields map[string]string `json:"fields"`
			} `json:"error"`
		}
		if err := json.Unmarshal(r.body, &a); err != nil || r.status != 400 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if a.Error.Fields["filter"] != c.want || a.Error.Detail != c.want {
			t.Errorf("lang=%q, Accept-Language %q: %s, want %q", c.lang, c.header, r.body, c.want)
		}
	}
}

// errorText is what an API error says to people: message, detail, fields.
func errorText(body []byte) string {
	var a struct {
		Error struct {
			Message string            `json:"message"`
			Detail  string            `json:"detail"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &a) != nil {
		return string(body)
	}
	s := a.Error.Message + " " + a.Error.Detail
	for _, v := range a.Error.Fields {
		s += " " + v
	}
	return s
}

func errorMessage(body []byte) string {
	var a struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	json.Unmarshal(body, &a)
	return a.Error.Message
}
