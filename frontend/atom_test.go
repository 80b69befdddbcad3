package frontend

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

// parsedFeed is an Atom feed as a reader parses it.
type parsedFeed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	Lang    string   `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	ID      string   `xml:"http://www.w3.org/2005/Atom id"`
	Title   string   `xml:"http://www.w3.org/2005/Atom title"`
	Updated string   `xml:"http://www.w3.org/2005/Atom updated"`
	Links   []struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	} `xml:"http://www.w3.org/2005/Atom link"`
	Entries []struct {
		ID        string `xml:"http://www.w3.org/2005/Atom id"`
		Title     string `xml:"http://www.w3.org/2005/Atom title"`
		Summary   string `xml:"http://www.w3.org/2005/Atom summary"`
		Updated   string `xml:"http://www.w3.org/2005/Atom updated"`
		Published string `xml:"http://www.w3.org/2005/Atom published"`
		Link      struct {
			Href string `xml:"href,attr"`
		} `xml:"http://www.w3.org/2005/Atom link"`
	} `xml:"http://www.w3.org/2005/Atom entry"`
}

func wellFormed(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, b)
		}
	}
}

func TestFeedXML(t *testing.T) {
	at := time.Date(2026, 3, 1, 8, 30, 0, 0, time.FixedZone("CST", 8*3600))
	f := Feed{ID: "https://data.example.cn/feeds/datasets.atom", Title: "开放数据 <新> & 更新", Lang: "zh-CN",
		Self: "https://data.example.cn/feeds/datasets.atom", Alternate: "https://data.example.cn/", Updated: at, Author: "某市",
		Entries: []FeedEntry{{ID: "https://data.example.cn/datasets/7", Title: "公交站点 \"A&B\"", Summary: "</summary><x>",
			Link: "https://data.example.cn/datasets/7", Author: "市交通运输局", Updated: at, Published: at.Add(-time.Hour), Categories: []string{"交通"}}}}
	b, err := f.XML()
	if err != nil {
		t.Fatal(err)
	}
	wellFormed(t, b)
	var p parsedFeed
	if err := xml.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.ID != f.ID || p.Title != f.Title || p.Lang != "zh-CN" || p.Updated != "2026-03-01T00:30:00Z" || len(p.Links) != 2 || p.Links[0].Rel != "self" {
		t.Errorf("feed: %+v", p)
	}
	if len(p.Entries) != 1 {
		t.Fatalf("entries: %+v", p.Entries)
	}
	e := p.Entries[0]
	if e.Title != `公交站点 "A&B"` || e.Summary != "</summary><x>" || e.Link.Href != "https://data.example.cn/datasets/7" ||
		e.Published != "2026-02-28T23:30:00Z" || e.Updated != "2026-03-01T00:30:00Z" {
		t.Errorf("entry: %+v", e)
	}
	if !strings.HasPrefix(string(b), "<?xml") || !strings.Contains(string(b), `xmlns="http://www.w3.org/2005/Atom"`) {
		t.Errorf("head: %.200s", b)
	}
	// No entries: still a feed, dated.
	b, err = Feed{ID: "x:y", Title: "t", Updated: at}.XML()
	if err != nil {
		t.Fatal(err)
	}
	wellFormed(t, b)
	if strings.Contains(string(b), "<entry") || !strings.Contains(string(b), "<updated>2026-03-01T00:30:00Z</updated>") {
		t.Errorf("empty feed: %s", b)
	}
}
