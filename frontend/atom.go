package frontend

import (
	"bytes"
	"encoding/xml"
	"time"
)

// AtomType is the media type of an Atom feed (RFC 4287).
const AtomType = "application/atom+xml; charset=utf-8"

// Feed is an Atom feed as the portal publishes it: plain values, in the
// reader's language already.
type Feed struct {
	ID, Title, Subtitle string
	Lang                string
	Self, Alternate     string // the feed's own URL and the page it follows
	Updated             time.Time
	Author              string
	Entries             []FeedEntry
}

// FeedEntry is one entry of a feed.
type FeedEntry struct {
	ID, Title, Summary string
	Link               string // the dataset page
	Author             string
	Categories         []string
	Updated            time.Time
	Published          time.Time // zero: not said
}

type atomFeed struct {
	XMLName  xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Lang     string      `xml:"http://www.w3.org/XML/1998/namespace lang,attr,omitempty"`
	ID       string      `xml:"id"`
	Title    atomText    `xml:"title"`
	Subtitle *atomText   `xml:"subtitle,omitempty"`
	Updated  string      `xml:"updated"`
	Author   *atomPerson `xml:"author,omitempty"`
	Links    []atomLink  `xml:"link"`
	Entries  []atomEntry `xml:"entry"`
}

type atomText struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomCategory struct {
	Term string `xml:"term,attr"`
}

type atomEntry struct {
	ID         string         `xml:"id"`
	Title      atomText       `xml:"title"`
	Updated    string         `xml:"updated"`
	Published  string         `xml:"published,omitempty"`
	Author     *atomPerson    `xml:"author,omitempty"`
	Links      []atomLink     `xml:"link"`
	Categories []atomCategory `xml:"category"`
	Summary    *atomText      `xml:"summary,omitempty"`
}

func atomTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// XML encodes the feed: every text escaped by encoding/xml. A feed without
// entries is dated by its Updated (a feed must say when it changed).
func (f Feed) XML() ([]byte, error) {
	a := atomFeed{Lang: f.Lang, ID: f.ID, Title: atomText{"text", f.Title}, Updated: atomTime(f.Updated),
		Links: []atomLink{{Rel: "self", Type: "application/atom+xml", Href: f.Self}, {Rel: "alternate", Type: "text/html", Href: f.Alternate}}}
	if f.Subtitle != "" {
		a.Subtitle = &atomText{"text", f.Subtitle}
	}
	if f.Author != "" {
		a.Author = &atomPerson{f.Author}
	}
	for _, e := range f.Entries {
		ae := atomEntry{ID: e.ID, Title: atomText{"text", e.Title}, Updated: atomTime(e.Updated),
			Links: []atomLink{{Rel: "alternate", Type: "text/html", Href: e.Link}}}
		if !e.Published.IsZero() {
			ae.Published = atomTime(e.Published)
		}
		if e.Author != "" {
			ae.Author = &atomPerson{e.Author}
		}
		if e.Summary != "" {
			ae.Summary = &atomText{"text", e.Summary}
		}
		for _, c := range e.Categories {
			ae.Categories = append(ae.Categories, atomCategory{c})
		}
		a.Entries = append(a.Entries, ae)
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(a); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
