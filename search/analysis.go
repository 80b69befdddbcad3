package search

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/registry"
	"github.com/go-ego/gse"
)

// Chinese analysis. Text is cut into words with gse (a maintained pure-Go
// segmenter whose dictionary is embedded in the module: nothing is
// downloaded at run time). Documents are cut in search mode, which also
// emits the dictionary words inside a longer word (公交站点 → 公交, 站点,
// 公交站, 公交站点), so a query word matches a document word rather than a
// run of characters. Latin letters and digits stay whole tokens (pm2.5,
// jtj-001). Character pairs are kept in separate fields as the fallback for
// words the dictionary does not know; a query asks for the pairs of each of
// its own words only, never for pairs that straddle two words.

var (
	segOnce sync.Once
	seg     gse.Segmenter
	segErr  error
)

// segmenter loads gse's embedded simplified-Chinese dictionary once per
// process (about a second and 130 MB): only processes that search or index
// pay for it, never the command-line tools that run beside a server.
func segmenter() (*gse.Segmenter, error) {
	segOnce.Do(func() {
		seg.SkipLog = true
		segErr = seg.LoadDictEmbed("zh_s")
	})
	return &seg, segErr
}

// stopWords carry no meaning in a catalog query.
var stopWords = map[string]bool{"的": true, "与": true, "和": true, "及": true, "或": true, "等": true, "之": true, "在": true,
	"了": true, "是": true, "对": true, "有": true, "the": true, "of": true, "and": true, "a": true, "an": true, "in": true, "for": true}

func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// runs splits folded text into Han runs and Latin/digit runs (keeping
// '.', '-' and '_' between letters or digits: PM2.5, JTJ-001).
func runs(s string, fn func(run string, han bool)) {
	rs := []rune(s)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case isHan(r):
			j := i
			for j < len(rs) && isHan(rs[j]) {
				j++
			}
			fn(string(rs[i:j]), true)
			i = j
		case isWordRune(r):
			j := i + 1
			for j < len(rs) {
				c := rs[j]
				if isWordRune(c) && !isHan(c) {
					j++
					continue
				}
				if (c == '.' || c == '-' || c == '_') && j+1 < len(rs) && isWordRune(rs[j+1]) && !isHan(rs[j+1]) {
					j++
					continue
				}
				break
			}
			fn(string(rs[i:j]), false)
			i = j
		default:
			i++
		}
	}
}

// Words cuts text into its words, folded (lower case, full-width as
// ASCII). In search mode (documents) the words inside longer words are
// emitted too.
func Words(text string, searchMode bool) []string {
	sg, err := segmenter()
	var out []string
	runs(string(foldString(text)), func(run string, han bool) {
		if !han || err != nil {
			if han { // no dictionary: single characters
				for _, r := range run {
					out = append(out, string(r))
				}
				return
			}
			out = append(out, run)
			return
		}
		if searchMode {
			out = append(out, sg.CutSearch(run, true)...)
		} else {
			out = append(out, sg.Cut(run, true)...)
		}
	})
	return out
}

// queryWords are the words a query term must match: its words without
// stop words. In search mode the words inside longer words come too (for
// the looser tier).
func queryWords(term string, searchMode bool) []string {
	ws := Words(term, searchMode)
	if len(ws) <= 1 {
		return ws
	}
	var out []string
	for _, w := range ws {
		if !stopWords[w] {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		return ws
	}
	return dedupe(out)
}

// genericWords say what kind of list an entry is, not what it is about: a
// looser match on them alone counts little.
var genericWords = map[string]bool{"信息": true, "名录": true, "数据": true, "目录": true, "清单": true, "情况": true, "统计": true,
	"分布": true, "名单": true, "公示": true, "查询": true, "服务": true, "管理": true}

// isLatin reports a term without Han characters (an English word, a code).
func isLatin(s string) bool {
	for _, r := range s {
		if isHan(r) {
			return false
		}
	}
	return s != ""
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }

// wordTokenizer is the bleve tokenizer for word fields.
type wordTokenizer struct{}

func (wordTokenizer) Tokenize(input []byte) analysis.TokenStream {
	words := Words(string(input), true)
	ts := make([]analysis.Token, len(words))
	out := make(analysis.TokenStream, 0, len(words))
	for i, w := range words {
		// Offsets are not used (highlighting is done on the stored text).
		ts[i] = analysis.Token{Term: []byte(w), Start: 0, End: 0, Position: i + 1, Type: analysis.Ideographic}
		out = append(out, &ts[i])
	}
	return out
}

const wordTokenizerName = "opendata_words"

func init() {
	registry.RegisterTokenizer(wordTokenizerName, func(map[string]any, *registry.Cache) (analysis.Tokenizer, error) {
		return wordTokenizer{}, nil
	})
}

// latinWords keeps the Latin words of a Chinese text (PM2.5, AQI, GDP) for
// the English field.
func latinWords(texts ...string) string {
	var b strings.Builder
	for _, t := range texts {
		runs(t, func(run string, han bool) {
			if !han {
				b.WriteString(run)
				b.WriteByte(' ')
			}
		})
	}
	return b.String()
}
