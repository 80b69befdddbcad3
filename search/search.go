// Package search is the catalog search: one small interface with an
// embedded bleve index (default, Chinese-aware) and Meilisearch
// (production); both pass searchtest.Run.
package search

import (
	"context"
	"html"
	"html/template"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"opendata/errs"
	"opendata/i18n"
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
	DepartmentEn   string    `json:"department_name_en"` // the English name, if any
	Department     string    `json:"department"`         // code (facet)
	Domain         string    `json:"domain"`
	Format         []string  `json:"format"` // csv, parquet …
	OpenType       string    `json:"open_type"`
	UpdatePeriod   string    `json:"update_period"`
	Published      time.Time `json:"published"`
	Updated        time.Time `json:"updated"` // the published version's date
	Downloads      int64     `json:"downloads"`
	Views          int64     `json:"views"`
	Rows           int64     `json:"rows"`
}

// FacetFields are the fields that can be filtered and counted.
var FacetFields = []string{"department", "domain", "keyword", "format", "open_type", "update_period"}

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
	// Words are what the search matched on (the query's words and the
	// synonyms searched too), for highlighting.
	Words []string `json:"words,omitempty"`
	// Expanded are the synonyms that were searched too ("也搜索了").
	Expanded []string `json:"expanded,omitempty"`
	// Suggestion is a query that would find something, when this one
	// found nothing ("did you mean").
	Suggestion string `json:"suggestion,omitempty"`
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

// Positioned is an index that remembers how far it has applied the
// change log (the embedded index, whose copy is one per instance).
type Positioned interface {
	Position() (seq int64, ok bool, err error)
	SetPosition(seq int64) error
}

// MaxQueryRunes bounds the query text; longer input is refused.
const MaxQueryRunes = 200

// Normalize checks and cleans a query: valid UTF-8, bounded length, known
// facet fields and sorts, a sane page. Errors are Invalid and name the
// parameter.
func (q *Query) Normalize() error {
	if !utf8.ValidString(q.Text) {
		return errs.Invalidf("err.search.utf8")
	}
	q.Text = strings.Join(Terms(q.Text), " ")
	if utf8.RuneCountInString(q.Text) > MaxQueryRunes {
		return errs.Invalidf("err.search.q_long", "max", MaxQueryRunes)
	}
	for f, vs := range q.Filters {
		if !slices.Contains(FacetFields, f) {
			return errs.Invalidf("err.search.not_filter", "name", f, "list", strings.Join(FacetFields, ", "))
		}
		for _, v := range vs {
			if !utf8.ValidString(v) || len(v) > 200 {
				return errs.Invalidf("err.search.bad_value", "name", f)
			}
		}
	}
	switch q.Sort {
	case "":
		q.Sort = SortRelevance
	case SortRelevance, SortNewest, SortDownloads:
	default:
		return errs.Invalidf("err.search.sort")
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
		return errs.Invalidf("err.search.page")
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
	return HighlightTerms(text, Terms(query))
}

// HighlightTerms escapes text and marks every occurrence of the terms,
// compared case-insensitively and with full-width Latin letters and digits
// folded to ASCII. A term that does not occur whole is marked by its
// two-character pieces. Matching is done on characters, never on bytes of
// a lower-cased copy: lower-casing changes the length of some characters
// (Ⱥ → ⱥ grows, İ → i shrinks), so byte offsets into a lower-cased copy do
// not fit the original.
func HighlightTerms(text string, terms []string) template.HTML {
	if text == "" || len(terms) == 0 {
		return template.HTML(html.EscapeString(text))
	}
	// offs[i] is the byte offset of character i in text; offs[n] = len(text).
	offs := make([]int, 0, len(text)+1)
	folded := make([]rune, 0, len(text))
	for i, r := range text {
		offs = append(offs, i)
		folded = append(folded, foldRune(r))
	}
	offs = append(offs, len(text))
	marked := make([]bool, len(folded))
	mark := func(needle []rune) bool {
		found := false
		if len(needle) == 0 || len(needle) > len(folded) {
			return false
		}
	outer:
		for i := 0; i+len(needle) <= len(folded); i++ {
			for j, r := range needle {
				if folded[i+j] != r {
					continue outer
				}
			}
			for j := range needle {
				marked[i+j] = true
			}
			found = true
		}
		return found
	}
	for _, t := range terms {
		n := foldString(t)
		if mark(n) {
			continue
		}
		for i := 0; i+1 < len(n); i++ {
			mark(n[i : i+2])
		}
	}
	var b strings.Builder
	b.Grow(len(text) + 32)
	open := false
	for i := range folded {
		if marked[i] && !open {
			b.WriteString("<mark>")
			open = true
		} else if !marked[i] && open {
			b.WriteString("</mark>")
			open = false
		}
		b.WriteString(html.EscapeString(text[offs[i]:offs[i+1]]))
	}
	if open {
		b.WriteString("</mark>")
	}
	return template.HTML(b.String())
}

// foldRune is the comparison form of a character: lower case, and
// full-width ASCII (ＰＭ２.５) as ASCII, as the analysis sees it.
func foldRune(r rune) rune {
	if r >= 0xFF01 && r <= 0xFF5E {
		r -= 0xFEE0
	}
	return unicode.ToLower(r)
}

func foldString(s string) []rune {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		out = append(out, foldRune(r))
	}
	return out
}

// TitleIn is the title in language lang: English in English where there is
// one, Chinese otherwise.
func (d Doc) TitleIn(lang string) string {
	if i18n.Lang(lang) == i18n.EN && d.TitleEn != "" {
		return d.TitleEn
	}
	return d.Title
}

// DepartmentIn is the department's name in language lang (see TitleIn).
func (d Doc) DepartmentIn(lang string) string {
	if i18n.Lang(lang) == i18n.EN && d.DepartmentEn != "" {
		return d.DepartmentEn
	}
	return d.DepartmentName
}
