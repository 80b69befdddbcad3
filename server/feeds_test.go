package server_test

import (
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"opendata/blob"
	"opendata/config"
	"opendata/db/dbtest"
)

// atomFeed is a feed as a reader parses it back.
type atomFeed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"http://www.w3.org/2005/Atom id"`
	Title   string   `xml:"http://www.w3.org/2005/Atom title"`
	Updated string   `xml:"http://www.w3.org/2005/Atom updated"`
	Entries []struct {
		ID      string `xml:"http://www.w3.org/2005/Atom id"`
		Title   string `xml:"http://www.w3.org/2005/Atom title"`
		Updated string `xml:"http://www.w3.org/2005/Atom updated"`
		Author  string `xml:"http://www.w3.org/2005/Atom author>name"`
		Link    struct {
			Href string `xml:"href,attr"`
		} `xml:"http://www.w3.org/2005/Atom link"`
	} `xml:"http://www.w3.org/2005/Atom entry"`
}

func (f atomFeed) titles() string {
	var out []string
	for _, e := range f.Entries {
		out = append(out, e.Title)
	}
	return strings.Join(out, "|")
}

// feed reads an Atom feed: its type, that it is well-formed, and parsed.
func (e *env) feed(path string) (atomFeed, string) {
	e.t.Helper()
	r := e.do("GET", path, "", nil, nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/atom+xml") {
		e.t.Fatalf("GET %s: %d %s %.300s", path, r.status, r.header.Get("Content-Type"), r.body)
	}
	d := xml.NewDecoder(strings.NewReader(string(r.body)))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			e.t.Fatalf("GET %s: not well-formed: %v", path, err)
		}
	}
	var f atomFeed
	if err := xml.Unmarshal(r.body, &f); err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	for _, en := range f.Entries {
		if en.ID == "" || en.Updated == "" || en.Title == "" || !strings.HasPrefix(en.Link.Href, "http") {
			e.t.Errorf("GET %s: incomplete entry %+v", path, en)
		}
	}
	return f, string(r.body)
}

// The Atom feeds list what the public sees: the open catalog's entries
// (no record values, not even of the data open on application), a
// dataset's published versions; an unpublished entry never, a withdrawn one
// no longer. Pages name their feed in the head and show a link.
func TestFeeds(t *testing.T) {
	bs, err := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, dbtest.SQLite(t), bs, func(c *config.Config) { c.MinNoticeDays = 0 })
	admin := e.login("admin", "bureau-secret-1")
	staff := e.login("jt_staff", "transport-pass-1")
	secret := "站点编号,站点名称,日均客流,负责人身份证\r\n1,绝密站点甲,10,11010519491231002X\r\n"
	mk := func(code, name, nameEn, open string, publish bool) int64 {
		entry := busEntry(e.bus)
		entry["code"], entry["name"], entry["name_en"], entry["open_type"] = code, name, nameEn, open
		if open == "on_application" {
			entry["open_condition"] = "科研机构说明用途后申请"
		}
		r := e.do("POST", "/api/v1/catalog/resources", staff, entry, nil)
		if r.status != 201 {
			t.Fatalf("create %s: %d %s", code, r.status, r.body)
		}
		id := int64(r.json(t)["id"].(float64))
		r = e.upload(staff, id, "stops.csv", gbk(secret))
		if j := e.waitJob(staff, r.json(t)["job"].(map[string]any)["id"].(string)); j["status"] != "succeeded" {
			t.Fatalf("ingest %s: %v", code, j)
		}
		if publish {
			e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/submit", id), staff, nil, nil)
			if r := e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/versions/1/approve", id), admin, nil, nil); r.status != 200 {
				t.Fatalf("publish %s: %s", code, r.body)
			}
		}
		return id
	}
	open := mk("FEED-1", "公交站点开放", "Bus stops", "unconditional", true)
	onApp := mk("FEED-2", "公交站点依申请", "", "on_application", true)
	draft := mk("FEED-3", "公交站点草稿", "", "unconditional", false)

	f, body := e.feed("/feeds/datasets.atom")
	if got := f.titles(); !strings.Contains(got, "公交站点开放") || !strings.Contains(got, "公交站点依申请") || strings.Contains(got, "草稿") {
		t.Errorf("catalog feed: %q", got)
	}
	if strings.Contains(body, "绝密站点甲") || strings.Contains(body, "FEED-3") {
		t.Errorf("catalog feed shows records or an unpublished entry: %s", body)
	}
	if f.Entries[0].Author != "市交通运输局" || !strings.HasSuffix(f.Entries[0].Link.Href, fmt.Sprintf("/datasets/%d", onApp)) {
		t.Errorf("newest entry: %+v", f.Entries[0])
	}
	en, _ := e.feed("/feeds/datasets.atom?lang=en")
	if got := en.titles(); !strings.Contains(got, "Bus stops") || !strings.Contains(got, "公交站点依申请") || !strings.Contains(en.Title, "dataset updates") {
		t.Errorf("English feed: %q %q", en.Title, got)
	}
	if d, _ := e.feed("/departments/JTJ/feed.atom"); d.titles() != f.titles() {
		t.Errorf("department feed: %q", d.titles())
	}
	if d, _ := e.feed("/departments/WJW/feed.atom"); len(d.Entries) != 0 {
		t.Errorf("another department's feed: %q", d.titles())
	}
	for _, id := range []int64{open, onApp} {
		v, body := e.feed(fmt.Sprintf("/datasets/%d/feed.atom", id))
		if len(v.Entries) != 1 || !strings.Contains(v.Entries[0].Title, "1") || strings.Contains(body, "绝密站点甲") {
			t.Errorf("dataset %d feed: %s", id, body)
		}
	}
	for _, path := range []string{fmt.Sprintf("/datasets/%d/feed.atom", draft), "/departments/NOSUCH/feed.atom"} {
		if r := e.do("GET", path, "", nil, nil); r.status != 404 {
			t.Errorf("GET %s: %d", path, r.status)
		}
	}

	// Pages name their feeds.
	for path, feed := range map[string]string{"/": "/feeds/datasets.atom", "/departments/JTJ": "/departments/JTJ/feed.atom",
		fmt.Sprintf("/datasets/%d", open): fmt.Sprintf("/datasets/%d/feed.atom", open)} {
		page := string(e.page("", path, "").body)
		if !strings.Contains(page, `<link rel="alternate" type="application/atom+xml"`) || !strings.Contains(page, `href="`+feed+`"`) ||
			!strings.Contains(page, `class="feed" href="`+feed+`"`) {
			t.Errorf("%s does not name %s", path, feed)
		}
	}

	// A withdrawal that has taken effect takes the dataset out.
	if r := e.do("POST", fmt.Sprintf("/api/v1/catalog/resources/%d/withdrawal", open), admin,
		map[string]any{"reason": "数据已由新系统替代", "notice_days": 0}, nil); r.status != 200 {
		t.Fatalf("withdraw: %d %s", r.status, r.body)
	}
	if f, _ := e.feed("/feeds/datasets.atom"); strings.Contains(f.titles(), "公交站点开放") {
		t.Errorf("withdrawn dataset still in the feed: %q", f.titles())
	}
	if r := e.do("GET", fmt.Sprintf("/datasets/%d/feed.atom", open), "", nil, nil); r.status != 404 {
		t.Errorf("withdrawn dataset's feed: %d", r.status)
	}
}
