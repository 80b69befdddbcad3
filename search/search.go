// Package search is the catalog search: one small interface with an
// embedded bleve index (default, Chinese-aware) and Meilisearch
// (production); both pass searchtest.Run.
package search

import (
	"context"
	"html"
	"html/template"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"opendata/errs"
)

// Doc is what the index holds for one published resource.
type Doc struct {
	ID             string    `json:"id"`
	Code           string    `json:"code"`
	Title          string    `json:"title"`
	TitleEn        string    `json:"title_en"`
	Summary        string    `json:"summary"`
	Keywords       []string  `json:"keywords"`
	Items          []string  `json:"items"` // data item names and descriptions
	DepartmentName string    `json:"department_name"`
	Department     string    `json:"department"` // code (facet)
	Domain         string    `json:"domain"`
	Format         []string  `json:"format"` // csv, parquet …
	OpenType       string    `json:"open_type"`
	UpdatePeriod   string    `json:"update_period"`
	Published      time.Time `json:"published"`
	Downloads      int64     `json:"downloads"`
	Views          int64     `json:"views"`
	Rows           int64     `json:"rows"`
}

// FacetFields are the fields that can be filtered and counted.
var FacetFields = []string{"department", "domain", "format", "open_type", "update_period"}

// Sorts.
const (
	SortRelevance = "relevance"
	SortNewest    = "newest"
	SortDownloads = "downloads"
)

// Query is one search.
type Query struct {
	Text    string
	Filters map[string][]string // field → any of these values
	Sort    string
	Page    int // 1-based
	PerPage int
}

// Hit is one result.
type Hit struct {
	Doc
	Score float64 `json:"score"`
}

// FacetValue is one value of a facet with its count.
type FacetValue struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// Result is a page of hits with facet counts over all matches.
type Result struct {
	Total  int                     `json:"total"`
	Hits   []Hit                   `json:"hits"`
	Facets map[string][]FacetValue `json:"facets"`
}

// Index is what every backend implements.
type Index interface {
	Index(ctx context.Context, docs ...Doc) error
	Delete(ctx context.Context, ids ...string) error
	Search(ctx context.Context, q Query) (Result, error)
	// Count is the number of indexed documents.
	Count(ctx context.Context) (int, error)
	Ping(ctx context.Context) error
	Close() error
}

// MaxQueryRunes bounds the query text; longer input is refused.
const MaxQueryRunes = 200

// Normalize checks and cleans a query: valid UTF-8, bounded length, known
// facet fields and sorts, a sane page. Errors are Invalid and name the
// parameter.
func (q *Query) Normalize() error {
	if !utf8.ValidString(q.Text) {
		return errs.Invalidf("q: not valid UTF-8")
	}
	q.Text = strings.Join(Terms(q.Text), " ")
	if utf8.RuneCountInString(q.Text) > MaxQueryRunes {
		return errs.Invalidf("q: longer than %d characters", MaxQueryRunes)
	}
	for f, vs := range q.Filters {
		if !slices.Contains(FacetFields, f) {
			return errs.Invalidf("%s: not a filter (use %s)", f, strings.Join(FacetFields, ", "))
		}
		for _, v := range vs {
			if !utf8.ValidString(v) || len(v) > 200 {
				return errs.Invalidf("%s: invalid value", f)
			}
		}
	}
	switch q.Sort {
	case "":
		q.Sort = SortRelevance
	case SortRelevance, SortNewest, SortDownloads:
	default:
		return errs.Invalidf("sort: one of relevance, newest, downloads")
	}
	if q.Page < 1 {
		q.Page = 1
	}
	if q.PerPage <= 0 {
		q.PerPage = 20
	}
	if q.PerPage > 100 {
		q.PerPage = 100
	}
	if q.Page > 500 {
		return errs.Invalidf("page: at most 500")
	}
	return nil
}

// Terms splits a query into words: at white space (ASCII or full-width)
// and at punctuation, which carries no meaning in a catalog search.
func Terms(s string) []string {
	raw := strings.FieldsFunc(s, func(r rune) bool {
		if r == '-' || r == '_' || r == '.' {
			return false // kept inside codes such as JTJ-001 and PM2.5
		}
		return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsControl(r)
	})
	out := raw[:0]
	for _, t := range raw {
		if t = strings.Trim(t, "-_."); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// Highlight escapes text and marks the query's words in it. A word that
// does not occur whole is marked by its two-character pieces, which is how
// the Chinese analysis matched it.
func Highlight(text, query string) template.HTML {
	terms := Terms(query)
	if len(terms) == 0 || text == "" {
		return template.HTML(html.EscapeString(text))
	}
	lower := strings.ToLower(text)
	type span struct{ from, to int }
	var spans []span
	mark := func(needle string) bool {
		found := false
		n := strings.ToLower(needle)
		for i := 0; ; {
			j := strings.Index(lower[i:], n)
			if j < 0 || n == "" {
				break
			}
			spans = append(spans, span{i + j, i + j + len(n)})
			i += j + len(n)
			found = true
		}
		return found
	}
	for _, t := range terms {
		if mark(t) {
			continue
		}
		r := []rune(t)
		for i := 0; i+1 < len(r); i++ {
			mark(string(r[i : i+2]))
		}
	}
	if len(spans) == 0 {
		return template.HTML(html.EscapeString(text))
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	var b strings.Builder
	pos := 0
	for _, s := range spans {
		if s.from < pos {
			if s.to > pos { // overlapping: extend the open mark
				b.WriteString(html.EscapeString(text[pos:s.to]))
				pos = s.to
			}
			continue
		}
		b.WriteString(html.EscapeString(text[pos:s.from]))
		b.WriteString("<mark>")
		b.WriteString(html.EscapeString(text[s.from:s.to]))
		b.WriteString("</mark>")
		pos = s.to
	}
	b.WriteString(html.EscapeString(text[pos:]))
	// Merge adjacent marks: "<mark>公交</mark><mark>站点</mark>" reads better whole.
	return template.HTML(strings.ReplaceAll(b.String(), "</mark><mark>", ""))
}
