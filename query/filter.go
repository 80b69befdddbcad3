// Package query answers the records API over a version's Parquet file: it
// parses select, filter, sort, paging and grouping parameters into a typed
// query checked against the file's schema, builds SQL with quoted
// identifiers and bound parameters only, and runs it on an embedded DuckDB
// that can read nothing but the local cache of the object store.
package query

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"opendata/errs"
	"opendata/i18n"
)

// Op is a filter operator.
type Op string

const (
	Eq       Op = "eq"
	Ne       Op = "ne"
	Lt       Op = "lt"
	Le       Op = "le"
	Gt       Op = "gt"
	Ge       Op = "ge"
	In       Op = "in"
	Contains Op = "contains"
	Prefix   Op = "prefix"
	IsNull   Op = "is null"
	NotNull  Op = "is not null"
)

var binaryOps = map[string]Op{"eq": Eq, "ne": Ne, "lt": Lt, "le": Le, "gt": Gt, "ge": Ge, "contains": Contains, "prefix": Prefix}

// Parser limits: a filter is a short expression, not a program.
const (
	MaxFilterBytes = 4000
	MaxConditions  = 50
	MaxInValues    = 200
	maxDepth       = 16
)

// Expr is a parsed filter: a condition or an and/or of expressions.
type Expr interface{ String() string }

// Cond compares one column with literal values (none for is null).
type Cond struct {
	Column string
	Op     Op
	Values []string
}

// Logic joins expressions with and or or.
type Logic struct {
	Or   bool
	Kids []Expr
}

func (c *Cond) String() string {
	col := quoteIdentLit(c.Column)
	switch c.Op {
	case IsNull, NotNull:
		return col + " " + string(c.Op)
	case In:
		vs := make([]string, len(c.Values))
		for i, v := range c.Values {
			vs[i] = quoteLit(v)
		}
		return col + " in (" + strings.Join(vs, ", ") + ")"
	}
	return col + " " + string(c.Op) + " " + quoteLit(c.Values[0])
}

func (l *Logic) String() string {
	sep := " and "
	if l.Or {
		sep = " or "
	}
	parts := make([]string, len(l.Kids))
	for i, k := range l.Kids {
		parts[i] = "(" + k.String() + ")"
	}
	return strings.Join(parts, sep)
}

func quoteLit(s string) string      { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
func quoteIdentLit(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// SyntaxError says where a filter went wrong, in the catalog's words: Key
// is a message key (err.query.filter.*) filled with the position as {pos}
// and Params; KeyParams are parameters that are message keys themselves.
type SyntaxError struct {
	Pos       int // 1-based character position
	Key       string
	Params    map[string]string
	KeyParams map[string]string
}

// syntaxErr is a SyntaxError at pos with name, value pairs of parameters.
func syntaxErr(pos int, key string, kv ...string) *SyntaxError {
	e := &SyntaxError{Pos: pos, Key: key, Params: map[string]string{"pos": fmt.Sprint(pos)}}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Params[kv[i]] = kv[i+1]
	}
	return e
}

// Public is the error as a person reads it: about the filter parameter,
// in the reader's language.
func (e *SyntaxError) Public() *errs.Public {
	return &errs.Public{Kind: errs.Invalid, Key: e.Key, Params: e.Params, KeyParams: e.KeyParams, AsDetail: true, Field: "filter"}
}

// Text renders the error in lang.
func (e *SyntaxError) Text(lang string) string { return e.Public().Text(lang) }

func (e *SyntaxError) Error() string { return e.Text(i18n.EN) }

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tString // 'single quoted' value
	tIdent  // "double quoted" column
	tLParen
	tRParen
	tComma
)

type token struct {
	kind tokKind
	text string
	pos  int // 1-based rune position
}

func lex(s string) ([]token, error) {
	var out []token
	runes := []rune(s)
	for i := 0; i < len(runes); {
		r := runes[i]
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			i++
		case r == '(':
			out = append(out, token{tLParen, "(", i + 1})
			i++
		case r == ')':
			out = append(out, token{tRParen, ")", i + 1})
			i++
		case r == ',':
			out = append(out, token{tComma, ",", i + 1})
			i++
		case r == '\'' || r == '"':
			start := i
			var b strings.Builder
			i++
			closed := false
			for i < len(runes) {
				if runes[i] == r {
					if i+1 < len(runes) && runes[i+1] == r { // doubled quote
						b.WriteRune(r)
						i += 2
						continue
					}
					closed = true
					i++
					break
				}
				b.WriteRune(runes[i])
				i++
			}
			if !closed {
				return nil, syntaxErr(start+1, "err.query.filter.unclosed_quote", "quote", string(r))
			}
			k := tString
			if r == '"' {
				k = tIdent
			}
			out = append(out, token{k, b.String(), start + 1})
		case r < 0x20 || r == 0x7f:
			return nil, syntaxErr(i+1, "err.query.filter.control")
		default:
			start := i
			for i < len(runes) && !strings.ContainsRune(" \t\n\r(),'\"", runes[i]) && runes[i] >= 0x20 {
				i++
			}
			out = append(out, token{tWord, string(runes[start:i]), start + 1})
		}
	}
	return append(out, token{kind: tEOF, pos: len(runes) + 1}), nil
}

type parser struct {
	toks  []token
	i     int
	conds int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) keyword(words ...string) bool {
	t := p.peek()
	if t.kind != tWord {
		return false
	}
	for _, w := range words {
		if strings.EqualFold(t.text, w) {
			return true
		}
	}
	return false
}

// ParseFilter reads a filter expression such as
//
//	town eq '舞阳坝' and (age ge 60 or status in ('a', 'b')) and note is not null
//
// Values may be bare words (30, 2024-01-01, 舞阳坝) or single-quoted;
// column names may be double-quoted. Operators: eq ne lt le gt ge in
// contains prefix, is null, is not null; combined with and/or and
// parentheses (and binds tighter).
func ParseFilter(s string) (Expr, error) {
	if len(s) > MaxFilterBytes {
		return nil, syntaxErr(1, "err.query.filter.too_long", "bytes", fmt.Sprint(len(s)), "max", fmt.Sprint(MaxFilterBytes))
	}
	if !utf8.ValidString(s) {
		return nil, syntaxErr(1, "err.query.filter.utf8")
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if p.peek().kind == tEOF {
		return nil, syntaxErr(1, "err.query.filter.empty")
	}
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, syntaxErr(t.pos, "err.query.filter.trailing", "got", fmt.Sprintf("%q", t.text))
	}
	return e, nil
}

func (p *parser) or(depth int) (Expr, error) {
	return p.chain(depth, true)
}

func (p *parser) chain(depth int, or bool) (Expr, error) {
	word := "and"
	sub := func() (Expr, error) { return p.factor(depth) }
	if or {
		word = "or"
		sub = func() (Expr, error) { return p.chain(depth, false) }
	}
	first, err := sub()
	if err != nil {
		return nil, err
	}
	kids := []Expr{first}
	for p.keyword(word) {
		p.next()
		k, err := sub()
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &Logic{Or: or, Kids: kids}, nil
}

func (p *parser) factor(depth int) (Expr, error) {
	t := p.peek()
	if t.kind == tLParen {
		if depth >= maxDepth {
			return nil, syntaxErr(t.pos, "err.query.filter.too_deep", "max", fmt.Sprint(maxDepth))
		}
		p.next()
		e, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, found(c, "err.query.filter.want_close", "open", fmt.Sprint(t.pos))
		}
		return e, nil
	}
	return p.cond()
}

func (p *parser) cond() (Expr, error) {
	col := p.next()
	if col.kind != tWord && col.kind != tIdent {
		return nil, found(col, "err.query.filter.want_column")
	}
	if col.kind == tWord && (strings.EqualFold(col.text, "and") || strings.EqualFold(col.text, "or")) {
		return nil, syntaxErr(col.pos, "err.query.filter.dangling", "word", fmt.Sprintf("%q", col.text))
	}
	p.conds++
	if p.conds > MaxConditions {
		return nil, syntaxErr(col.pos, "err.query.filter.too_many", "max", fmt.Sprint(MaxConditions))
	}
	opTok := p.next()
	if opTok.kind != tWord {
		return nil, found(opTok, "err.query.filter.want_op", "column", fmt.Sprintf("%q", col.text))
	}
	word := strings.ToLower(opTok.text)
	c := &Cond{Column: col.text}
	switch {
	case word == "is":
		c.Op = IsNull
		if p.keyword("not") {
			p.next()
			c.Op = NotNull
		}
		if n := p.next(); n.kind != tWord || !strings.EqualFold(n.text, "null") {
			return nil, found(n, "err.query.filter.want_null")
		}
		return c, nil
	case word == "in":
		c.Op = In
		if l := p.next(); l.kind != tLParen {
			return nil, found(l, "err.query.filter.want_open")
		}
		for {
			v := p.next()
			if v.kind != tWord && v.kind != tString {
				return nil, found(v, "err.query.filter.want_in_value")
			}
			c.Values = append(c.Values, v.text)
			if len(c.Values) > MaxInValues {
				return nil, syntaxErr(v.pos, "err.query.filter.in_too_long", "max", fmt.Sprint(MaxInValues))
			}
			sep := p.next()
			if sep.kind == tRParen {
				return c, nil
			}
			if sep.kind != tComma {
				return nil, found(sep, "err.query.filter.want_in_sep")
			}
		}
	}
	op, ok := binaryOps[word]
	if !ok {
		return nil, syntaxErr(opTok.pos, "err.query.filter.unknown_op", "op", fmt.Sprintf("%q", opTok.text))
	}
	c.Op = op
	v := p.next()
	if v.kind != tWord && v.kind != tString {
		return nil, found(v, "err.query.filter.want_value", "op", word)
	}
	if v.kind == tWord && strings.EqualFold(v.text, "null") {
		return nil, syntaxErr(v.pos, "err.query.filter.null_compare")
	}
	c.Values = []string{v.text}
	return c, nil
}

// found is a SyntaxError at t saying what was expected and what came
// instead ({got}: the token, or the end of the filter).
func found(t token, key string, kv ...string) *SyntaxError {
	if t.kind == tEOF {
		e := syntaxErr(t.pos, key, kv...)
		e.KeyParams = map[string]string{"got": "err.query.filter.end"}
		return e
	}
	return syntaxErr(t.pos, key, append(kv, "got", fmt.Sprintf("%q", t.text))...)
}
