package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	bindex "github.com/blevesearch/bleve_index_api"
	"go.etcd.io/bbolt"
)

// Bleve is the embedded index (see analysis.go for how Chinese is cut into
// words). Ranking: BM25 over fields weighted title > keywords > department
// and data items > summary, the synonyms of each word as alternatives, an
// exact-title and a phrase boost and a mild popularity prior; documents that
// hold every query word come first, then the looser tiers (any word, then
// any character pair) are appended after them, never instead of them.
type Bleve struct {
	idx  bleve.Index
	dict atomic.Pointer[Dictionary]
	// facets caches facet counts and totals by query and filters; any write
	// that can change them clears it. Counting facets costs bleve far more
	// than finding the hits, and the same searches repeat all day.
	mu     sync.Mutex
	facets map[string]facetEntry
}

type facetEntry struct {
	facets map[string][]FacetValue
	total  int
}

var _ Index = (*Bleve)(nil)

// Field weights.
const (
	boostTitle    = 5.0
	boostKeywords = 3.0
	boostMeta     = 1.5 // department and data items
	boostSummary  = 1.0
	boostEnTitle  = 4.0
	boostCode     = 10.0
	// Synonyms count a little less than the word typed.
	boostSynonym = 0.8
	// Character pairs stand in for words the dictionary does not know.
	boostPairsTitle = 2.0
	boostPairsBody  = 0.4
)

func newMapping() (*mapping.IndexMappingImpl, error) {
	im := bleve.NewIndexMapping()
	im.ScoringModel = bindex.BM25Scoring
	if err := im.AddCustomTokenFilter("cjk_bigram_unigram", map[string]any{"type": cjk.BigramName, "output_unigram": true}); err != nil {
		return nil, err
	}
	for name, a := range map[string]map[string]any{
		// words (gse), already folded by the tokenizer
		"zhw": {"type": custom.Name, "tokenizer": wordTokenizerName},
		// overlapping character pairs: the fallback for unknown words
		"zh": {"type": custom.Name, "tokenizer": unicode.Name, "token_filters": []string{cjk.WidthName, lowercase.Name, cjk.BigramName}},
		// single characters, searched only for one-character queries
		"zh1": {"type": custom.Name, "tokenizer": unicode.Name, "token_filters": []string{cjk.WidthName, lowercase.Name, "cjk_bigram_unigram"}},
		// English words as written (for "did you mean")
		"enraw": {"type": custom.Name, "tokenizer": unicode.Name, "token_filters": []string{lowercase.Name}},
	} {
		if err := im.AddCustomAnalyzer(name, a); err != nil {
			return nil, err
		}
	}
	doc := bleve.NewDocumentMapping()
	text := func(analyzer string) *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer, f.Store, f.IncludeTermVectors, f.IncludeInAll = analyzer, false, false, false
		return f
	}
	kw := func(store bool) *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Analyzer, f.Store, f.IncludeInAll, f.DocValues = keyword.Name, store, false, true
		return f
	}
	num := func() *mapping.FieldMapping {
		f := bleve.NewNumericFieldMapping()
		f.Store, f.IncludeInAll, f.DocValues = true, false, true
		return f
	}
	for name, analyzer := range map[string]string{
		"tw": "zhw", "kw": "zhw", "mw": "zhw", "sw": "zhw", // words: title, keywords, department and items, summary
		"tb": "zh", "ab": "zh", // pairs: title and keywords, the rest
		"t1": "zh1", "a1": "zh1", // single characters
		"en_t": en.AnalyzerName, "en_s": en.AnalyzerName, "en_w": "enraw", // English title, Latin words elsewhere
	} {
		doc.AddFieldMappingsAt(name, text(analyzer))
	}
	doc.AddFieldMappingsAt("codex", kw(false))
	for _, f := range []string{"title", "title_en", "summary", "keywords", "department_name", "department_name_en"} {
		m := bleve.NewTextFieldMapping()
		m.Index, m.Store, m.IncludeInAll, m.IncludeTermVectors = false, true, false, false
		doc.AddFieldMappingsAt(f, m)
	}
	for _, f := range append([]string{"code"}, FacetFields...) {
		doc.AddFieldMappingsAt(f, kw(true))
	}
	// All facet values in one field ("domain\x1ftransport" …): counting
	// facets then reads one doc-value list per hit instead of six.
	facet := bleve.NewKeywordFieldMapping()
	facet.Store, facet.IncludeInAll, facet.DocValues = false, false, true
	doc.AddFieldMappingsAt("facet", facet)
	for _, f := range []string{"published", "updated", "downloads", "views", "rows"} {
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

// mappingVersion changes whenever the analysis changes: an index built by
// an older binary is rebuilt from the database at start.
const mappingVersion = "3-words-bm25-dept-en" // 3: the department's English name stored

var mappingKey = []byte("opendata.mapping")

// OpenBleve opens (or creates) the index in dir; dir "" keeps it in memory.
// An index made with another analysis is emptied (its position dropped), so
// the change-log follower rebuilds it from the database.
func OpenBleve(dir string) (*Bleve, error) {
	if _, err := segmenter(); err != nil {
		return nil, fmt.Errorf("load the Chinese dictionary: %w", err)
	}
	im, err := newMapping()
	if err != nil {
		return nil, err
	}
	if dir == "" {
		idx, err := bleve.NewMemOnly(im)
		if err != nil {
			return nil, err
		}
		return &Bleve{idx: idx}, idx.SetInternal(mappingKey, []byte(mappingVersion))
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
		if v, _ := idx.GetInternal(mappingKey); string(v) == mappingVersion {
			return &Bleve{idx: idx}, nil
		}
		// Made by an older analysis: start again.
		idx.Close()
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("replace old search index %s: %w", dir, err)
		}
	}
	idx, err := bleve.NewUsing(dir, im, scorch.Name, scorch.Name, cfg)
	if err != nil {
		return nil, fmt.Errorf("create search index %s: %w", dir, err)
	}
	return &Bleve{idx: idx}, idx.SetInternal(mappingKey, []byte(mappingVersion))
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

// SetSynonyms makes the search use d from the next query on.
func (b *Bleve) SetSynonyms(ctx context.Context, d *Dictionary) error {
	b.dict.Store(d)
	b.invalidate()
	return nil
}

// Synonyms is the dictionary in use.
func (b *Bleve) Synonyms() *Dictionary { return b.dict.Load() }

// bleveDoc flattens a Doc into what the mapping indexes; times become
// numbers so they sort.
func bleveDoc(d Doc) map[string]any {
	facets := []string{"department\x1f" + d.Department, "domain\x1f" + d.Domain, "open_type\x1f" + d.OpenType, "update_period\x1f" + d.UpdatePeriod}
	for _, f := range d.Format {
		facets = append(facets, "format\x1f"+f)
	}
	kws := make([]string, 0, len(d.Keywords))
	for _, k := range d.Keywords {
		if k = NormalizeTerm(k); k != "" {
			facets = append(facets, "keyword\x1f"+k)
			kws = append(kws, k)
		}
	}
	kwText := strings.Join(d.Keywords, " \n ")
	meta := strings.Join(append([]string{d.DepartmentName}, d.Items...), " \n ")
	updated := d.Updated
	if updated.IsZero() {
		updated = d.Published
	}
	return map[string]any{
		"tw": d.Title, "kw": kwText, "mw": meta, "sw": d.Summary,
		"tb": d.Title + " \n " + kwText, "ab": d.Summary + " \n " + meta,
		"t1": d.Title + " \n " + kwText, "a1": d.Summary + " \n " + meta,
		"en_t": d.TitleEn, "en_s": latinWords(d.Title, d.Summary, kwText, meta), "en_w": d.TitleEn,
		"codex": NormalizeTerm(d.Code),
		"facet": facets, "code": d.Code, "title": d.Title, "title_en": d.TitleEn, "summary": d.Summary, "keywords": d.Keywords, "keyword": kws,
		"department_name": d.DepartmentName, "department_name_en": d.DepartmentEn, "department": d.Department, "domain": d.Domain, "format": d.Format,
		"open_type": d.OpenType, "update_period": d.UpdatePeriod, "published": float64(d.Published.Unix()), "updated": float64(updated.Unix()),
		"downloads": float64(d.Downloads), "views": float64(d.Views), "rows": float64(d.Rows),
	}
}

func (b *Bleve) invalidate() {
	b.mu.Lock()
	b.facets = nil
	b.mu.Unlock()
}

func (b *Bleve) cachedFacets(key string) (facetEntry, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f, ok := b.facets[key]
	return f, ok
}

func (b *Bleve) storeFacets(key string, f facetEntry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.facets == nil || len(b.facets) >= 4096 {
		b.facets = map[string]facetEntry{}
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

func termQ(term, field string, boost float64) query.Query {
	t := query.NewTermQuery(term)
	t.SetField(field)
	t.SetBoost(boost)
	return t
}

func matchQ(text, field string, boost float64) query.Query {
	m := query.NewMatchQuery(text)
	m.SetField(field)
	m.SetOperator(query.MatchQueryOperatorAnd)
	m.SetBoost(boost)
	return m
}

// wordAlternatives are the fields a word may be found in, weighted.
func wordAlternatives(w string, weight float64) []query.Query {
	qs := []query.Query{
		termQ(w, "tw", boostTitle*weight), termQ(w, "kw", boostKeywords*weight),
		termQ(w, "mw", boostMeta*weight), termQ(w, "sw", boostSummary*weight),
	}
	if isLatin(w) {
		qs = append(qs, matchQ(w, "en_t", boostEnTitle*weight), matchQ(w, "en_s", boostSummary*weight))
	}
	return qs
}

// phraseQuery requires every word of a phrase (a synonym such as 社会保险).
func phraseQuery(ws []string, weight float64) query.Query {
	if len(ws) == 0 {
		return nil
	}
	per := make([]query.Query, 0, len(ws))
	for _, w := range ws {
		per = append(per, query.NewDisjunctionQuery(wordAlternatives(w, weight)))
	}
	if len(per) == 1 {
		return per[0]
	}
	return query.NewConjunctionQuery(per)
}

// plan is what a query text becomes.
type plan struct {
	terms    []string
	strict   query.Query   // every term
	looser   []query.Query // any term or word; then any character pair
	words    []string      // to highlight
	expanded []string      // synonyms searched too
}

// wordQuery finds one word: in the word fields, or as any of its synonyms
// (but those in skip, which the caller searches on their own).
func (p *plan) wordQuery(w string, dict *Dictionary, skip []string) query.Query {
	p.words = append(p.words, w)
	return query.NewDisjunctionQuery(append(wordAlternatives(w, 1), p.synonyms([]string{w}, dict.Expand(w), skip)...))
}

// synonyms are the queries for the synonyms syns of a word or term whose
// words are of. A synonym holding all of those words (景区 → a级旅游景区,
// 价格 → 价格监测) finds nothing they do not find already; searched again it
// would only walk the same long posting lists once more, so it is left out.
func (p *plan) synonyms(of, syns, skip []string) []query.Query {
	var out []query.Query
	for _, s := range syns {
		if slices.Contains(skip, s) {
			continue
		}
		ws := queryWords(s, false)
		if len(ws) > 1 && containsAll(ws, of) {
			continue
		}
		if q := phraseQuery(ws, boostSynonym); q != nil {
			out = append(out, q)
			p.expanded = append(p.expanded, s)
			p.words = append(p.words, s)
		}
	}
	return out
}

func containsAll(set, of []string) bool {
	for _, w := range of {
		if !slices.Contains(set, w) {
			return false
		}
	}
	return true
}

// termQuery finds one query term (a run without spaces): all of its words,
// or all of its own character pairs (for a term the dictionary cuts badly),
// or the term's synonyms. Pairs that straddle two terms are never asked for.
func (p *plan) termQuery(t string, dict *Dictionary) (strict query.Query, words []query.Query) {
	if isLatin(t) {
		alts := []query.Query{termQ(NormalizeTerm(t), "codex", boostCode)}
		for _, w := range queryWords(t, false) {
			alts = append(alts, p.wordQuery(w, dict, nil))
		}
		return query.NewDisjunctionQuery(alts), nil
	}
	if runeLen(t) == 1 {
		alts := append(wordAlternatives(t, 1), matchQ(t, "t1", boostTitle), matchQ(t, "a1", boostSummary))
		p.words = append(p.words, t)
		alts = append(alts, p.synonyms([]string{t}, dict.Expand(t), nil)...)
		return query.NewDisjunctionQuery(alts), nil
	}
	ws := queryWords(t, false)
	var termSyns []string // searched for the whole term, so not for each word
	if len(ws) > 1 {
		termSyns = dict.Expand(t)
	}
	var alts []query.Query
	for _, w := range ws {
		words = append(words, p.wordQuery(w, dict, termSyns))
	}
	switch len(words) {
	case 0:
	case 1:
		alts = append(alts, words[0])
	default:
		alts = append(alts, query.NewConjunctionQuery(words))
	}
	if pairsNeeded(ws) {
		alts = append(alts, matchQ(t, "tb", boostPairsTitle), matchQ(t, "ab", boostPairsBody))
	}
	if len(ws) > 1 {
		p.words = append(p.words, t)
		alts = append(alts, p.synonyms(ws, termSyns, nil)...)
	}
	if len(words) < 2 {
		words = nil
	}
	return query.NewDisjunctionQuery(alts), words
}

// pairsNeeded reports whether a term cut into words ws also needs its
// character pairs: when the dictionary did not know it (it fell apart into
// single characters, or into nothing but stop words). A term cut into
// dictionary words is found by its words, because documents are cut in
// search mode (every dictionary word inside a longer one is indexed);
// its pairs would walk another long posting list each for the same
// documents (the judged set scores no lower without them, and the looser
// tier still matches pairs in titles).
func pairsNeeded(ws []string) bool {
	if len(ws) == 0 {
		return true
	}
	for _, w := range ws {
		if runeLen(w) < 2 && !isLatin(w) {
			return true
		}
	}
	return false
}

func makePlan(text string, dict *Dictionary) plan {
	var p plan
	p.terms = Terms(text)
	var per []query.Query
	for _, t := range p.terms {
		s, _ := p.termQuery(t, dict)
		per = append(per, s)
	}
	switch len(per) {
	case 0:
		p.strict = query.NewMatchAllQuery()
		return p
	case 1:
		p.strict = per[0]
	default:
		p.strict = query.NewConjunctionQuery(per)
	}
	// Looser: any word of the query, including the words inside its words
	// (医疗机构 → 医疗, 机构), the list-kind words (信息, 名录) counting little.
	var anyWord []query.Query
	if len(per) > 1 {
		anyWord = append(anyWord, per...)
	}
	seen := map[string]bool{}
	for _, t := range p.terms {
		if isLatin(t) || runeLen(t) < 2 {
			continue
		}
		ws := queryWords(t, true)
		if len(ws) < 2 {
			continue
		}
		for _, w := range ws {
			if seen[w] || runeLen(w) < 2 {
				continue
			}
			seen[w] = true
			weight := 0.6
			if genericWords[w] {
				weight = 0.15
			}
			anyWord = append(anyWord, wordAlternatives(w, weight)...)
		}
	}
	if len(anyWord) > 0 {
		p.looser = append(p.looser, query.NewDisjunctionQuery(anyWord))
	}
	// Any two-character piece of a longer Chinese term, in a title or
	// keyword ("公交站点" still lists "出租车站点与停靠区"). Single characters
	// never count here, or "床位" would match every text with "位".
	var pairs []query.Query
	for _, t := range p.terms {
		r := []rune(t)
		if isLatin(t) || len(r) < 3 {
			continue
		}
		for i := 0; i+1 < len(r); i++ {
			pairs = append(pairs, matchQ(string(r[i:i+2]), "tb", 0.2))
		}
	}
	if len(pairs) > 0 {
		p.looser = append(p.looser, query.NewDisjunctionQuery(pairs))
	}
	p.words = dedupe(p.words)
	p.expanded = dedupe(p.expanded)
	return p
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
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
			if f == "keyword" {
				v = NormalizeTerm(v)
			}
			t := query.NewTermQuery(v)
			t.SetField(f)
			any = append(any, t)
		}
		out = append(out, query.NewDisjunctionQuery(any))
	}
	return out
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

func and(qs ...query.Query) query.Query {
	var keep []query.Query
	for _, q := range qs {
		if q != nil {
			keep = append(keep, q)
		}
	}
	if len(keep) == 1 {
		return keep[0]
	}
	return query.NewConjunctionQuery(keep)
}

// rerankWindow is how many of a tier's best hits are re-ordered by the
// exact-title, phrase and popularity factors (deeper pages keep BM25 order).
const rerankWindow = 100

func (b *Bleve) Search(ctx context.Context, q Query) (Result, error) {
	if err := q.Normalize(); err != nil {
		return Result{}, err
	}
	dict := b.dict.Load()
	p := makePlan(q.Text, dict)
	filters := filterQuery(q.Filters, "")
	union := p.strict
	if len(p.looser) > 0 {
		union = query.NewDisjunctionQuery(append([]query.Query{p.strict}, p.looser...))
	}
	key := q.Text + "\x00" + filterKey(q.Filters)
	fe, err := b.facetCounts(ctx, key, union, q.Filters)
	if err != nil {
		return Result{}, err
	}
	out := Result{Total: fe.total, Facets: fe.facets, Words: p.words, Expanded: p.expanded}
	from := (q.Page - 1) * q.PerPage
	if q.Sort != SortRelevance || len(p.terms) == 0 {
		hits, _, err := b.hits(ctx, and(append([]query.Query{union}, filters...)...), from, q.PerPage, q.Sort)
		out.Hits = hits
		return b.finish(ctx, out, q, p), err
	}
	// Strict tier first, re-ranked in its best window; the looser tiers
	// after it.
	strictQ := and(append([]query.Query{p.strict}, filters...)...)
	strict, nStrict, err := b.rankedHits(ctx, strictQ, from, q.PerPage, p)
	if err != nil {
		return Result{}, err
	}
	out.Hits = strict
	if len(p.looser) > 0 && from+q.PerPage > nStrict && out.Total > nStrict {
		rest := query.NewBooleanQuery([]query.Query{and(append([]query.Query{union}, filters...)...)}, nil, []query.Query{p.strict})
		lfrom := max(0, from-nStrict)
		loose, _, err := b.rankedHits(ctx, rest, lfrom, q.PerPage-len(strict), p)
		if err != nil {
			return Result{}, err
		}
		out.Hits = append(out.Hits, loose...)
	}
	return b.finish(ctx, out, q, p), nil
}

// finish adds "did you mean" to a search that found nothing.
func (b *Bleve) finish(ctx context.Context, out Result, q Query, p plan) Result {
	if out.Total == 0 && len(p.terms) > 0 {
		out.Suggestion = b.suggest(ctx, p.terms)
	}
	return out
}

// facetCounts counts facets over every match (all tiers). A field with a
// selected value is counted without its own filter, so the other values of
// that field stay selectable (multi-select facets).
func (b *Bleve) facetCounts(ctx context.Context, key string, union query.Query, filters map[string][]string) (facetEntry, error) {
	if fe, ok := b.cachedFacets(key); ok {
		return fe, nil
	}
	count := func(top query.Query) (map[string][]FacetValue, int, error) {
		req := bleve.NewSearchRequestOptions(top, 0, 0, false)
		// Counting needs no scores: bleve then merges the posting lists
		// of plain disjunctions instead of scoring every match.
		req.Score = "none"
		req.AddFacet("facet", bleve.NewFacetRequest("facet", 10000))
		res, err := b.idx.SearchInContext(ctx, req)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: search: %v", errUnavailable, err)
		}
		out := map[string][]FacetValue{}
		if f := res.Facets["facet"]; f != nil && f.Terms != nil {
			for _, t := range f.Terms.Terms() {
				name, value, ok := strings.Cut(t.Term, "\x1f")
				if ok {
					out[name] = append(out[name], FacetValue{Value: value, Count: t.Count})
				}
			}
		}
		for _, vals := range out {
			sortFacet(vals)
		}
		return out, int(res.Total), nil
	}
	facets, total, err := count(and(append([]query.Query{union}, filterQuery(filters, "")...)...))
	if err != nil {
		return facetEntry{}, err
	}
	for f, vs := range filters {
		if len(vs) == 0 {
			continue
		}
		others, _, err := count(and(append([]query.Query{union}, filterQuery(filters, f)...)...))
		if err != nil {
			return facetEntry{}, err
		}
		facets[f] = others[f]
		if facets[f] == nil {
			facets[f] = []FacetValue{}
		}
	}
	fe := facetEntry{facets: facets, total: total}
	b.storeFacets(key, fe)
	return fe, nil
}

func (b *Bleve) hits(ctx context.Context, top query.Query, from, size int, sortBy string) ([]Hit, int, error) {
	if size <= 0 {
		return nil, 0, nil
	}
	req := bleve.NewSearchRequestOptions(top, size, from, false)
	req.Fields = []string{"*"}
	switch sortBy {
	case SortNewest:
		req.SortBy([]string{"-published", "-_score", "_id"})
	case SortDownloads:
		req.SortBy([]string{"-downloads", "-_score", "_id"})
	}
	// Relevance keeps bleve's own score order: extra sort keys would load
	// doc values for every matching document.
	res, err := b.idx.SearchInContext(ctx, req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: search: %v", errUnavailable, err)
	}
	out := make([]Hit, 0, len(res.Hits))
	for _, h := range res.Hits {
		out = append(out, Hit{Doc: docFromFields(h.ID, h.Fields), Score: h.Score})
	}
	return out, int(res.Total), nil
}

// rankedHits returns hits [from, from+size) of one tier: within the first
// rerankWindow by BM25 with the exact-title, phrase and popularity factors
// applied, beyond it by BM25 alone.
func (b *Bleve) rankedHits(ctx context.Context, top query.Query, from, size int, p plan) ([]Hit, int, error) {
	if size <= 0 {
		_, n, err := b.hits(ctx, top, 0, 1, SortRelevance)
		return nil, n, err
	}
	if from+size > rerankWindow {
		return b.hits(ctx, top, from, size, SortRelevance)
	}
	window := min(rerankWindow, max(from+size, 30))
	hits, n, err := b.hits(ctx, top, 0, window, SortRelevance)
	if err != nil {
		return nil, 0, err
	}
	Rerank(hits, p.terms)
	if from >= len(hits) {
		return nil, n, nil
	}
	return hits[from:min(len(hits), from+size)], n, nil
}

// compact is a text as compared for exact and phrase matches: folded,
// without spaces and punctuation.
func compact(s string) string {
	return strings.Join(Terms(NormalizeTerm(s)), "")
}

// genericSuffixes are words a title ends with that a person leaves out:
// "公共图书馆" is the exact title of 公共图书馆信息.
var genericSuffixes = []string{"信息", "名录", "数据", "目录", "清单", "情况", "分布"}

func stripSuffix(s string) string {
	for _, suf := range genericSuffixes {
		if t, ok := strings.CutSuffix(s, suf); ok && t != "" {
			return t
		}
	}
	return s
}

// Rerank reorders hits of one tier by their score times an exact-title
// factor (the query is the title), a phrase factor (the title holds the
// query as it was typed) and a mild popularity prior (log of downloads).
// Both backends rank their first results with it.
func Rerank(hits []Hit, terms []string) {
	if len(hits) == 0 || len(terms) == 0 {
		return
	}
	q := compact(strings.Join(terms, ""))
	for i := range hits {
		h := &hits[i]
		title, en := compact(h.Title), compact(h.TitleEn)
		f := 1.0
		switch {
		case q == title || q == stripSuffix(title) || stripSuffix(q) == title || (en != "" && q == en):
			f = 3
		case runeLen(q) >= 2 && (strings.Contains(title, q) || strings.Contains(en, q)):
			f = 1.6
		}
		f *= 1 + 0.04*math.Log10(1+float64(max(h.Downloads, 0)))
		h.Score *= f
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Score > hits[j].Score })
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
		DepartmentName: s("department_name"), DepartmentEn: s("department_name_en"), Department: s("department"), Domain: s("domain"), Format: list("format"),
		OpenType: s("open_type"), UpdatePeriod: s("update_period"), Published: time.Unix(int64(n("published")), 0).UTC(),
		Updated: time.Unix(int64(n("updated")), 0).UTC(), Downloads: int64(n("downloads")), Views: int64(n("views")), Rows: int64(n("rows"))}
}

// suggest proposes, for a search that found nothing, the query with each
// term that has no match replaced by the nearest word the index or the
// dictionary knows (one character off for short words, two for longer).
func (b *Bleve) suggest(ctx context.Context, terms []string) string {
	changed := false
	out := make([]string, len(terms))
	for i, t := range terms {
		out[i] = t
		nt := NormalizeTerm(t)
		if runeLen(nt) < 2 {
			continue
		}
		best, bestDist, bestCount := "", 3, uint64(0)
		limit := 1
		if runeLen(nt) > 4 {
			limit = 2
		}
		consider := func(w string, count uint64) {
			if w == nt || runeLen(w) < 2 || abs(runeLen(w)-runeLen(nt)) > limit {
				return
			}
			d := editDistance(w, nt, limit)
			if d <= limit && (d < bestDist || d == bestDist && count > bestCount) {
				best, bestDist, bestCount = w, d, count
			}
		}
		fields := []string{"tw", "kw"}
		if isLatin(nt) {
			fields = []string{"en_w", "codex"}
		}
		for _, field := range fields {
			fd, err := b.idx.FieldDict(field)
			if err != nil {
				continue
			}
			for {
				e, err := fd.Next()
				if err != nil || e == nil {
					break
				}
				consider(e.Term, e.Count)
			}
			fd.Close()
		}
		for _, w := range b.dict.Load().Words() {
			consider(w, 1)
		}
		if best != "" {
			out[i], changed = best, true
		}
	}
	if !changed {
		return ""
	}
	return strings.Join(out, " ")
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// editDistance is the Levenshtein distance of two words in characters,
// or limit+1 once it exceeds limit.
func editDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		low := cur[0]
		for j := 1; j <= len(rb); j++ {
			c := 1
			if ra[i-1] == rb[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
			low = min(low, cur[j])
		}
		if low > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

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
