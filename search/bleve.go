package search

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/cjk"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"
)

// Bleve is the embedded index. Chinese text is analysed into overlapping
// two-character pieces plus single characters, so that a two-character
// query finds its titles and a one-character query still matches; queries
// then rank documents that hold all of a query's words above those that
// hold some of them.
type Bleve struct {
	idx bleve.Index
}

var _ Index = (*Bleve)(nil)

func newMapping() (*mapping.IndexMappingImpl, error) {
	im := bleve.NewIndexMapping()
	if err := im.AddCustomTokenFilter("cjk_bigram_unigram", map[string]any{"type": cjk.BigramName, "output_unigram": true}); err != nil {
		return nil, err
	}
	if err := im.AddCustomAnalyzer("zh", map[string]any{
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
	doc.AddFieldMappingsAt("title", text("zh", true))
	doc.AddFieldMappingsAt("title_en", text(en.AnalyzerName, true))
	doc.AddFieldMappingsAt("summary", text("zh", true))
	doc.AddFieldMappingsAt("keywords", text("zh", true))
	doc.AddFieldMappingsAt("items", text("zh", false))
	doc.AddFieldMappingsAt("department_name", text("zh", true))
	for _, f := range append([]string{"code"}, FacetFields...) {
		doc.AddFieldMappingsAt(f, kw())
	}
	for _, f := range []string{"published", "downloads", "views", "rows"} {
		doc.AddFieldMappingsAt(f, num())
	}
	im.DefaultMapping = doc
	im.DefaultAnalyzer = "zh"
	return im, nil
}

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
	if _, err := os.Stat(dir); err == nil {
		idx, err := bleve.Open(dir)
		if err != nil {
			return nil, fmt.Errorf("open search index %s: %w", dir, err)
		}
		return &Bleve{idx: idx}, nil
	}
	idx, err := bleve.New(dir, im)
	if err != nil {
		return nil, fmt.Errorf("create search index %s: %w", dir, err)
	}
	return &Bleve{idx: idx}, nil
}

// bleveDoc flattens a Doc into what the mapping indexes; times become
// numbers so they sort.
func bleveDoc(d Doc) map[string]any {
	return map[string]any{
		"code": d.Code, "title": d.Title, "title_en": d.TitleEn, "summary": d.Summary, "keywords": d.Keywords, "items": d.Items,
		"department_name": d.DepartmentName, "department": d.Department, "domain": d.Domain, "format": d.Format,
		"open_type": d.OpenType, "update_period": d.UpdatePeriod, "published": float64(d.Published.Unix()),
		"downloads": float64(d.Downloads), "views": float64(d.Views), "rows": float64(d.Rows),
	}
}

func (b *Bleve) Index(ctx context.Context, docs ...Doc) error {
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

// termQuery matches one word in the searchable fields, requiring all of the
// word's pieces (operator AND) so a word counts only when it is there whole.
func termQuery(term string) query.Query {
	fields := []struct {
		name  string
		boost float64
	}{{"title", 8}, {"keywords", 4}, {"title_en", 4}, {"summary", 2}, {"items", 1.5}, {"department_name", 1}}
	var qs []query.Query
	for _, f := range fields {
		m := query.NewMatchQuery(term)
		m.SetField(f.name)
		m.SetOperator(query.MatchQueryOperatorAnd)
		m.SetBoost(f.boost)
		qs = append(qs, m)
	}
	code := query.NewTermQuery(strings.ToUpper(term))
	code.SetField("code")
	code.SetBoost(10)
	qs = append(qs, code)
	return query.NewDisjunctionQuery(qs)
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
			for _, f := range []string{"title", "summary", "keywords"} {
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

func textQuery(text string) query.Query {
	terms := Terms(text)
	if len(terms) == 0 {
		return query.NewMatchAllQuery()
	}
	var per []query.Query
	for _, t := range terms {
		per = append(per, termQuery(t))
	}
	all := query.NewConjunctionQuery(per)
	all.SetBoost(10)
	parts := []query.Query{all, query.NewDisjunctionQuery(per)}
	if loose := looseQuery(terms); loose != nil {
		parts = append(parts, loose)
	}
	return query.NewDisjunctionQuery(parts)
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
	main := textQuery(q.Text)
	var must []query.Query
	must = append(must, main)
	must = append(must, filterQuery(q.Filters, "")...)
	var top query.Query = query.NewConjunctionQuery(must)
	req := bleve.NewSearchRequestOptions(top, q.PerPage, (q.Page-1)*q.PerPage, false)
	req.Fields = []string{"*"}
	for _, f := range FacetFields {
		req.AddFacet(f, bleve.NewFacetRequest(f, 100))
	}
	switch q.Sort {
	case SortNewest:
		req.SortBy([]string{"-published", "-_score", "_id"})
	case SortDownloads:
		req.SortBy([]string{"-downloads", "-_score", "_id"})
	default:
		req.SortBy([]string{"-_score", "-downloads", "_id"})
	}
	res, err := b.idx.SearchInContext(ctx, req)
	if err != nil {
		return Result{}, fmt.Errorf("%w: search: %v", errUnavailable, err)
	}
	out := Result{Total: int(res.Total), Facets: map[string][]FacetValue{}}
	for _, h := range res.Hits {
		out.Hits = append(out.Hits, Hit{Doc: docFromFields(h.ID, h.Fields), Score: h.Score})
	}
	for name, f := range res.Facets {
		var vals []FacetValue
		if f.Terms != nil {
			for _, t := range f.Terms.Terms() {
				vals = append(vals, FacetValue{Value: t.Term, Count: t.Count})
			}
		}
		sortFacet(vals)
		out.Facets[name] = vals
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
