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

// The dataset page's curl example, run as copied (its URL, its -d and
// --data-urlencode parameters), returns rows; every language filters on
// the same real value, readable (not percent-encoded).
func TestDatasetAPIExampleReturnsRows(t *testing.T) {
	e := gatewayEnv(t, nil)
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	id := e.entryWithData(staff, admin, "EX-1", "unconditional", "unconditional")
	page := string(e.page("", fmt.Sprintf("/datasets/%d", id), "").body)
	m := regexp.MustCompile(`(?s)<code id="ex-curl">(.*?)</code>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no curl example on the page")
	}
	curl := html.UnescapeString(m[1])
	if strings.Contains(curl, "%") || strings.Contains(curl, "…") {
		t.Errorf("curl example not readable: %s", curl)
	}
	raw := regexp.MustCompile(`curl -G "([^"]+)"`).FindStringSubmatch(curl)
	if raw == nil {
		t.Fatalf("no URL in %q", curl)
	}
	u, err := url.Parse(raw[1])
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{}
	for _, p := range regexp.MustCompile(`(?:-d|--data-urlencode) "?([^"\n]+?)"?(?: \\|$)`).FindAllStringSubmatch(curl, -1) {
		k, v, _ := strings.Cut(p[1], "=")
		q.Add(k, v)
	}
	if !strings.Contains(q.Get("filter"), " eq '") {
		t.Fatalf("curl example without a real filter: %q", curl)
	}
	r := e.do("GET", u.Path+"?"+q.Encode(), "", nil, nil)
	if r.status != 200 {
		t.Fatalf("example call: %d %s", r.status, r.body)
	}
	var res struct{ Records []map[string]any }
	if err := json.Unmarshal(r.body, &res); err != nil || len(res.Records) < 1 {
		t.Fatalf("example returned no rows: %s", r.body)
	}
	for _, lang := range []string{"ex-python", "ex-js", "ex-go"} {
		m := regexp.MustCompile(`(?s)<code id="` + lang + `">(.*?)</code>`).FindStringSubmatch(page)
		if m == nil || !strings.Contains(html.UnescapeString(m[1]), q.Get("filter")) {
			t.Errorf("%s example lacks the filter %q", lang, q.Get("filter"))
		}
	}
	if !strings.Contains(page, `data-copy="ex-curl"`) || !strings.Contains(page, `/static/copy.js`) {
		t.Error("no copy buttons")
	}
}
