package server

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"opendata/catalog"
	"opendata/csvsafe"
	"opendata/publish"
	"opendata/search"
)

// The public catalog API: what the portal shows, as JSON.
func (s *Server) bindPublic(g *echo.Group) {
	g.GET("/resources", s.apiSearch)
	g.GET("/resources/:id", s.apiResource)
	g.GET("/resources/:id/download/:file", s.download)
	g.GET("/catalog.jsonld", s.exportDCAT)
	g.GET("/catalog.csv", s.exportCSV)
}

func (s *Server) apiSearch(c echo.Context) error {
	q := parseSearch(c)
	if err := q.Normalize(); err != nil {
		return err
	}
	res, degraded, err := s.app.Publish.Search(c.Request().Context(), q)
	if err != nil {
		return err
	}
	type hit struct {
		search.Hit
		URL        string `json:"url"`
		TitleHTML  string `json:"title_html"`
		SummaryHTM string `json:"summary_html"`
	}
	hits := []hit{}
	words := highlightWords(res, q.Text)
	for _, h := range res.Hits {
		hits = append(hits, hit{Hit: h, URL: fmt.Sprintf("/api/v1/resources/%s", h.ID),
			TitleHTML: string(search.HighlightTerms(h.Title, words)), SummaryHTM: string(search.HighlightTerms(h.Summary, words))})
	}
	if res.Facets == nil {
		res.Facets = map[string][]search.FacetValue{}
	}
	if res.Words == nil {
		res.Words = []string{}
	}
	if res.Expanded == nil {
		res.Expanded = []string{}
	}
	out := map[string]any{"total": res.Total, "page": q.Page, "per_page": q.PerPage, "hits": hits,
		"facets": res.Facets, "degraded": degraded, "words": res.Words, "expanded": res.Expanded}
	if res.Suggestion != "" {
		out["suggestion"] = res.Suggestion
	}
	return c.JSON(http.StatusOK, out)
}

type publicVersion struct {
	Number    int               `json:"number"`
	Published time.Time         `json:"published"`
	Rows      int64             `json:"rows"`
	Quality   float64           `json:"quality_score"`
	Downloads map[string]string `json:"downloads,omitempty"`
	Sizes     map[string]int64  `json:"sizes,omitempty"`
}

func (s *Server) apiResource(c echo.Context) error {
	ctx := c.Request().Context()
	r, err := s.publicResource(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	s.app.Counter.View(r.ID)
	d, err := s.app.Catalog.GetDepartment(ctx, r.DepartmentID)
	if err != nil {
		return err
	}
	published, err := s.app.Publish.PublicVersions(ctx, r)
	if err != nil {
		return err
	}
	versions := []publicVersion{}
	open := []catalog.VersionColumn{}
	var stats any
	for _, v := range published {
		pv := publicVersion{Number: v.Number, Published: v.CreatedAt, Rows: v.RowsStored, Quality: v.QualityScore}
		if r.OpenType == catalog.OpenUnconditional {
			pv.Downloads, pv.Sizes = map[string]string{}, map[string]int64{}
			for _, name := range []string{"open.csv", "open.parquet"} {
				if o, ok := v.Object(name); ok {
					f := strings.TrimPrefix(name, "open.")
					pv.Downloads[f] = fmt.Sprintf("/api/v1/resources/%d/download/%s?version=%d", r.ID, name, v.Number)
					pv.Sizes[f] = o.Size
				}
			}
		}
		if v.Number == r.PublishedVersion {
			open = publish.OpenColumns(v)
			if q, err := s.quality(ctx, v); err == nil {
				stats = publish.PublicStatistics(*q, r, v, viewer(c), s.app.Config.StatsMinCount)
			} else {
				s.log.WarnContext(ctx, "quality report", "resource", r.ID, "err", err)
			}
		}
		versions = append(versions, pv)
	}
	views, downloads, err := s.app.Publish.Totals(ctx, r.ID)
	if err != nil {
		return err
	}
	access := "download"
	if r.OpenType == catalog.OpenOnApplication {
		access = "on_application: " + r.OpenCondition
	}
	return c.JSON(http.StatusOK, map[string]any{
		"id": r.ID, "code": r.Code, "name": r.Name, "name_en": r.NameEn, "summary": r.Summary,
		"department":   map[string]any{"code": d.Code, "name": d.Name, "name_en": d.NameEn},
		"catalog_kind": r.CatalogKind, "domain": r.Domain, "format": r.Format, "items": r.Items, "columns": open,
		"collection_channel": r.CollectionChannel, "update_period": r.UpdatePeriod, "share_type": r.ShareType,
		"open_type": r.OpenType, "open_condition": r.OpenCondition, "responsible_person": r.ResponsiblePerson,
		"responsible_contact": r.ResponsibleContact, "usage_note": r.UsageNote, "release_date": r.ReleaseDate,
		"keywords": r.Keywords, "published_version": r.PublishedVersion, "published_at": r.PublishedAt,
		"withdraw_at": r.WithdrawAt, "withdraw_reason": r.WithdrawReason, "versions": versions, "access": access,
		"views": views, "downloads": downloads, "page": fmt.Sprintf("/datasets/%d", r.ID), "statistics": stats,
	})
}

func (s *Server) publicAll(c echo.Context) ([]catalog.Resource, map[int64]catalog.Department, error) {
	ctx := c.Request().Context()
	var all []catalog.Resource
	for off := 0; ; off += 1000 {
		rs, _, err := s.app.Catalog.ListResources(ctx, catalog.Filter{Public: true, Now: time.Now(), Limit: 1000, Offset: off})
		if err != nil {
			return nil, nil, err
		}
		all = append(all, rs...)
		if len(rs) < 1000 {
			break
		}
	}
	ds, err := s.app.Catalog.ListDepartments(ctx)
	if err != nil {
		return nil, nil, err
	}
	depts := map[int64]catalog.Department{}
	for _, d := range ds {
		depts[d.ID] = d
	}
	return all, depts, nil
}

// frequency maps update periods to the EU vocabulary DCAT-AP uses.
var frequency = map[string]string{
	"realtime": "CONT", "daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY", "quarterly": "QUARTERLY", "yearly": "ANNUAL", "on_change": "IRREG",
}

// exportDCAT is the open catalog as DCAT-AP JSON-LD.
func (s *Server) exportDCAT(c echo.Context) error {
	all, depts, err := s.publicAll(c)
	if err != nil {
		return err
	}
	base := strings.TrimRight(s.app.Config.BaseURL, "/")
	var datasets []map[string]any
	for _, r := range all {
		d := depts[r.DepartmentID]
		ds := map[string]any{
			"@id": fmt.Sprintf("%s/datasets/%d", base, r.ID), "@type": "dcat:Dataset", "dct:identifier": r.Code,
			"dct:title":       []map[string]string{{"@value": r.Name, "@language": "zh"}},
			"dct:description": []map[string]string{{"@value": r.Summary, "@language": "zh"}},
			"dct:publisher":   map[string]any{"@type": "foaf:Organization", "foaf:name": d.Name},
			"dcat:theme":      r.Domain, "dcat:keyword": r.Keywords,
			"dct:accrualPeriodicity": map[string]string{"@id": "http://publications.europa.eu/resource/authority/frequency/" + frequency[r.UpdatePeriod]},
			"dcat:contactPoint":      map[string]any{"@type": "vcard:Kind", "vcard:fn": r.ResponsiblePerson, "vcard:hasTelephone": r.ResponsibleContact},
			"dct:accessRights":       r.OpenType, "dcat:landingPage": fmt.Sprintf("%s/datasets/%d", base, r.ID),
		}
		if r.NameEn != "" {
			ds["dct:title"] = append(ds["dct:title"].([]map[string]string), map[string]string{"@value": r.NameEn, "@language": "en"})
		}
		if r.PublishedAt != nil {
			ds["dct:modified"] = r.PublishedAt.Format(time.RFC3339)
		}
		if r.ReleaseDate != "" {
			ds["dct:issued"] = r.ReleaseDate
		}
		if lic := s.licenceOf(r); lic.Name != "" {
			ds["dct:license"] = dcatLicence(lic)
		}
		if r.OpenType == catalog.OpenUnconditional {
			ds["dcat:distribution"] = []map[string]any{
				{"@type": "dcat:Distribution", "dct:format": "CSV", "dcat:mediaType": "text/csv", "dcat:downloadURL": fmt.Sprintf("%s/api/v1/resources/%d/download/open.csv", base, r.ID)},
				{"@type": "dcat:Distribution", "dct:format": "Parquet", "dcat:mediaType": "application/vnd.apache.parquet", "dcat:downloadURL": fmt.Sprintf("%s/api/v1/resources/%d/download/open.parquet", base, r.ID)},
			}
			if lic, ok := ds["dct:license"]; ok {
				for _, dist := range ds["dcat:distribution"].([]map[string]any) {
					dist["dct:license"] = lic
				}
			}
		}
		datasets = append(datasets, ds)
	}
	if datasets == nil {
		datasets = []map[string]any{}
	}
	doc := map[string]any{
		"@context": map[string]string{"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/", "foaf": "http://xmlns.com/foaf/0.1/", "vcard": "http://www.w3.org/2006/vcard/ns#"},
		"@id":      base + "/api/v1/catalog.jsonld", "@type": "dcat:Catalog",
		"dct:title":    []map[string]string{{"@value": "恩施市公共数据开放平台", "@language": "zh"}, {"@value": "Enshi Open Data", "@language": "en"}},
		"dcat:dataset": datasets,
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/ld+json; charset=utf-8")
	return c.JSON(http.StatusOK, doc)
}

// exportCSV is the open catalog as a spreadsheet (UTF-8 with BOM for Excel;
// cells a spreadsheet would run as formulas neutralised by csvsafe).
func (s *Server) exportCSV(c echo.Context) error {
	all, depts, err := s.publicAll(c)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set("Content-Disposition", contentDisposition("catalog.csv", "开放数据目录.csv"))
	c.Response().WriteHeader(http.StatusOK)
	c.Response().Write([]byte("\uFEFF"))
	w := csv.NewWriter(c.Response())
	w.Write([]string{"code", "name", "department", "domain", "catalog_kind", "open_type", "share_type", "update_period", "published_version", "published_at", "url"})
	base := strings.TrimRight(s.app.Config.BaseURL, "/")
	for _, r := range all {
		pub := ""
		if r.PublishedAt != nil {
			pub = r.PublishedAt.Format(time.RFC3339)
		}
		w.Write(csvsafe.Record([]string{r.Code, r.Name, depts[r.DepartmentID].Name, r.Domain, r.CatalogKind, string(r.OpenType), string(r.ShareType), r.UpdatePeriod,
			strconv.Itoa(r.PublishedVersion), pub, fmt.Sprintf("%s/datasets/%d", base, r.ID)}))
	}
	w.Flush()
	return w.Error()
}
