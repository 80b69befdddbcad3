package search

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/cjk"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/index/scorch/mergeplan"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"
	"go.etcd.io/bbolt"
)

// Bleve is the embedded index. Chinese text is analysed into overlapping
// two-character pieces plus single characters, so that a two-character
// query finds its titles and a one-character query still matches; queries
// then rank documents that hold all of a query's words above those that
// hold some of them.
type Bleve struct {
	idx bleve.Index
	// facets caches facet counts by query and filters; any write clears it.
	// Counting facets costs bleve far more than finding the hits, and the
	// same searches (a domain, a popular word) repeat all day.
	mu     sync.Mutex
	facets map[string]map[string][]FacetValue
}

var _ Index = (*Bleve)(nil)

func newMapping() (*mapping.IndexMappingImpl, error) {
	im := bleve.NewIndexMapping()
	if err := im.AddCustomTokenFilter("cjk_bigram_unigram", map[string]any{"type": cjk.BigramName, "output_unigram": true}); err != nil {
		return nil, err
	}
	// "zh": overlapping two-character pieces (single characters only where
	// a character stands alone). "zh1": single characters, indexed in
	// separate fields and searched only for one-character queries, so the
	// long posting lists of common characters never slow a normal query.
	if err := im.AddCustomAnalyzer("zh", map[string]any{
		"type": custom.Name, "tokenizer": unicode.Name,
		"token_filters": []string{cjk.WidthName, lowercase.Name, cjk.BigramName},
	}); err != nil {
		return nil, err
	}
	if err := im.AddCustomAnalyzer("zh1", map[string]any{
		"type": custom.Name, "tokenizer": unicode.Name,
		"token_filters": []string{cjk.WidthName, lowercase.Name, "cjk_bigram_unigram"},
	}); err != nil {
		return nil, err
	}
	doc := bleve.NewDocumentMapping()
	text := func(analyzer string, store bool) *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer, f.Store, f.IncludeTermVectors, f.IncludeInAll = analyzer, store, false, false
		return f
	}
	// uni indexes a property a second time, one character a token, under name.
	uni := func(name string) *mapping.FieldMapping {
		f := text("zh1", false)
		f.Name = name
		return f
	}
	kw := func() *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Analyzer, f.Store, f.IncludeInAll, f.DocValues = keyword.Name, true, false, true
		return f
	}
	num := func() *mapping.FieldMapping {
		f := bleve.NewNumericFieldMapping()
		f.Store, f.IncludeInAll, f.DocValues = true, false, true
		return f
	}
	// Searched fields: "t" (title and keywords) and "b" (summary, data
	// items, department), plus their one-character twins and the English
	// title. Display fields are stored but not indexed.
	doc.AddFieldMappingsAt("t", text("zh", false))
	doc.AddFieldMappingsAt("all", text("zh", false), uni("all1"))
	doc.AddFieldMappingsAt("title_en", text(en.AnalyzerName, true))
	for _, f := range []string{"title", "summary", "keywords", "department_name"} {
		m := bleve.NewTextFieldMapping()
		m.Index, m.Store, m.IncludeInAll, m.IncludeTermVectors = false, true, false, false
		doc.AddFieldMappingsAt(f, m)
	}
	for _, f := range append([]string{"code"}, FacetFields...) {
		doc.AddFieldMappingsAt(f, kw())
	}
	// All facet values in one field ("domain\x1ftransport" …): counting
	// facets then reads one doc-value list per hit instead of five.
	facet := bleve.NewKeywordFieldMapping()
	facet.Store, facet.IncludeInAll, facet.DocValues = false, false, true
	doc.AddFieldMappingsAt("facet", facet)
	for _, f := range []string{"published", "downloads", "views", "rows"} {
		doc.AddFieldMappingsAt(f, num())
	}
	doc.Dynamic = false // only the fields mapped above are indexed
	im.DefaultMapping = doc
	im.DefaultAnalyzer = "zh"
	return im, nil
}

// ErrLocked is returned by OpenBleve when another process (a running
// `opendata serve`) holds the index directory.
var ErrLocked = errors.New("the search index is held by another process (a running opendata serve)")

// lockWait is how long OpenBleve waits for another process to let go of
// the index before it reports ErrLocked: never forever.
const lockWait = 1500 * time.Millisecond

// OpenBleve opens (or creates) the index in dir; dir "" keeps it in memory.
func OpenBleve(dir string) (*Bleve, error) {
	im, err := newMapping()
	if err != nil {
		return nil, err
	}
	if dir == "" {
		idx, err := bleve.NewMemOnly(im)
		return &Bleve{idx: idx}, err
	}
	cfg := map[string]any{"bolt_timeout": lockWait.String()}
	if _, err := os.Stat(dir); err == nil {
		idx, err := bleve.OpenUsing(dir, cfg)
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("open search index %s: %w", dir, ErrLocked)
		}
		if err != nil {
			return nil, fmt.Errorf("open search index %s: %w", dir, err)
		}
		return &Bleve{idx: idx}, nil
	}
	idx, err := bleve.NewUsing(dir, im, scorch.Name, scorch.Name, cfg)
	if err != nil {
		return nil, fmt.Errorf("create search index %s: %w", dir, err)
	}
	return &Bleve{idx: idx}, nil
}

var positionKey = []byte("opendata.changelog.seq")

// Position is the last change-log entry this index reflects (kept inside
// the index, so it survives restarts together with what it describes).
func (b *Bleve) Position() (int64, bool, error) {
	v, err := b.idx.GetInternal(positionKey)
	if err != nil || v == nil {
		return 0, false, err
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil, err
}

// SetPosition records the change-log position the index reflects.
func (b *Bleve) SetPosition(seq int64) error {
	return b.idx.SetInternal(positionKey, []byte(strconv.FormatInt(seq, 10)))
}

// bleveDoc flattens a Doc into what the mapping indexes; times become
// numbers so they sort.
func bleveDoc(d Doc) map[string]any {
	facets := []string{"department\x1f" + d.Department, "domain\x1f" + d.Domain, "open_type\x1f" + d.OpenType, "update_period\x1f" + d.UpdatePeriod}
	for _, f := range d.Format {
		facets = append(facets, "format\x1f"+f)
	}
	t := strings.Join(append([]string{d.Title}, d.Keywords...), " \n ")
	// One searched field holds everything; the title and keywords appear
	// three times so that matching them weighs more in the score.
	all := strings.Join(append([]string{t, t, t, d.TitleEn, d.TitleEn, d.Code, d.Summary, d.DepartmentName}, d.Items...), " \n ")
	return map[string]any{
		"t": t, "all": all, "facet": facets, "code": d.Code, "title": d.Title, "title_en": d.TitleEn, "summary": d.Summary, "keywords": d.Keywords,
		"department_name": d.DepartmentName, "department": d.Department, "domain": d.Domain, "format": d.Format,
		"open_type": d.OpenType, "update_period": d.UpdatePeriod, "published": float64(d.Published.Unix()),
		"downloads": float64(d.Downloads), "views": float64(d.Views), "rows": float64(d.Rows),
	}
}

func (b *Bleve) invalidate() {
	b.mu.Lock()
	b.facets = nil
	b.mu.Unlock()
}

func (b *Bleve) cachedFacets(key string) (map[string][]FacetValue, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f, ok := b.facets[key]
	return f, ok
}

func (b *Bleve) storeFacets(key string, f map[string][]FacetValue) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.facets == nil || len(b.facets) >= 4096 {
		b.facets = map[string]map[string][]FacetValue{}
	}
	b.facets[key] = f
}

func (b *Bleve) Index(ctx context.Context, docs ...Doc) error {
	defer b.invalidate()
	return b.index(docs)
}

// IndexSameFacets re-indexes documents whose facet values did not change
// (a refresh of download counts), keeping the cached facet counts.
func (b *Bleve) IndexSameFacets(ctx context.Context, docs ...Doc) error {
	return b.index(docs)
}

func (b *Bleve) index(docs []Doc) error {
	batch := b.idx.NewBatch()
	for _, d := range docs {
		if err := batch.Index(d.ID, bleveDoc(d)); err != nil {
			return err
		}
		if batch.Size() >= 1000 {
			if err := b.idx.Batch(batch); err != nil {
				return err
			}
			batch.Reset()
		}
	}
	return b.idx.Batch(batch)
}

func (b *Bleve) Delete(ctx context.Context, ids ...string) error {
	defer b.invalidate()
	batch := b.idx.NewBatch()
	for _, id := range ids {
		batch.Delete(id)
	}
	return b.idx.Batch(batch)
}

func (b *Bleve) Count(ctx context.Context) (int, error) {
	n, err := b.idx.DocCount()
	return int(n), err
}

func (b *Bleve) Ping(ctx context.Context) error {
	_, err := b.idx.DocCount()
	return err
}

func (b *Bleve) Close() error { return b.idx.Close() }

// termQuery requires one word: all of its pieces (operator AND) in the
// combined field, so a word counts only when it is there whole. A
// one-character word is looked up in the one-character field.
func termQuery(term string) query.Query {
	field := "all"
	if utf8.RuneCountInString(term) == 1 {
		field = "all1"
	}
	m := query.NewMatchQuery(term)
	m.SetField(field)
	m.SetOperator(query.MatchQueryOperatorAnd)
	return m
}

// looseQuery keeps partial matches of a long word in the results, ranked
// below whole matches: any two-character piece of it will do ("公交站点"
// still lists "出租车站点"). Single characters never count here, or "床位"
// would match every text with "位".
func looseQuery(terms []string) query.Query {
	var qs []query.Query
	for _, t := range terms {
		r := []rune(t)
		if len(r) < 3 {
			continue
		}
		for i := 0; i+1 < len(r); i++ {
			for _, f := range []string{"t"} {
				m := query.NewMatchQuery(string(r[i : i+2]))
				m.SetField(f)
				m.SetOperator(query.MatchQueryOperatorAnd)
				m.SetBoost(0.2)
				qs = append(qs, m)
			}
		}
	}
	if len(qs) == 0 {
		return nil
	}
	return query.NewDisjunctionQuery(qs)
}

// textQueries returns the query tiers for text, strictest first: every
// word present; any word present; any two-character piece of a word. The
// search uses the first tier that matches anything, so results and facet
// counts are the documents that hold all the words whenever there are some.
func textQueries(text string) []query.Query {
	terms := Terms(text)
	if len(terms) == 0 {
		return []query.Query{query.NewMatchAllQuery()}
	}
	var per []query.Query
	for _, t := range terms {
		per = append(per, termQuery(t))
	}
	tiers := []query.Query{query.NewConjunctionQuery(per)}
	if len(per) > 1 {
		tiers = append(tiers, query.NewDisjunctionQuery(per))
	}
	if loose := looseQuery(terms); loose != nil {
		tiers = append(tiers, loose)
	}
	return tiers
}

func filterQuery(filters map[string][]string, skip string) []query.Query {
	var out []query.Query
	fields := make([]string, 0, len(filters))
	for f := range filters {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		if f == skip || len(filters[f]) == 0 {
			continue
		}
		var any []query.Query
		for _, v := range filters[f] {
			t := query.NewTermQuery(v)
			t.SetField(f)
			any = append(any, t)
		}
		out = append(out, query.NewDisjunctionQuery(any))
	}
	return out
}

func (b *Bleve) Search(ctx context.Context, q Query) (Result, error) {
	if err := q.Normalize(); err != nil {
		return Result{}, err
	}
	filters := filterQuery(q.Filters, "")
	tiers := textQueries(q.Text)
	for i, tier := range tiers {
		key := fmt.Sprintf("%d\x00%s\x00%v", i, q.Text, filterKey(q.Filters))
		res, err := b.search(ctx, q, query.NewConjunctionQuery(append([]query.Query{tier}, filters...)), key)
		if err != nil || res.Total > 0 || i == len(tiers)-1 {
			return res, err
		}
	}
	return Result{}, nil
}

func filterKey(f map[string][]string) string {
	keys := make([]string, 0, len(f))
	for k, vs := range f {
		v := append([]string{}, vs...)
		sort.Strings(v)
		keys = append(keys, k+"="+strings.Join(v, "\x1f"))
	}
	sort.Strings(keys)
	return strings.Join(keys, "&")
}

func (b *Bleve) search(ctx context.Context, q Query, top query.Query, cacheKey string) (Result, error) {
	req := bleve.NewSearchRequestOptions(top, q.PerPage, (q.Page-1)*q.PerPage, false)
	req.Fields = []string{"*"}
	cached, haveFacets := b.cachedFacets(cacheKey)
	if !haveFacets {
		req.AddFacet("facet", bleve.NewFacetRequest("facet", 10000))
	}
	switch q.Sort {
	case SortNewest:
		req.SortBy([]string{"-published", "-_score", "_id"})
	case SortDownloads:
		req.SortBy([]string{"-downloads", "-_score", "_id"})
	}
	// Relevance keeps bleve's own score order: extra sort keys would load
	// doc values for every matching document.
	res, err := b.idx.SearchInContext(ctx, req)
	if err != nil {
		return Result{}, fmt.Errorf("%w: search: %v", errUnavailable, err)
	}
	out := Result{Total: int(res.Total), Facets: map[string][]FacetValue{}}
	for _, h := range res.Hits {
		out.Hits = append(out.Hits, Hit{Doc: docFromFields(h.ID, h.Fields), Score: h.Score})
	}
	if f := res.Facets["facet"]; f != nil && f.Terms != nil {
		for _, t := range f.Terms.Terms() {
			name, value, ok := strings.Cut(t.Term, "\x1f")
			if ok {
				out.Facets[name] = append(out.Facets[name], FacetValue{Value: value, Count: t.Count})
			}
		}
	}
	for _, vals := range out.Facets {
		sortFacet(vals)
	}
	if haveFacets {
		out.Facets = cached
	} else {
		b.storeFacets(cacheKey, out.Facets)
	}
	return out, nil
}

func sortFacet(vals []FacetValue) {
	sort.Slice(vals, func(i, j int) bool {
		if vals[i].Count != vals[j].Count {
			return vals[i].Count > vals[j].Count
		}
		return vals[i].Value < vals[j].Value
	})
}

func docFromFields(id string, f map[string]any) Doc {
	s := func(k string) string { v, _ := f[k].(string); return v }
	n := func(k string) float64 { v, _ := f[k].(float64); return v }
	list := func(k string) []string {
		switch v := f[k].(type) {
		case string:
			return []string{v}
		case []any:
			out := make([]string, 0, len(v))
			for _, x := range v {
				if xs, ok := x.(string); ok {
					out = append(out, xs)
				}
			}
			return out
		}
		return nil
	}
	return Doc{ID: id, Code: s("code"), Title: s("title"), TitleEn: s("title_en"), Summary: s("summary"), Keywords: list("keywords"),
		DepartmentName: s("department_name"), Department: s("department"), Domain: s("domain"), Format: list("format"),
		OpenType: s("open_type"), UpdatePeriod: s("update_period"), Published: time.Unix(int64(n("published")), 0).UTC(),
		Downloads: int64(n("downloads")), Views: int64(n("views")), Rows: int64(n("rows"))}
}

// RawIndex and TextQueryForBench expose internals to bench/searchexp.
func RawIndex(b *Bleve) bleve.Index             { return b.idx }
func TextQueryForBench(text string) query.Query { return textQueries(text)[0] }

// Optimize merges the index into as few segments as it can, so each query
// visits fewer; run after a bulk load (reindex).
func (b *Bleve) Optimize(ctx context.Context) error {
	adv, err := b.idx.Advanced()
	if err != nil {
		return err
	}
	if s, ok := adv.(*scorch.Scorch); ok {
		return s.ForceMerge(ctx, &mergeplan.SingleSegmentMergePlanOptions)
	}
	return nil
}
