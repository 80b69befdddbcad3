package search

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Kinds of synonym entries.
const (
	// SynonymEquivalent: every term of the entry finds the others (社保,
	// 社会保险).
	SynonymEquivalent = "equivalent"
	// SynonymOneWay: the term also finds its synonyms, not the reverse (a
	// narrower or older term: 学校 → 小学, 中学; 计生委 → 卫生健康委员会).
	SynonymOneWay = "oneway"
)

// Synonym is one entry of the bureau's dictionary.
type Synonym struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	Term      string    `json:"term"`
	Synonyms  []string  `json:"synonyms"`
	Note      string    `json:"note,omitempty"`
	UpdatedBy string    `json:"updated_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Dictionary answers "what else does this word mean" for the search. It is
// built from the entries once and never changed, so searches read it
// without locks; a new dictionary replaces the old one.
type Dictionary struct {
	expand map[string][]string // folded word → other words, in entry order
	words  map[string]bool     // every term and synonym (the segmenter learns them)
	n      int
}

// NormalizeTerm is the form a dictionary term is stored and compared in:
// trimmed, lower case, full-width Latin as ASCII.
func NormalizeTerm(s string) string {
	return string(foldString(strings.TrimSpace(s)))
}

// NewDictionary indexes entries.
func NewDictionary(entries []Synonym) *Dictionary {
	d := &Dictionary{expand: map[string][]string{}, words: map[string]bool{}, n: len(entries)}
	add := func(from, to string) {
		from, to = NormalizeTerm(from), NormalizeTerm(to)
		if from == "" || to == "" || from == to || slices.Contains(d.expand[from], to) {
			return
		}
		d.expand[from] = append(d.expand[from], to)
	}
	for _, e := range entries {
		group := append([]string{e.Term}, e.Synonyms...)
		for _, w := range group {
			if w = NormalizeTerm(w); w != "" {
				d.words[w] = true
			}
		}
		for _, s := range e.Synonyms {
			add(e.Term, s)
		}
		if e.Kind == SynonymEquivalent {
			for _, a := range group {
				for _, b := range group {
					add(a, b)
				}
			}
		}
	}
	return d
}

// Expand is what else word means (nil when nothing).
func (d *Dictionary) Expand(word string) []string {
	if d == nil {
		return nil
	}
	return d.expand[NormalizeTerm(word)]
}

// Words lists every term the dictionary knows.
func (d *Dictionary) Words() []string {
	if d == nil {
		return nil
	}
	out := make([]string, 0, len(d.words))
	for w := range d.words {
		out = append(out, w)
	}
	slices.Sort(out)
	return out
}

// Len is the number of entries the dictionary was built from.
func (d *Dictionary) Len() int {
	if d == nil {
		return 0
	}
	return d.n
}

// Map is the dictionary as Meilisearch takes it: word → words it also finds.
func (d *Dictionary) Map() map[string][]string {
	out := map[string][]string{}
	if d == nil {
		return out
	}
	for k, v := range d.expand {
		out[k] = append([]string{}, v...)
	}
	return out
}

// SynonymSetter is a backend that searches with the dictionary.
type SynonymSetter interface {
	SetSynonyms(ctx context.Context, d *Dictionary) error
}
