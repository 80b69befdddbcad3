// Package synonyms is the bureau's dictionary of search synonyms: everyday
// words and old names for the official terms the catalog uses (社保 →
// 社会保险, 公厕 → 公共厕所, 工商登记 → 市场主体登记), kept as data like the
// working-day calendar — seeded with a few hundred entries, edited on the
// web, imported and exported as CSV, and used by every search backend. Each
// change is a row in the search change log, so every instance (and a shared
// Meilisearch) searches with the new dictionary within seconds, without a
// restart. The package also keeps the queries that found nothing, so the
// dictionary grows from real use.
package synonyms

import (
	"context"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"opendata/db"
	"opendata/errs"
	"opendata/i18n"
	"opendata/publish"
	"opendata/search"
)

//go:embed seed.csv
var seedCSV string

// Limits of one entry and of the dictionary.
const (
	MaxTermRunes = 50
	MaxSynonyms  = 20
	MaxEntries   = 20000
	MaxCSVBytes  = 2 << 20
)

// Store keeps the dictionary in the metadata database.
type Store struct {
	DB *db.DB
}

const seededSetting = "synonyms_seeded"

// SeedIfEmpty loads the built-in dictionary the first time (once: a bureau
// that empties its dictionary keeps it empty).
func (s *Store) SeedIfEmpty(ctx context.Context) error {
	var done string
	err := s.DB.QueryRow(ctx, "SELECT value FROM settings WHERE name = ?", seededSetting).Scan(&done)
	if err == nil {
		return nil
	}
	if !errors.Is(db.MapErr(err), errs.NotFound) {
		return err
	}
	entries, err := ParseCSV(strings.NewReader(seedCSV))
	if err != nil {
		return fmt.Errorf("built-in synonyms: %w", err)
	}
	return s.DB.Tx(ctx, func(q db.Querier) error {
		res, err := q.Exec(ctx, "INSERT INTO settings (name, value) VALUES (?, 'yes') ON CONFLICT (name) DO NOTHING", seededSetting)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // another instance seeded it
		}
		var have int
		if err := q.QueryRow(ctx, "SELECT COUNT(*) FROM synonyms").Scan(&have); err != nil {
			return err
		}
		if have > 0 {
			return nil
		}
		for _, e := range entries {
			if err := put(ctx, q, "system", e); err != nil {
				return err
			}
		}
		_, err = publish.RecordChange(ctx, q, publish.ChangeSynonyms, 0)
		return err
	})
}

// List returns every entry, by term.
func (s *Store) List(ctx context.Context) ([]search.Synonym, error) {
	return db.QueryAll(ctx, s.DB, "SELECT id, kind, term, synonyms, note, updated_by, updated_at FROM synonyms ORDER BY term", func(r db.Scanner) (search.Synonym, error) {
		var e search.Synonym
		var syn string
		var at db.Time
		err := r.Scan(&e.ID, &e.Kind, &e.Term, &syn, &e.Note, &e.UpdatedBy, &at)
		e.Synonyms, e.UpdatedAt = splitList(syn), at.Time
		return e, err
	})
}

// Dictionary builds the search dictionary from the stored entries.
func (s *Store) Dictionary(ctx context.Context) (*search.Dictionary, error) {
	entries, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	return search.NewDictionary(entries), nil
}

// Validate checks and normalises an entry. Errors name the field.
func Validate(e *search.Synonym) error {
	fe := errs.FieldErrors{}
	e.Term = search.NormalizeTerm(e.Term)
	e.Note = strings.TrimSpace(e.Note)
	switch e.Kind {
	case "", "equivalent", "等价", "双向":
		e.Kind = search.SynonymEquivalent
	case "oneway", "one-way", "单向":
		e.Kind = search.SynonymOneWay
	default:
		fe["kind"] = "err.synonyms.f_kind"
	}
	if e.Term == "" || utf8.RuneCountInString(e.Term) > MaxTermRunes || !utf8.ValidString(e.Term) {
		fe["term"] = "err.synonyms.f_term" // MaxTermRunes
	}
	var syn []string
	for _, w := range e.Synonyms {
		w = search.NormalizeTerm(w)
		if w == "" || w == e.Term || slices.Contains(syn, w) {
			continue
		}
		if utf8.RuneCountInString(w) > MaxTermRunes || !utf8.ValidString(w) || strings.ContainsAny(w, "|\n") {
			fe["synonyms"] = "err.synonyms.f_each" // MaxTermRunes
			continue
		}
		syn = append(syn, w)
	}
	switch {
	case len(syn) == 0 && fe["synonyms"] == "":
		fe["synonyms"] = "err.synonyms.f_one"
	case len(syn) > MaxSynonyms:
		fe["synonyms"] = "err.synonyms.f_max" // MaxSynonyms
	}
	e.Synonyms = syn
	if utf8.RuneCountInString(e.Note) > 200 {
		fe["note"] = "err.synonyms.f_note"
	}
	return fe.Err()
}

func put(ctx context.Context, q db.Querier, actor string, e search.Synonym) error {
	_, err := q.Exec(ctx, `INSERT INTO synonyms (kind, term, synonyms, note, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (term) DO UPDATE SET kind = excluded.kind, synonyms = excluded.synonyms, note = excluded.note,
		updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		e.Kind, e.Term, strings.Join(e.Synonyms, "|"), e.Note, actor, db.Now())
	return err
}

// Put adds an entry or replaces the entry with the same term.
func (s *Store) Put(ctx context.Context, actor string, e search.Synonym) (search.Synonym, error) {
	if err := Validate(&e); err != nil {
		return e, err
	}
	err := s.DB.Tx(ctx, func(q db.Querier) error {
		var n int
		if err := q.QueryRow(ctx, "SELECT COUNT(*) FROM synonyms").Scan(&n); err != nil {
			return err
		}
		if n >= MaxEntries {
			return errs.Invalidf("err.synonyms.max", "max", MaxEntries)
		}
		if err := put(ctx, q, actor, e); err != nil {
			return err
		}
		if err := q.QueryRow(ctx, "SELECT id FROM synonyms WHERE term = ?", e.Term).Scan(&e.ID); err != nil {
			return err
		}
		_, err := publish.RecordChange(ctx, q, publish.ChangeSynonyms, 0)
		return err
	})
	return e, err
}

// Delete removes an entry.
func (s *Store) Delete(ctx context.Context, id int64) error {
	return s.DB.Tx(ctx, func(q db.Querier) error {
		res, err := q.Exec(ctx, "DELETE FROM synonyms WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.NotFoundf("err.synonyms.not_found", "id", id)
		}
		_, err = publish.RecordChange(ctx, q, publish.ChangeSynonyms, 0)
		return err
	})
}

// Import adds the entries (replacing those with the same term); with
// replace, entries not in the import are removed. All or nothing.
func (s *Store) Import(ctx context.Context, actor string, entries []search.Synonym, replace bool) (int, error) {
	if len(entries) > MaxEntries {
		return 0, errs.Invalidf("err.synonyms.at_most", "max", MaxEntries)
	}
	err := s.DB.Tx(ctx, func(q db.Querier) error {
		if replace {
			if _, err := q.Exec(ctx, "DELETE FROM synonyms"); err != nil {
				return err
			}
		}
		for _, e := range entries {
			if err := put(ctx, q, actor, e); err != nil {
				return err
			}
		}
		_, err := publish.RecordChange(ctx, q, publish.ChangeSynonyms, 0)
		return err
	})
	return len(entries), err
}

// SplitList splits a list of synonyms as people write it: at "|", "、",
// "，", "," or ";".
func SplitList(s string) []string { return splitList(s) }

func splitList(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune("|、；;，,", r) }) {
		if w = strings.TrimSpace(w); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// ParseCSV reads a dictionary: a header row "kind,term,synonyms,note" (or
// 类型,词语,同义词,说明), then one entry a row; synonyms are separated by
// "|" (or "、"). Errors name the row and the field.
func ParseCSV(r io.Reader) ([]search.Synonym, error) {
	cr := csv.NewReader(io.LimitReader(r, MaxCSVBytes+1))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err != nil {
		return nil, errs.Invalidf("err.synonyms.no_header")
	}
	col := map[string]int{}
	for i, h := range head {
		h = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(h)), "\uFEFF")
		switch h {
		case "kind", "类型":
			col["kind"] = i
		case "term", "词语", "词条":
			col["term"] = i
		case "synonyms", "同义词":
			col["synonyms"] = i
		case "note", "说明", "备注":
			col["note"] = i
		}
	}
	if _, ok := col["term"]; !ok {
		return nil, errs.Invalidf("err.synonyms.header_cols")
	}
	if _, ok := col["synonyms"]; !ok {
		return nil, errs.Invalidf("err.synonyms.header_cols")
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	var out []search.Synonym
	seen := map[string]int{}
	for row := 2; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errs.Invalidf("err.csv.row_unreadable", "row", row)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(out) >= MaxEntries {
			return nil, errs.Invalidf("err.synonyms.at_most", "max", MaxEntries)
		}
		e := search.Synonym{Kind: get(rec, "kind"), Term: get(rec, "term"), Synonyms: splitList(get(rec, "synonyms")), Note: get(rec, "note")}
		if err := Validate(&e); err != nil {
			var fe errs.FieldErrors
			if errors.As(err, &fe) {
				for f, msg := range fe {
					return nil, errs.Invalidf("err.synonyms.row_field", "row", row, "field", f, "msg", msgParam(msg))
				}
			}
			return nil, errs.Invalidf("err.synonyms.row_invalid", "row", row)
		}
		if prev, dup := seen[e.Term]; dup {
			return nil, errs.Invalidf("err.synonyms.dup_term", "row", row, "term", e.Term, "prev", prev)
		}
		seen[e.Term] = row
		out = append(out, e)
	}
	return out, nil
}

// WriteCSV writes entries in the form ParseCSV reads (UTF-8 with a BOM, so
// spreadsheet programs open it as such).
func WriteCSV(w io.Writer, entries []search.Synonym) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"kind", "term", "synonyms", "note"})
	for _, e := range entries {
		cw.Write([]string{e.Kind, neutral(e.Term), neutral(strings.Join(e.Synonyms, "|")), neutral(e.Note)})
	}
	cw.Flush()
	return cw.Error()
}

// neutral keeps a spreadsheet from reading a cell as a formula.
func neutral(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// msgParam is a field error's text as a message parameter: a catalog key
// is rendered in the reader's language.
func msgParam(msg string) any {
	if i18n.Has(msg) {
		return errs.Key(msg)
	}
	return msg
}
