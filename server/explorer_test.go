package server_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The dataset page's table explorer is offered over the preview of data
// anyone may read, with each preview column and the records API; the
// filters it builds are the API's syntax; on-application data gets none.
func TestDatasetExplorer(t *testing.T) {
	e := sqliteEnv(t)
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	open := e.entryWithData(staff, admin, "EXP-1", "unconditional", "unconditional")
	onApp := e.entryWithData(staff, admin, "EXP-2", "unconditional", "on_application")

	page := string(e.page("", fmt.Sprintf("/datasets/%d", open), "").body)
	endpoint := fmt.Sprintf("/api/v1/resources/%d/records", open)
	for _, want := range []string{`id="explorer"`, `data-endpoint="` + endpoint + `"`, `src="/static/explore.js"`, `id="explore-table"`,
		`data-col="站点名称" data-kind="text"`, `data-col="日均客流" data-kind="number"`, `data-col="站点编号" data-kind="number"`,
		`aria-label="按站点名称排序"`, "舞阳坝"} {
		if !strings.Contains(page, want) {
			t.Errorf("open dataset page lacks %s", want)
		}
	}
	// The explorer starts hidden: without JavaScript the page is the static preview.
	if !strings.Contains(page, `class="explorer" hidden`) || !strings.Contains(page, `class="explore-filters" hidden`) {
		t.Error("explorer controls are not hidden until the script runs")
	}
	// What explore.js sends, read as anyone reads it.
	get := func(q url.Values, lang string) resp {
		return e.do("GET", endpoint+"?"+q.Encode(), "", nil, map[string]string{"Accept-Language": lang})
	}
	r := get(url.Values{"limit": {"20"}, "offset": {"0"}, "count": {"true"}, "sort": {"-日均客流"},
		"filter": {`"站点名称" contains '坝' and "日均客流" gt '900'`}}, "zh-CN")
	if r.status != 200 {
		t.Fatalf("explorer query: %d %s", r.status, r.body)
	}
	body := r.json(t)
	recs, _ := body["records"].([]any)
	if len(recs) != 2 || body["count"] != float64(2) || recs[0].(map[string]any)["站点名称"] != "舞阳坝" {
		t.Errorf("explorer query answered %s", r.body)
	}
	// A bad filter: the API's message in the reader's language, naming the parameter.
	for lang, word := range map[string]string{"zh-CN": "请求", "en": "request"} {
		r = get(url.Values{"filter": {`"站点名称" contans '坝'`}}, lang)
		if msg := errorMessage(r.body); r.status != 400 || !strings.Contains(strings.ToLower(msg), word) || !strings.Contains(errorText(r.body), "contans") {
			t.Errorf("%s bad filter: %d %s", lang, r.status, r.body)
		}
	}

	page = string(e.page("", fmt.Sprintf("/datasets/%d", onApp), "").body)
	if strings.Contains(page, `id="explorer"`) || strings.Contains(page, "/records\"") || strings.Contains(page, "explore.js") || strings.Contains(page, "舞阳坝") {
		t.Error("on-application dataset page offers the explorer or shows values")
	}
}

// TestExplorerInBrowser: on an open dataset's page the explorer pages the
// preview through the API, filters by a column, sorts, and shows the
// API's message on a bad filter.
func TestExplorerInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	e := sqliteEnv(t)
	id := publishBusStops(t, e)
	_, step, text := newBrowser(t, exe)
	waitText := func(sel, want string) string {
		t.Helper()
		var got string
		for i := 0; i < 100; i++ {
			if got = text(sel); strings.Contains(got, want) {
				return got
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: %q, want %q", sel, got, want)
		return ""
	}
	step("x1-explorer", chromedp.Navigate(fmt.Sprintf("%s/datasets/%d", e.url, id)), chromedp.WaitVisible(chromedp.CSS("#explorer")))
	waitText(".explore-status", "共 4 条")
	step("x2-filter", chromedp.SendKeys(chromedp.CSS(`input[data-col="站点名称"]`), "坝\r"))
	waitText(".explore-status", "共 2 条")
	if got := text("#explore-table tbody"); !strings.Contains(got, "舞阳坝") || strings.Contains(got, "人民广场") {
		t.Fatalf("filtered rows: %q", got)
	}
	step("x3-sort", chromedp.Click(chromedp.CSS(`button.sort[data-col="日均客流"]`)))
	waitText("#explore-table tbody tr:first-child", "土桥坝") // ascending: 950 before 1200.50
	step("x3-sort-desc", chromedp.Click(chromedp.CSS(`button.sort[data-col="日均客流"]`)))
	waitText("#explore-table tbody tr:first-child", "舞阳坝")
	step("x4-bad", chromedp.SendKeys(chromedp.CSS("#explore-expr"), "站点名称 eq"), chromedp.Click(chromedp.CSS(`.explore-form button[type=submit]`)))
	if got := waitText(".explore-error", "请求"); !strings.Contains(got, "：") {
		t.Fatalf("error shown: %q", got)
	}
}
