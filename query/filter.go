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

// SyntaxError says where a filter went wrong.
type SyntaxError struct {
	Pos int // 1-based character position
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("at character %d: %s", e.Pos, e.Msg) }

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
				return nil, &SyntaxError{start + 1, fmt.Sprintf("the quote %c opened here is never closed", r)}
			}
			k := tString
			if r == '"' {
				k = tIdent
			}
			out = append(out, token{k, b.String(), start + 1})
		case r < 0x20 || r == 0x7f:
			return nil, &SyntaxError{i + 1, "control characters are not allowed"}
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
		return nil, &SyntaxError{1, fmt.Sprintf("the filter is %d bytes; at most %d", len(s), MaxFilterBytes)}
	}
	if !utf8.ValidString(s) {
		return nil, &SyntaxError{1, "the filter is not valid UTF-8"}
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if p.peek().kind == tEOF {
		return nil, &SyntaxError{1, "the filter is empty"}
	}
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &SyntaxError{t.pos, fmt.Sprintf("unexpected %q: expected and, or or the end", t.text)}
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
			return nil, &SyntaxError{t.pos, fmt.Sprintf("parentheses nest deeper than %d", maxDepth)}
		}
		p.next()
		e, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, &SyntaxError{c.pos, "expected ) to close the parenthesis at character " + fmt.Sprint(t.pos)}
		}
		return e, nil
	}
	return p.cond()
}

func (p *parser) cond() (Expr, error) {
	col := p.next()
	if col.kind != tWord && col.kind != tIdent {
		return nil, &SyntaxError{col.pos, describe(col) + ": expected a column name"}
	}
	if col.kind == tWord && (strings.EqualFold(col.text, "and") || strings.EqualFold(col.text, "or")) {
		return nil, &SyntaxError{col.pos, fmt.Sprintf("%q needs a condition before it", col.text)}
	}
	p.conds++
	if p.conds > MaxConditions {
		return nil, &SyntaxError{col.pos, fmt.Sprintf("more than %d conditions", MaxConditions)}
	}
	opTok := p.next()
	if opTok.kind != tWord {
		return nil, &SyntaxError{opTok.pos, fmt.Sprintf("%s: expected an operator after %q (eq, ne, lt, le, gt, ge, in, contains, prefix, is null)", describe(opTok), col.text)}
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
			return nil, &SyntaxError{n.pos, "expected null after is"}
		}
		return c, nil
	case word == "in":
		c.Op = In
		if l := p.next(); l.kind != tLParen {
			return nil, &SyntaxError{l.pos, "expected ( to start the in list"}
		}
		for {
			v := p.next()
			if v.kind != tWord && v.kind != tString {
				return nil, &SyntaxError{v.pos, describe(v) + ": expected a value in the in list"}
			}
			c.Values = append(c.Values, v.text)
			if len(c.Values) > MaxInValues {
				return nil, &SyntaxError{v.pos, fmt.Sprintf("the in list has more than %d values", MaxInValues)}
			}
			sep := p.next()
			if sep.kind == tRParen {
				return c, nil
			}
			if sep.kind != tComma {
				return nil, &SyntaxError{sep.pos, describe(sep) + ": expected , or ) in the in list"}
			}
		}
	}
	op, ok := binaryOps[word]
	if !ok {
		return nil, &SyntaxError{opTok.pos, fmt.Sprintf("unknown operator %q (use eq, ne, lt, le, gt, ge, in, contains, prefix, is null)", opTok.text)}
	}
	c.Op = op
	v := p.next()
	if v.kind != tWord && v.kind != tString {
		return nil, &SyntaxError{v.pos, describe(v) + fmt.Sprintf(": expected a value after %s", word)}
	}
	if v.kind == tWord && strings.EqualFold(v.text, "null") {
		return nil, &SyntaxError{v.pos, "compare with null using is null or is not null"}
	}
	c.Values = []string{v.text}
	return c, nil
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "the filter ends"
	case tLParen, tRParen, tComma:
		return fmt.Sprintf("unexpected %q", t.text)
	}
	return fmt.Sprintf("unexpected %q", t.text)
}
