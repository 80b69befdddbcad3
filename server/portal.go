package server

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"opendata/access"
	"opendata/auth"
	"opendata/catalog"
	"opendata/csvsafe"
	"opendata/errs"
	"opendata/frontend"
	"opendata/i18n"
	"opendata/ingest"
	"opendata/logs"
	"opendata/publish"
	"opendata/search"
	"opendata/sharing"
)

// page is what every portal template gets.
type page struct {
	Lang      string
	Title     string
	User      *auth.User
	Developer *auth.User
	CSRF      string
	OtherLang string
	Q         string
	Flash     string
	Data      any
	// Feeds are the Atom feeds the page names in its head, its own first
	// (shown as a link on the page); every page names the catalog's.
	Feeds []feedLink
}

const langCookie = "opendata_lang"

// lang is the visitor's language: ?lang= (remembered in a cookie), then
// the cookie, then Chinese.
func lang(c echo.Context) string {
	if l := c.QueryParam("lang"); l != "" {
		l = i18n.Lang(l)
		c.SetCookie(&http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 86400, SameSite: http.SameSiteLaxMode, Secure: isSecure(c)})
		return l
	}
	if ck, err := c.Cookie(langCookie); err == nil {
		return i18n.Lang(ck.Value)
	}
	return i18n.ZH
}

func otherLangURL(c echo.Context, l string) string {
	u := *c.Request().URL
	q := u.Query()
	if l == i18n.EN {
		q.Set("lang", "zh-CN")
	} else {
		q.Set("lang", "en")
	}
	u.RawQuery = q.Encode()
	return u.RequestURI()
}

// ensureCSRFCookie gives every visitor a CSRF token (double-submit), so
// forms work before login too.
func ensureCSRFCookie(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, err := c.Cookie(csrfCookie); err != nil && !strings.HasPrefix(c.Request().URL.Path, "/api/") {
			tok := setCSRFCookie(c)
			c.Request().AddCookie(&http.Cookie{Name: csrfCookie, Value: tok})
		}
		return next(c)
	}
}

func (s *Server) newPage(c echo.Context, title string, data any) page {
	l := lang(c)
	p := page{Lang: l, Title: title, OtherLang: otherLangURL(c, l), Data: data, Feeds: []feedLink{catalogFeedLink(l)}}
	if u, ok := c.Get(ctxUser).(auth.User); ok {
		p.User = &u
	}
	if u, ok := developer(c); ok {
		p.Developer = &u
	}
	if ck, err := c.Cookie(csrfCookie); err == nil {
		p.CSRF = ck.Value
	}
	if f := c.QueryParam("done"); f != "" {
		key := "console.done"
		if k := "console.done_" + f; i18n.Has(k) {
			key = k // what was done, when the page says ("created", "saved")
		}
		p.Flash = i18n.T(l, key, nil)
	}
	return p
}

func (s *Server) render(c echo.Context, status int, name string, p page) error {
	c.Response().Header().Set(echo.HeaderContentType, "text/html; charset=utf-8")
	c.Response().WriteHeader(status)
	return s.pages.Render(c.Response(), name, p)
}

// isPortal tells HTML pages from the JSON API.
func isPortal(path string) bool {
	return !strings.HasPrefix(path, "/api/") && path != "/healthz" && path != "/readyz"
}

func (s *Server) bindPortal(e *echo.Echo) {
	e.GET("/static/*", echo.WrapHandler(frontend.Static()))
	e.GET("/", s.home)
	e.GET("/search", s.searchPage)
	e.GET("/datasets/:id", s.datasetPage)
	e.GET("/datasets/:id/feed.atom", s.datasetFeed)
	e.GET(catalogFeedPath, s.catalogFeed)
	e.POST("/datasets/:id/disputes", s.datasetDispute)
	e.GET("/datasets/:id/download/:file", s.download)
	e.GET("/departments", s.departmentsPage)
	e.GET("/departments/:code", s.departmentPage)
	e.GET("/departments/:code/feed.atom", s.departmentFeed)
	e.GET("/login", s.loginPage)
	e.POST("/login", s.loginForm)
	e.POST("/logout", s.logoutForm)
	s.bindConsole(e)
	s.bindAccount(e)
}

// deptNames are the departments' names by code in language l; a page that
// labels departments fails with the lookup rather than show empty labels.
func (s *Server) deptNames(ctx context.Context, l string) (map[string]string, error) {
	ds, err := s.app.Catalog.ListDepartments(ctx)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, d := range ds {
		m[d.Code] = d.NameIn(l)
	}
	return m, nil
}

type labeled struct {
	Value, Label string
	Count        int
}

func (s *Server) home(c echo.Context) error {
	ctx := c.Request().Context()
	all, degraded, err := s.app.Publish.Search(ctx, search.Query{PerPage: 6, Sort: search.SortNewest})
	if err != nil {
		return err
	}
	popular, _, err := s.app.Publish.Search(ctx, search.Query{PerPage: 6, Sort: search.SortDownloads})
	if err != nil {
		return err
	}
	names, err := s.deptNames(ctx, lang(c))
	if err != nil {
		return err
	}
	var depts []labeled
	for _, f := range all.Facets["department"] {
		depts = append(depts, labeled{f.Value, names[f.Value], f.Count})
	}
	data := map[string]any{"Total": all.Total, "Domains": all.Facets["domain"], "Newest": all.Hits, "Popular": popular.Hits,
		"Departments": depts, "Degraded": degraded}
	return s.render(c, http.StatusOK, "home", s.newPage(c, "", data))
}

type facetValueView struct {
	Label  string
	Count  int
	URL    string
	Active bool
}

type facetView struct {
	Title  string
	Values []facetValueView
}

type hitView struct {
	ID                                         string
	Title, Summary                             any
	Department, Domain, OpenType, UpdatePeriod string
	Formats                                    string
	Updated                                    time.Time
	Rows, Downloads                            int64
	Keywords                                   []facetValueView
}

type chipView struct {
	Field, Label, URL string
}

// highlightWords are the words a result's text is marked with: those the
// search matched on, or the query's own when the backend says nothing.
func highlightWords(res search.Result, text string) []string {
	if len(res.Words) > 0 {
		return append(res.Words, search.Terms(text)...)
	}
	return search.Terms(text)
}

// parseSearch reads the search parameters shared by the page and the API.
func parseSearch(c echo.Context) search.Query {
	q := search.Query{Text: c.QueryParam("q"), Sort: c.QueryParam("sort"), Filters: map[string][]string{}}
	q.Page, _ = strconv.Atoi(c.QueryParam("page"))
	q.PerPage, _ = strconv.Atoi(c.QueryParam("per_page"))
	params := c.QueryParams()
	for _, f := range search.FacetFields {
		for _, v := range params[f] {
			if v != "" {
				q.Filters[f] = append(q.Filters[f], v)
			}
		}
	}
	return q
}

func (s *Server) searchPage(c echo.Context) error {
	ctx := c.Request().Context()
	l := lang(c)
	q := parseSearch(c)
	raw := c.QueryParam("q")
	if err := q.Normalize(); err != nil {
		return err
	}
	res, degraded, err := s.app.Publish.Search(ctx, q)
	if err != nil {
		return err
	}
	names, err := s.deptNames(ctx, lang(c))
	if err != nil {
		return err
	}
	base := url.Values{}
	if raw != "" {
		base.Set("q", raw)
	}
	for f, vs := range q.Filters {
		for _, v := range vs {
			base.Add(f, v)
		}
	}
	if q.Sort != search.SortRelevance {
		base.Set("sort", q.Sort)
	}
	link := func(mod func(v url.Values)) string {
		v := url.Values{}
		for k, vs := range base {
			v[k] = append([]string{}, vs...)
		}
		mod(v)
		return "/search?" + v.Encode()
	}
	facetLabel := func(f, v string) string {
		switch f {
		case "department":
			if n := names[v]; n != "" {
				return n
			}
			return v
		case "format":
			return strings.ToUpper(v)
		case "keyword":
			return v
		}
		return i18n.T(l, f+"."+v, nil)
	}
	toggle := func(field, value string, active bool) string {
		return link(func(v url.Values) {
			v.Del("page")
			if active {
				var keep []string
				for _, x := range v[field] {
					if x != value {
						keep = append(keep, x)
					}
				}
				v[field] = keep
			} else {
				v.Add(field, value)
			}
		})
	}
	var facets []facetView
	for _, f := range search.FacetFields {
		fv := facetView{Title: "facet." + f}
		for i, val := range res.Facets[f] {
			active := slices.Contains(q.Filters[f], val.Value)
			if f == "keyword" && i >= 15 && !active {
				continue // the most frequent keywords, and any selected
			}
			fv.Values = append(fv.Values, facetValueView{Label: facetLabel(f, val.Value), Count: val.Count, Active: active, URL: toggle(f, val.Value, active)})
		}
		if len(fv.Values) > 0 {
			facets = append(facets, fv)
		}
	}
	// Removable chips for every selected value.
	var chips []chipView
	for _, f := range search.FacetFields {
		for _, v := range q.Filters[f] {
			chips = append(chips, chipView{Field: i18n.T(l, "facet."+f, nil), Label: facetLabel(f, v), URL: toggle(f, v, true)})
		}
	}
	words := highlightWords(res, q.Text)
	var hits []hitView
	for _, h := range res.Hits {
		hv := hitView{ID: h.ID, Title: search.HighlightTerms(h.TitleIn(l), words), Summary: search.HighlightTerms(h.Summary, words),
			Department: h.DepartmentIn(l), Domain: h.Domain, OpenType: h.OpenType, UpdatePeriod: h.UpdatePeriod,
			Formats: strings.ToUpper(strings.Join(h.Format, " · ")), Updated: h.Updated, Rows: h.Rows, Downloads: h.Downloads}
		if hv.Updated.Unix() <= 0 {
			hv.Updated = h.Published
		}
		for _, k := range h.Keywords {
			kn := search.NormalizeTerm(k)
			hv.Keywords = append(hv.Keywords, facetValueView{Label: k, Active: slices.Contains(q.Filters["keyword"], kn), URL: toggle("keyword", kn, slices.Contains(q.Filters["keyword"], kn))})
		}
		hits = append(hits, hv)
	}
	pages := int(math.Ceil(float64(res.Total) / float64(q.PerPage)))
	data := map[string]any{"Hits": hits, "Facets": facets, "Chips": chips, "Total": res.Total, "Page": q.Page, "Pages": pages, "Degraded": degraded,
		"Filtered": len(q.Filters) > 0, "ClearURL": link(func(v url.Values) {
			for _, f := range search.FacetFields {
				v.Del(f)
			}
			v.Del("page")
		})}
	if len(res.Expanded) > 0 {
		data["Also"] = strings.Join(res.Expanded, "、")
	}
	if res.Suggestion != "" {
		data["Suggestion"] = res.Suggestion
		data["SuggestionURL"] = "/search?" + url.Values{"q": {res.Suggestion}}.Encode()
	}
	if q.Page > 1 {
		data["PrevURL"] = link(func(v url.Values) { v.Set("page", strconv.Itoa(q.Page-1)) })
	}
	if q.Page < pages {
		data["NextURL"] = link(func(v url.Values) { v.Set("page", strconv.Itoa(q.Page+1)) })
	}
	var sorts []map[string]any
	for _, so := range []string{search.SortRelevance, search.SortNewest, search.SortDownloads} {
		so := so
		sorts = append(sorts, map[string]any{"Label": i18n.T(l, "sort."+so, nil), "Active": so == q.Sort, "URL": link(func(v url.Values) { v.Set("sort", so); v.Del("page") })})
	}
	data["Sorts"] = sorts
	var hidden []map[string]string
	for f, vs := range q.Filters {
		for _, v := range vs {
			hidden = append(hidden, map[string]string{"Name": f, "Value": v})
		}
	}
	sort.Slice(hidden, func(i, j int) bool {
		return hidden[i]["Name"]+hidden[i]["Value"] < hidden[j]["Name"]+hidden[j]["Value"]
	})
	data["Hidden"] = hidden
	p := s.newPage(c, i18n.T(l, "nav.search", nil), data)
	p.Q = raw
	return s.render(c, http.StatusOK, "search", p)
}

// publicResource loads a resource the open catalog shows, or NotFound.
func (s *Server) publicResource(ctx context.Context, idParam string) (catalog.Resource, error) {
	id, err := strconv.ParseInt(idParam, 10, 64)
	if err != nil || id <= 0 {
		return catalog.Resource{}, errs.NotFoundf("err.dataset_not_found", "id", idParam)
	}
	r, err := s.app.Catalog.GetResource(ctx, id)
	if err != nil && !errors.Is(err, errs.NotFound) {
		return catalog.Resource{}, err // an outage is not "no such dataset"
	}
	if err != nil || !r.IsPublic(time.Now()) {
		return catalog.Resource{}, errs.NotFoundf("err.dataset_not_found", "id", id)
	}
	return r, nil
}

// versionCache keeps parsed quality reports and previews of versions;
// versions never change, so entries never go stale.
type versionCache struct {
	mu sync.Mutex
	m  map[string]any
}

func (vc *versionCache) get(key string, load func() (any, error)) (any, error) {
	vc.mu.Lock()
	v, ok := vc.m[key]
	vc.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := load()
	if err != nil {
		return nil, err
	}
	vc.mu.Lock()
	if vc.m == nil || len(vc.m) > 1024 {
		vc.m = map[string]any{}
	}
	vc.m[key] = v
	vc.mu.Unlock()
	return v, nil
}

func (s *Server) quality(ctx context.Context, v catalog.Version) (*ingest.Report, error) {
	return s.review.Report(ctx, v)
}

type preview struct {
	Header []string
	Rows   [][]string
}

const previewRows = 20

// preview reads the first rows of open.csv: a small range read, whatever
// the size of the version.
func (s *Server) preview(ctx context.Context, v catalog.Version) (*preview, error) {
	out, err := s.cache.get(v.Prefix()+"preview", func() (any, error) {
		rc, err := s.app.Blobs.GetRange(ctx, v.Prefix()+"open.csv", 0, 256<<10)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			return nil, err
		}
		r := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "\uFEFF")))
		r.FieldsPerRecord, r.LazyQuotes = -1, true
		p := &preview{}
		for len(p.Rows) < previewRows {
			rec, err := r.Read()
			if err != nil {
				break // the range may end mid-record
			}
			// open.csv is written for spreadsheets (csvsafe.Cell); the page
			// shows the exact values.
			for i := range rec {
				rec[i] = csvsafe.Unescape(rec[i])
			}
			if p.Header == nil {
				p.Header = rec
				continue
			}
			p.Rows = append(p.Rows, rec)
		}
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	return out.(*preview), nil
}

type chartView struct {
	Name                     string
	Nulls, Invalid, Distinct int64
	Range                    string
	Histogram                *frontend.Buckets
	Top                      []frontend.Bar
}

// buckets and bars turn the statistics' histogram and top values into the
// charts' plain view types.
func buckets(h *ingest.Histogram) *frontend.Buckets {
	if h == nil {
		return nil
	}
	return &frontend.Buckets{Bounds: h.Bounds, Counts: h.Counts}
}

func bars(top []ingest.TopValue) []frontend.Bar {
	out := make([]frontend.Bar, len(top))
	for i, t := range top {
		out[i] = frontend.Bar{Label: t.Value, Count: t.Count}
	}
	return out
}

type example struct {
	ID, Lang, Code string
}

// examples are the dataset page's copy-ready API calls: a records query
// filtered on a real value of a real column (publish.ExampleFilter, from
// the preview's first row) that returns rows as copied, readable (curl
// encodes the filter itself), in curl, Python, JavaScript and Go; open
// data adds the downloads.
func (s *Server) examples(r catalog.Resource, v catalog.Version, p *preview) []example {
	base := strings.TrimRight(s.app.Config.BaseURL, "/")
	csvURL := fmt.Sprintf("%s/api/v1/resources/%d/download/open.csv", base, r.ID)
	records := fmt.Sprintf("%s/api/v1/resources/%d/records", base, r.ID)
	filter := ""
	if p != nil && len(p.Rows) > 0 {
		if col, val, ok := publish.ExampleFilter(v.Columns, p.Header, p.Rows[0]); ok {
			filter = col + " eq '" + val + "'"
		}
	}
	key, pyKey, jsKey, goKey := "", "", "", ""
	if r.OpenType != catalog.OpenUnconditional {
		key = " \\\n  -H \"X-API-Key: $OPENDATA_KEY\""
		pyKey = ",\n    headers={\"X-API-Key\": KEY}"
		jsKey = ", { headers: { \"X-API-Key\": KEY } }"
		goKey = "\nreq.Header.Set(\"X-API-Key\", key)"
	}
	curl := fmt.Sprintf("curl -G \"%s\"%s \\\n  -d limit=10", records, key)
	py := fmt.Sprintf("import requests\n\nr = requests.get(%q,\n    params={\"limit\": 10", records)
	js := fmt.Sprintf("const url = new URL(%q);\nurl.searchParams.set(\"limit\", \"10\");", records)
	goq := "q := url.Values{\"limit\": {\"10\"}"
	if filter != "" {
		curl += fmt.Sprintf(" \\\n  --data-urlencode \"filter=%s\"", filter)
		py += fmt.Sprintf(", \"filter\": %q", filter)
		js += fmt.Sprintf("\nurl.searchParams.set(\"filter\", %q);", filter)
		goq += fmt.Sprintf(", \"filter\": {%q}", filter)
	}
	py += "}" + pyKey + ")\npage = r.json()\nprint(page[\"records\"])"
	js += "\nconst page = await (await fetch(url" + jsKey + ")).json();\nconsole.log(page.records);"
	goq += fmt.Sprintf("}\nreq, _ := http.NewRequest(\"GET\", %q+\"?\"+q.Encode(), nil)%s\nresp, err := http.DefaultClient.Do(req)\nif err != nil {\n\tlog.Fatal(err)\n}\ndefer resp.Body.Close()\nvar page struct{ Records []map[string]any }\njson.NewDecoder(resp.Body).Decode(&page)", records, goKey)
	out := []example{{"ex-curl", "curl", curl}, {"ex-python", "Python", py}, {"ex-js", "JavaScript", js}, {"ex-go", "Go", goq}}
	if r.OpenType == catalog.OpenUnconditional {
		pq := fmt.Sprintf("%s/api/v1/resources/%d/download/open.parquet", base, r.ID)
		out = append(out, example{"ex-download", "CSV (curl)", fmt.Sprintf("curl -o %s-v%d.csv \"%s\"", r.Code, v.Number, csvURL)},
			example{"ex-pandas", "Python (pandas)", fmt.Sprintf("import pandas as pd\n\ndf = pd.read_csv(%q, encoding=\"utf-8-sig\")\n# or: df = pd.read_parquet(%q)\nprint(df.head())", csvURL, pq)})
	}
	return out
}

// explorerView is the table explorer over the preview: the records API
// of the open variant, and each preview column with its type.
type explorerView struct {
	Endpoint string
	Filter   string // a filter that returns rows (publish.ExampleFilter), to start from
	PageSize int
	Columns  []explorerColumn
}

type explorerColumn struct {
	Name string
	Kind string // "number", "date", "bool" or "text": how its filter input reads
}

// explorerOf is the explorer of version v's preview p (the caller checks
// the public may read the records: sharing.PublicRecords).
func explorerOf(r catalog.Resource, v catalog.Version, p *preview) *explorerView {
	types := map[string]catalog.ColumnType{}
	for _, c := range publish.OpenColumns(v) {
		types[c.Name] = c.Type
	}
	e := &explorerView{Endpoint: fmt.Sprintf("/api/v1/resources/%d/records", r.ID), PageSize: previewRows}
	for _, name := range p.Header {
		kind := "text"
		switch t := types[name]; {
		case t.Numeric():
			kind = "number"
		case t == catalog.ColDate || t == catalog.ColTimestamp:
			kind = "date"
		case t == catalog.ColBool:
			kind = "bool"
		}
		e.Columns = append(e.Columns, explorerColumn{Name: name, Kind: kind})
	}
	if len(p.Rows) > 0 {
		if col, val, ok := publish.ExampleFilter(v.Columns, p.Header, p.Rows[0]); ok {
			e.Filter = col + " eq '" + val + "'"
		}
	}
	return e
}

// mapView is the map of a dataset with longitude and latitude columns:
// the points of the preview's rows.
type mapView struct {
	Lon, Lat    string
	Points      []frontend.MapPoint
	Rows, Shown int
}

// mapOf is the map of version v's preview p, or nil when v has no
// coordinate columns (publish.GeoColumns) or p no valid point (the caller
// checks the public may read the records).
func mapOf(v catalog.Version, p *preview) *mapView {
	lon, lat, ok := publish.GeoColumns(v.Columns)
	if !ok {
		return nil
	}
	pts := publish.GeoPoints(p.Header, p.Rows, lon, lat, previewRows)
	if len(pts) == 0 {
		return nil
	}
	m := &mapView{Lon: lon, Lat: lat, Rows: len(p.Rows), Shown: len(pts)}
	for _, pt := range pts {
		m.Points = append(m.Points, frontend.MapPoint{Lon: pt.Lon, Lat: pt.Lat})
	}
	return m
}

type downloadView struct {
	URL, Label string
	Size       int64
}

// versionDownloads are the open files of every published version, by
// version number, as the download route serves them (?version=n).
func versionDownloads(r catalog.Resource, published []catalog.Version) map[int][]downloadView {
	out := map[int][]downloadView{}
	for _, v := range published {
		for _, name := range []string{"open.csv", "open.parquet"} {
			if o, ok := v.Object(name); ok {
				out[v.Number] = append(out[v.Number], downloadView{URL: fmt.Sprintf("/datasets/%d/download/%s?version=%d", r.ID, name, v.Number),
					Label: "ds.download_" + strings.TrimPrefix(name, "open."), Size: o.Size})
			}
		}
	}
	return out
}

func (s *Server) datasetPage(c echo.Context) error {
	r, err := s.publicResource(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	s.app.Counter.View(r.ID)
	return s.renderDataset(c, r, http.StatusOK, disputeInput{})
}

// disputeInput is what the dataset page's "report an error" form holds:
// empty, prefilled for a developer, or sent back with its errors.
type disputeInput struct {
	Name, Contact, Column, RowKey, Problem string
	Errors                                 errs.FieldErrors
}

// datasetDispute files the "report an error" form: a signed-in staff
// member reports for their department with their account, anyone else as
// a citizen with a name and a contact (sharing.ReportCitizenDispute). A
// form with errors comes back filled in, the errors beside their fields.
func (s *Server) datasetDispute(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.publicResource(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	v, err := s.app.Publish.PublicVersion(ctx, r, 0)
	if err != nil {
		return err
	}
	in := disputeInput{Name: c.FormValue("name"), Contact: c.FormValue("contact"), Column: c.FormValue("column"),
		RowKey: c.FormValue("row_key"), Problem: c.FormValue("problem")}
	n := sharing.NewDispute{Version: v.Number, RowKey: in.RowKey, Column: in.Column, Problem: in.Problem}
	if u, ok := c.Get(ctxUser).(auth.User); ok {
		in.Name, in.Contact = "", ""
		_, err = s.app.Sharing.ReportDispute(ctx, sharing.FromActor(u.Actor()), r, n)
	} else {
		_, err = s.app.Sharing.ReportCitizenDispute(ctx, sharing.Citizen{Name: in.Name, Contact: in.Contact}, r, n)
	}
	if errors.As(err, &in.Errors) {
		return s.renderDataset(c, r, http.StatusBadRequest, in)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/datasets/%d?done=dispute_sent#report", r.ID))
}

// disputeMode is how the dataset page offers the "report an error" form:
// to staff who may (they report with their account), to staff who may not
// (it says why), or to everyone else (a citizen's form).
func (s *Server) disputeMode(c echo.Context, r catalog.Resource) (string, error) {
	u, ok := c.Get(ctxUser).(auth.User)
	if !ok {
		return "citizen", nil
	}
	may, err := s.app.Sharing.CanReportDispute(c.Request().Context(), sharing.FromActor(u.Actor()), r)
	if err != nil || !may {
		return "cannot", err
	}
	return "staff", nil
}

// renderDataset renders a public dataset's page, its "report an error"
// form holding in.
func (s *Server) renderDataset(c echo.Context, r catalog.Resource, status int, in disputeInput) error {
	ctx := c.Request().Context()
	v, err := s.app.Publish.PublicVersion(ctx, r, 0)
	if err != nil {
		return err
	}
	d, err := s.app.Catalog.GetDepartment(ctx, r.DepartmentID)
	if err != nil {
		return err
	}
	data := map[string]any{"Resource": r, "Department": d, "Version": v, "Licence": s.licenceOf(r)}
	cols := v.Columns
	desc := map[string]string{}
	for _, it := range r.Items {
		desc[it.Name] = it.Description
	}
	for i := range cols {
		if cols[i].Description == "" {
			cols[i].Description = desc[cols[i].Name]
		}
	}
	data["Columns"] = cols
	if r.OpenType == catalog.OpenUnconditional {
		var dl []downloadView
		for _, name := range []string{"open.csv", "open.parquet"} {
			if o, ok := v.Object(name); ok {
				dl = append(dl, downloadView{URL: fmt.Sprintf("/datasets/%d/download/%s", r.ID, name), Label: "ds.download_" + strings.TrimPrefix(name, "open."), Size: o.Size})
			}
		}
		data["Downloads"] = dl
		if p, err := s.preview(ctx, v); err == nil {
			data["Preview"], data["Examples"] = p, s.examples(r, v, p)
			if sharing.PublicRecords(r, time.Now()) {
				data["Explorer"] = explorerOf(r, v, p)
				data["Map"] = mapOf(v, p)
			}
		} else {
			// The page still serves the entry and its downloads; it says
			// the preview is missing rather than leave it out unsaid.
			s.log.WarnContext(ctx, "preview", "resource", r.ID, "err", err)
			data["PreviewUnavailable"], data["RequestID"] = true, logs.RequestID(ctx)
		}
	}
	if data["Examples"] == nil {
		data["Examples"] = s.examples(r, v, nil)
	}
	q, err := s.quality(ctx, v)
	if err != nil {
		s.log.WarnContext(ctx, "quality report", "resource", r.ID, "err", err)
		data["QualityUnavailable"], data["RequestID"] = true, logs.RequestID(ctx)
	} else {
		st := publish.PublicStatistics(*q, r, v, viewer(c), s.app.Config.StatsMinCount)
		data["Quality"] = st
		if len(st.Columns) > 0 { // the columns the viewer may see statistics of
			nulls := map[string]publish.ColumnStatistics{}
			for _, cs := range st.Columns {
				nulls[cs.Name] = cs
			}
			data["ColumnNulls"] = nulls
		}
		var charts []chartView
		for _, cs := range st.Columns {
			ch := chartView{Name: cs.Name, Nulls: cs.Nulls, Invalid: cs.Invalid, Distinct: cs.Distinct, Histogram: buckets(cs.Hist), Top: bars(cs.Top)}
			if cs.Min != "" && cs.Hist != nil {
				ch.Range = cs.Min + " – " + cs.Max
			} else if cs.Range[0] != "" {
				ch.Range = "≈ " + cs.Range[0] + " – " + cs.Range[1]
			}
			if ch.Histogram == nil && len(ch.Top) == 0 {
				continue
			}
			charts = append(charts, ch)
		}
		data["Charts"] = charts
	}
	views, downloads, err := s.app.Publish.Totals(ctx, r.ID)
	if err != nil {
		return err
	}
	data["Views"], data["DownloadCount"] = views, downloads
	days, err := s.app.Publish.Daily(ctx, r.ID, 30)
	if err != nil {
		return err
	}
	if len(days) > 0 {
		var fd []frontend.DayCount
		for _, d := range days {
			fd = append(fd, frontend.DayCount{Day: d.Day, Views: d.Views, Downloads: d.Downloads})
		}
		data["Usage"] = fd
	}
	published, err := s.app.Publish.PublicVersions(ctx, r)
	if err != nil {
		return err
	}
	data["Versions"] = published
	if r.OpenType == catalog.OpenUnconditional { // what the download route serves to anyone
		data["VersionDownloads"] = versionDownloads(r, published)
	}
	var who *sharing.Principal
	if u, ok := c.Get(ctxUser).(auth.User); ok {
		p := sharing.FromActor(u.Actor())
		who = &p
	}
	ds, err := s.app.Sharing.DisputesFor(ctx, who, r)
	if err != nil {
		return err
	}
	if len(ds) > 0 {
		data["Disputes"] = ds
	}
	if data["DisputeMode"], err = s.disputeMode(c, r); err != nil {
		return err
	}
	if u, ok := developer(c); ok && in.Errors == nil {
		in.Name, in.Contact = u.DisplayName, u.Email
	}
	data["DisputeForm"] = in
	if u, ok := c.Get(ctxUser).(auth.User); ok && (u.Actor().CanEditDepartment(r.DepartmentID) || u.Role == auth.RoleOffice) {
		if data["Events"], err = s.app.Publish.Events(ctx, r.ID); err != nil {
			return err
		}
	}
	data["ApplicationDays"] = s.app.Config.ApplicationDays
	if u, ok := developer(c); ok && r.OpenType == catalog.OpenOnApplication {
		all, err := s.app.Access.Applications(ctx, u)
		if err != nil {
			return err
		}
		var mine []access.Application
		for _, a := range all {
			if a.ResourceID == r.ID {
				mine = append(mine, a)
				if a.Status == access.Pending {
					data["PendingApplication"] = true
				}
			}
		}
		data["MyApplications"] = mine
	}
	// English readers read the English names where the entry and the
	// department have them.
	data["DeptName"] = d.NameIn(lang(c))
	p := s.newPage(c, r.NameIn(lang(c)), data)
	p.Feeds = append([]feedLink{datasetFeedLink(p.Lang, r)}, p.Feeds...)
	return s.render(c, status, "dataset", p)
}
