package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"opendata/catalog"
	"opendata/frontend"
	"opendata/i18n"
	"opendata/publish"
)

// The Atom feeds of new and updated datasets: the whole catalog, one
// department's, one dataset's published versions. What goes in them is
// publish.CatalogFeed and publish.DatasetFeed; here they are put in the
// reader's language (?lang=, zh-CN by default) and encoded.

const (
	catalogFeedPath = "/feeds/datasets.atom"
)

func departmentFeedPath(code string) string {
	return "/departments/" + url.PathEscape(code) + "/feed.atom"
}
func datasetFeedPath(id int64) string { return fmt.Sprintf("/datasets/%d/feed.atom", id) }

// feedLink is a feed a page names in its head and shows as a link.
type feedLink struct {
	URL, Title string
}

// langQuery is the query a link carries to keep the reader's language
// (none for Chinese, the default).
func langQuery(l string) string {
	if l == i18n.EN {
		return "?lang=en"
	}
	return ""
}

func (s *Server) absURL(path string) string {
	return strings.TrimRight(s.app.Config.BaseURL, "/") + path
}

func (s *Server) writeFeed(c echo.Context, f frontend.Feed) error {
	b, err := f.XML()
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, frontend.AtomType, b)
}

// feedOf makes the Atom feed of items: each entry is a dataset, linked to
// its page, titled in the reader's language.
func (s *Server) feedOf(c echo.Context, l string, self, alternate, title string, items []publish.FeedItem) (frontend.Feed, error) {
	names, err := s.deptNamesIn(c.Request().Context(), l)
	if err != nil {
		return frontend.Feed{}, err
	}
	site := i18n.T(l, "site.name", nil)
	f := frontend.Feed{ID: s.absURL(self), Title: title, Lang: l, Self: s.absURL(self + langQuery(l)), Alternate: s.absURL(alternate + langQuery(l)),
		Author: site, Updated: feedEpoch}
	for _, it := range items {
		r := it.Resource
		page := fmt.Sprintf("/datasets/%d", r.ID)
		e := frontend.FeedEntry{ID: s.absURL(page), Title: r.NameIn(l), Summary: r.Summary, Link: s.absURL(page + langQuery(l)),
			Author: names[r.DepartmentID], Updated: it.Updated}
		if e.Author == "" {
			e.Author = site
		}
		if r.Domain != "" {
			e.Categories = append(e.Categories, i18n.T(l, "domain."+r.Domain, nil))
		}
		e.Categories = append(e.Categories, r.Keywords...)
		if it.Updated.After(f.Updated) {
			f.Updated = it.Updated
		}
		f.Entries = append(f.Entries, e)
	}
	return f, nil
}

// feedEpoch dates a feed with no entries (Atom requires a date): a fixed
// time, so an empty feed does not look changed on every read.
var feedEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func (s *Server) catalogFeed(c echo.Context) error {
	l := lang(c)
	items, err := s.app.Publish.CatalogFeed(c.Request().Context(), 0)
	if err != nil {
		return err
	}
	f, err := s.feedOf(c, l, catalogFeedPath, "/", i18n.T(l, "feed.catalog_title", map[string]string{"site": i18n.T(l, "site.name", nil)}), items)
	if err != nil {
		return err
	}
	f.Subtitle = i18n.T(l, "feed.catalog_subtitle", nil)
	return s.writeFeed(c, f)
}

func (s *Server) departmentFeed(c echo.Context) error {
	ctx := c.Request().Context()
	l := lang(c)
	d, err := s.app.Catalog.GetDepartmentByCode(ctx, c.Param("code"))
	if err != nil {
		return err
	}
	items, err := s.app.Publish.CatalogFeed(ctx, d.ID)
	if err != nil {
		return err
	}
	f, err := s.feedOf(c, l, departmentFeedPath(d.Code), "/departments/"+url.PathEscape(d.Code), i18n.T(l, "feed.department_title", map[string]string{"name": d.NameIn(l)}), items)
	if err != nil {
		return err
	}
	return s.writeFeed(c, f)
}

func (s *Server) datasetFeed(c echo.Context) error {
	ctx := c.Request().Context()
	l := lang(c)
	r, err := s.publicResource(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	vs, err := s.app.Publish.DatasetFeed(ctx, r)
	if err != nil {
		return err
	}
	d, err := s.app.Catalog.GetDepartment(ctx, r.DepartmentID)
	if err != nil {
		return err
	}
	name := r.NameIn(l)
	page := fmt.Sprintf("/datasets/%d", r.ID)
	f := frontend.Feed{ID: s.absURL(datasetFeedPath(r.ID)), Title: i18n.T(l, "feed.dataset_title", map[string]string{"name": name}), Lang: l,
		Self: s.absURL(datasetFeedPath(r.ID) + langQuery(l)), Alternate: s.absURL(page + langQuery(l)), Author: d.NameIn(l), Updated: publish.FeedUpdated(r)}
	for _, v := range vs {
		e := frontend.FeedEntry{ID: s.absURL(fmt.Sprintf("%s#v%d", page, v.Version.Number)),
			Title:   i18n.T(l, "feed.version_title", map[string]string{"name": name, "n": fmt.Sprint(v.Version.Number)}),
			Summary: i18n.T(l, "feed.version_summary", map[string]string{"rows": frontend.Num(v.Version.RowsStored), "score": fmt.Sprintf("%.1f", v.Version.QualityScore)}),
			Link:    s.absURL(page + langQuery(l) + "#versions"), Updated: v.Published, Published: v.Published}
		if v.Published.After(f.Updated) {
			f.Updated = v.Published
		}
		f.Entries = append(f.Entries, e)
	}
	return s.writeFeed(c, f)
}

// catalogFeedLink and the others are the feeds pages name.
func catalogFeedLink(l string) feedLink {
	return feedLink{URL: catalogFeedPath + langQuery(l), Title: i18n.T(l, "feed.catalog_title", map[string]string{"site": i18n.T(l, "site.name", nil)})}
}

func departmentFeedLink(l string, d catalog.Department) feedLink {
	return feedLink{URL: departmentFeedPath(d.Code) + langQuery(l), Title: i18n.T(l, "feed.department_title", map[string]string{"name": d.NameIn(l)})}
}

func datasetFeedLink(l string, r catalog.Resource) feedLink {
	return feedLink{URL: datasetFeedPath(r.ID) + langQuery(l), Title: i18n.T(l, "feed.dataset_title", map[string]string{"name": r.NameIn(l)})}
}
