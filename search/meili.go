package search

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Meili is the Meilisearch backend. Writes wait for Meilisearch's task to
// finish, so the index follows every publish like the embedded one does.
type Meili struct {
	client meilisearch.ServiceManager
	index  meilisearch.IndexManager
	uid    string
	dict   atomic.Pointer[Dictionary]
}

var _ Index = (*Meili)(nil)

// meiliDoc is the document shape sent to Meilisearch.
type meiliDoc struct {
	ID             string   `json:"id"`
	Code           string   `json:"code"`
	Title          string   `json:"title"`
	TitleEn        string   `json:"title_en"`
	Summary        string   `json:"summary"`
	Keywords       []string `json:"keywords"`
	Keyword        []string `json:"keyword"` // normalised keywords (facet)
	Items          []string `json:"items"`
	DepartmentName string   `json:"department_name"`
	DepartmentEn   string   `json:"department_name_en"`
	Department     string   `json:"department"`
	Domain         string   `json:"domain"`
	Format         []string `json:"format"`
	OpenType       string   `json:"open_type"`
	UpdatePeriod   string   `json:"update_period"`
	Published      int64    `json:"published"`
	Updated        int64    `json:"updated"`
	Downloads      int64    `json:"downloads"`
	Views          int64    `json:"views"`
	Rows           int64    `json:"rows"`
}

func toMeili(d Doc) meiliDoc {
	kws := make([]string, 0, len(d.Keywords))
	for _, k := range d.Keywords {
		if k = NormalizeTerm(k); k != "" {
			kws = append(kws, k)
		}
	}
	updated := d.Updated
	if updated.IsZero() {
		updated = d.Published
	}
	return meiliDoc{d.ID, d.Code, d.Title, d.TitleEn, d.Summary, d.Keywords, kws, d.Items, d.DepartmentName, d.DepartmentEn, d.Department, d.Domain,
		d.Format, d.OpenType, d.UpdatePeriod, d.Published.Unix(), updated.Unix(), d.Downloads, d.Views, d.Rows}
}

func (m meiliDoc) doc() Doc {
	return Doc{ID: m.ID, Code: m.Code, Title: m.Title, TitleEn: m.TitleEn, Summary: m.Summary, Keywords: m.Keywords, Items: m.Items,
		DepartmentName: m.DepartmentName, DepartmentEn: m.DepartmentEn, Department: m.Department, Domain: m.Domain, Format: m.Format, OpenType: m.OpenType,
		UpdatePeriod: m.UpdatePeriod, Published: time.Unix(m.Published, 0).UTC(), Updated: time.Unix(m.Updated, 0).UTC(), Downloads: m.Downloads, Views: m.Views, Rows: m.Rows}
}

// MeiliSettings is the index configuration (kept here so it is tested).
// The order of the searchable attributes is their weight (title, then
// keywords, then department and data items, then the summary); synonyms
// come from the bureau's dictionary (SetSynonyms), not from here.
func MeiliSettings() *meilisearch.Settings {
	return &meilisearch.Settings{
		SearchableAttributes: []string{"title", "code", "title_en", "keywords", "department_name", "items", "summary"},
		FilterableAttributes: append([]string{}, FacetFields...),
		SortableAttributes:   []string{"published", "downloads", "views"},
		RankingRules:         []string{"words", "typo", "proximity", "attribute", "sort", "exactness", "downloads:desc"},
		Faceting:             &meilisearch.Faceting{MaxValuesPerFacet: 100},
	}
}

// UseSynonyms keeps d for explaining results without pushing it (another
// instance delivers to the shared index).
func (m *Meili) UseSynonyms(d *Dictionary) { m.dict.Store(d) }

// SetSynonyms pushes the dictionary to Meilisearch and waits until it is in
// force.
func (m *Meili) SetSynonyms(ctx context.Context, d *Dictionary) error {
	syn := d.Map()
	task, err := m.index.UpdateSynonyms(ctx, &syn)
	if err != nil {
		return fmt.Errorf("%w: meilisearch synonyms: %v", errUnavailable, err)
	}
	if err := m.wait(ctx, task); err != nil {
		return err
	}
	m.dict.Store(d)
	return nil
}

// OpenMeili connects and applies the settings to index uid.
func OpenMeili(ctx context.Context, url, apiKey, uid string) (*Meili, error) {
	opts := []meilisearch.Option{}
	if apiKey != "" {
		opts = append(opts, meilisearch.WithAPIKey(apiKey))
	}
	c := meilisearch.New(url, opts...)
	m := &Meili{client: c, index: c.Index(uid), uid: uid}
	task, err := c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: uid, PrimaryKey: "id"})
	if err != nil {
		return nil, fmt.Errorf("meilisearch %s: %w", url, err)
	}
	if err := m.wait(ctx, task); err != nil && !strings.Contains(err.Error(), "index_already_exists") {
		return nil, err
	}
	task, err = m.index.UpdateSettings(ctx, MeiliSettings())
	if err != nil {
		return nil, fmt.Errorf("meilisearch settings: %w", err)
	}
	return m, m.wait(ctx, task)
}

func (m *Meili) wait(ctx context.Context, t *meilisearch.TaskInfo) error {
	task, err := m.client.WaitForTask(ctx, t.TaskUID, 50*time.Millisecond)
	if err != nil {
		return err
	}
	if task.Status == meilisearch.TaskStatusFailed {
		return fmt.Errorf("meilisearch task %d failed: %s", t.TaskUID, task.Error.Message)
	}
	return nil
}

func (m *Meili) Index(ctx context.Context, docs ...Doc) error {
	if len(docs) == 0 {
		return nil
	}
	md := make([]meiliDoc, len(docs))
	for i, d := range docs {
		md[i] = toMeili(d)
	}
	pk := "id"
	task, err := m.index.AddDocuments(ctx, md, &meilisearch.DocumentOptions{PrimaryKey: &pk})
	if err != nil {
		return fmt.Errorf("%w: meilisearch index: %v", errUnavailable, err)
	}
	return m.wait(ctx, task)
}

func (m *Meili) Delete(ctx context.Context, ids ...string) error {
	task, err := m.index.DeleteDocuments(ctx, ids, nil)
	if err != nil {
		return fmt.Errorf("%w: meilisearch delete: %v", errUnavailable, err)
	}
	return m.wait(ctx, task)
}

func (m *Meili) Count(ctx context.Context) (int, error) {
	st, err := m.index.GetStats(ctx, nil)
	if err != nil {
		return 0, err
	}
	return int(st.NumberOfDocuments), nil
}

func (m *Meili) Ping(ctx context.Context) error {
	_, err := m.client.Health(ctx)
	return err
}

func (m *Meili) Close() error { return nil }

// quoteFilter quotes a value for a Meilisearch filter expression: inside
// double quotes only '"' and '\' need escaping.
func quoteFilter(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// meiliFilter builds "(f = "a" OR f = "b") AND (g = "c")" from validated
// filters, fields in a stable order.
func meiliFilter(filters map[string][]string) string {
	fields := make([]string, 0, len(filters))
	for f, vs := range filters {
		if len(vs) > 0 {
			fields = append(fields, f)
		}
	}
	sort.Strings(fields)
	var groups []string
	for _, f := range fields {
		var any []string
		for _, v := range filters[f] {
			any = append(any, f+" = "+quoteFilter(v))
		}
		groups = append(groups, "("+strings.Join(any, " OR ")+")")
	}
	return strings.Join(groups, " AND ")
}

// meiliRequest turns a normalized Query into the search request.
func meiliRequest(q Query) *meilisearch.SearchRequest {
	req := &meilisearch.SearchRequest{
		Offset: int64((q.Page - 1) * q.PerPage), Limit: int64(q.PerPage), Facets: append([]string{}, FacetFields...),
		MatchingStrategy: meilisearch.Last,
	}
	if f := meiliFilter(q.Filters); f != "" {
		req.Filter = f
	}
	switch q.Sort {
	case SortNewest:
		req.Sort = []string{"published:desc"}
	case SortDownloads:
		req.Sort = []string{"downloads:desc"}
	}
	return req
}

func (m *Meili) Search(ctx context.Context, q Query) (Result, error) {
	if err := q.Normalize(); err != nil {
		return Result{}, err
	}
	res, err := m.index.Search(ctx, q.Text, meiliRequest(q))
	if err != nil {
		return Result{}, fmt.Errorf("%w: meilisearch: %v", errUnavailable, err)
	}
	p := makePlan(q.Text, m.dict.Load())
	out := Result{Total: int(res.EstimatedTotalHits), Facets: map[string][]FacetValue{}, Words: p.words, Expanded: p.expanded}
	if res.TotalHits > 0 {
		out.Total = int(res.TotalHits)
	}
	var docs []meiliDoc
	if err := res.Hits.DecodeInto(&docs); err != nil {
		return Result{}, fmt.Errorf("meilisearch hits: %w", err)
	}
	for i, d := range docs {
		out.Hits = append(out.Hits, Hit{Doc: d.doc(), Score: float64(len(docs) - i)})
	}
	var dist map[string]map[string]int
	if len(res.FacetDistribution) > 0 {
		if err := json.Unmarshal(res.FacetDistribution, &dist); err != nil {
			return Result{}, fmt.Errorf("meilisearch facets: %w", err)
		}
	}
	for f, vals := range dist {
		out.Facets[f] = facetValues(vals)
	}
	// A field with a selected value is counted without its own filter, so
	// its other values stay selectable (multi-select facets).
	for f, vs := range q.Filters {
		if len(vs) == 0 {
			continue
		}
		others := q
		others.Filters = map[string][]string{}
		for k, v := range q.Filters {
			if k != f {
				others.Filters[k] = v
			}
		}
		req := meiliRequest(others)
		req.Limit, req.Facets = 0, []string{f}
		r, err := m.index.Search(ctx, q.Text, req)
		if err != nil {
			return Result{}, fmt.Errorf("%w: meilisearch: %v", errUnavailable, err)
		}
		var d map[string]map[string]int
		if len(r.FacetDistribution) > 0 {
			if err := json.Unmarshal(r.FacetDistribution, &d); err != nil {
				return Result{}, fmt.Errorf("meilisearch facets: %w", err)
			}
		}
		out.Facets[f] = facetValues(d[f])
	}
	return out, nil
}

func facetValues(vals map[string]int) []FacetValue {
	var fv []FacetValue
	for v, n := range vals {
		fv = append(fv, FacetValue{Value: v, Count: n})
	}
	sortFacet(fv)
	return fv
}
