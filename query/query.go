package query

import (
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"opendata/errs"

	"opendata/catalog"
)

// Column is one column of a Parquet file.
type Column struct {
	Name string             `json:"name"`
	Type catalog.ColumnType `json:"type"`
}

// Schema is a file's columns in order.
type Schema []Column

// Find returns the named column.
func (s Schema) Find(name string) (Column, bool) {
	for _, c := range s {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// Only keeps the named columns (all when names is nil), in schema order.
func (s Schema) Only(names []string) Schema {
	if names == nil {
		return s
	}
	var out Schema
	for _, c := range s {
		for _, n := range names {
			if n == c.Name {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// SortKey orders by one column.
type SortKey struct {
	Column string
	Desc   bool
}

// Agg is one aggregate of a grouped query.
type Agg struct {
	Func   string // count, sum, avg, min, max
	Column string // empty for count
	As     string // the output column name
}

// Limits of the records API.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
	MaxGroupBy   = 5
	MaxAggs      = 10
	MaxSort      = 5
)

// Query is a parsed, schema-checked records request.
type Query struct {
	Select  []string // output columns; every column when empty
	Where   Expr     // nil for all rows
	Sort    []SortKey
	Limit   int
	Offset  int
	Cursor  *Cursor
	Count   bool
	GroupBy []string
	Aggs    []Agg
	Format  string // json, ndjson, csv
	// Raw: CSV cells exactly as stored, for programs; otherwise a CSV cell
	// a spreadsheet would run as a formula is neutralised (csvsafe.Cell).
	Raw bool

	schema Schema
	loc    *time.Location
	// typed holds the checked filter (bound values typed per column).
	typed *checked
}

// Params are the query parameters the records API takes (purpose is the
// internal callers' stated purpose, lang the answer's language).
var Params = []string{"select", "filter", "sort", "limit", "offset", "cursor", "count", "group_by", "agg", "format", "raw", "purpose", "lang"}

// Formats lists the output formats.
var Formats = []string{"json", "ndjson", "csv"}

// Grouped reports whether the query aggregates.
func (q *Query) Grouped() bool { return len(q.GroupBy) > 0 || len(q.Aggs) > 0 }

// Parse reads the records API parameters and checks every name and value
// against the schema. Errors name the parameter (errs.FieldErrors).
func Parse(v url.Values, schema Schema, loc *time.Location) (*Query, error) {
	q := &Query{schema: schema, loc: loc, Limit: DefaultLimit, Format: "json"}
	for name, vals := range v {
		if !slices.Contains(Params, name) {
			return nil, errs.Fieldf(name, "err.query.param_unknown", "params", strings.Join(Params, ", "))
		}
		if len(vals) > 1 {
			return nil, errs.Fieldf(name, "err.query.param_twice")
		}
	}
	if s := v.Get("format"); s != "" {
		if !slices.Contains(Formats, s) {
			return nil, errs.Fieldf("format", "err.query.format", "format", s, "formats", strings.Join(Formats, ", "))
		}
		q.Format = s
	}
	if s := v.Get("raw"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, errs.Fieldf("raw", "err.query.bool")
		}
		if b && q.Format != "csv" {
			return nil, errs.Fieldf("raw", "err.query.raw_csv")
		}
		q.Raw = b
	}
	if s := v.Get("select"); s != "" {
		for _, name := range splitList(s) {
			if _, ok := schema.Find(name); !ok {
				return nil, unknownColumn("select", name, schema)
			}
			if slices.Contains(q.Select, name) {
				return nil, errs.Fieldf("select", "err.query.select_twice", "column", name)
			}
			q.Select = append(q.Select, name)
		}
	}
	if s := v.Get("filter"); s != "" {
		e, err := ParseFilter(s)
		if err != nil {
			return nil, err.(*SyntaxError).Public()
		}
		q.Where = e
		if q.typed, err = check(e, schema, loc); err != nil {
			return nil, err
		}
	}
	var err error
	if q.Limit, err = intParam(v, "limit", DefaultLimit, 1, MaxLimit); err != nil {
		return nil, err
	}
	if q.Offset, err = intParam(v, "offset", 0, 0, math.MaxInt32); err != nil {
		return nil, err
	}
	if s := v.Get("count"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, errs.Fieldf("count", "err.query.bool")
		}
		q.Count = b
	}
	if s := v.Get("group_by"); s != "" {
		for _, name := range splitList(s) {
			if _, ok := schema.Find(name); !ok {
				return nil, unknownColumn("group_by", name, schema)
			}
			if !slices.Contains(q.GroupBy, name) {
				q.GroupBy = append(q.GroupBy, name)
			}
		}
		if len(q.GroupBy) > MaxGroupBy {
			return nil, errs.Fieldf("group_by", "err.query.group_by_max", "max", MaxGroupBy)
		}
	}
	if s := v.Get("agg"); s != "" {
		if err := q.parseAggs(s); err != nil {
			return nil, err
		}
	}
	if q.Grouped() {
		if len(q.Aggs) == 0 {
			q.Aggs = []Agg{{Func: "count", As: "count"}}
		}
		if len(q.Select) > 0 {
			return nil, errs.Fieldf("select", "err.query.select_grouped")
		}
	}
	if s := v.Get("sort"); s != "" {
		if err := q.parseSort(s); err != nil {
			return nil, err
		}
	}
	if s := v.Get("cursor"); s != "" {
		if q.Grouped() {
			return nil, errs.Fieldf("cursor", "err.query.cursor.grouped")
		}
		if v.Get("offset") != "" {
			return nil, errs.Fieldf("cursor", "err.query.cursor.offset")
		}
	}
	return q, nil
}

func (q *Query) parseAggs(s string) error {
	for _, item := range splitList(s) {
		fn, col, _ := strings.Cut(item, ":")
		fn = strings.ToLower(strings.TrimSpace(fn))
		a := Agg{Func: fn, Column: col, As: fn}
		switch fn {
		case "count":
			if col != "" {
				return errs.Fieldf("agg", "err.query.agg.count_column")
			}
		case "sum", "avg":
			c, ok := q.schema.Find(col)
			if !ok {
				return errs.Fieldf("agg", "err.query.agg.no_column", "item", item, "column", col, "columns", columnList(q.schema))
			}
			if c.Type != catalog.ColInt && c.Type != catalog.ColDecimal {
				return errs.Fieldf("agg", "err.query.agg.number", "item", item, "column", col, "type", errs.Key("type."+string(c.Type)), "fn", fn)
			}
			a.As = fn + "_" + col
		case "min", "max":
			if _, ok := q.schema.Find(col); !ok {
				return errs.Fieldf("agg", "err.query.agg.no_column", "item", item, "column", col, "columns", columnList(q.schema))
			}
			a.As = fn + "_" + col
		default:
			return errs.Fieldf("agg", "err.query.agg.unknown", "item", item)
		}
		for _, b := range q.Aggs {
			if b.As == a.As {
				return errs.Fieldf("agg", "err.query.agg.twice", "item", item)
			}
		}
		q.Aggs = append(q.Aggs, a)
	}
	if len(q.Aggs) > MaxAggs {
		return errs.Fieldf("agg", "err.query.agg.max", "max", MaxAggs)
	}
	return nil
}

// parseSort reads "town,-amount" or "town:asc,amount:desc".
func (q *Query) parseSort(s string) error {
	for _, item := range splitList(s) {
		k := SortKey{Column: item}
		if strings.HasPrefix(item, "-") {
			k = SortKey{Column: item[1:], Desc: true}
		} else if name, dir, ok := strings.Cut(item, ":"); ok && (strings.EqualFold(dir, "asc") || strings.EqualFold(dir, "desc")) {
			k = SortKey{Column: name, Desc: strings.EqualFold(dir, "desc")}
		}
		if q.Grouped() {
			ok := slices.Contains(q.GroupBy, k.Column)
			for _, a := range q.Aggs {
				ok = ok || a.As == k.Column
			}
			if !ok {
				return errs.Fieldf("sort", "err.query.sort.grouped", "column", k.Column, "names", strings.Join(q.outputNames(), ", "))
			}
		} else if _, ok := q.schema.Find(k.Column); !ok {
			return unknownColumn("sort", k.Column, q.schema)
		}
		for _, o := range q.Sort {
			if o.Column == k.Column {
				return errs.Fieldf("sort", "err.query.sort.twice", "column", k.Column)
			}
		}
		q.Sort = append(q.Sort, k)
	}
	if len(q.Sort) > MaxSort {
		return errs.Fieldf("sort", "err.query.sort.max", "max", MaxSort)
	}
	return nil
}

// Output is the schema of the rows the query returns.
func (q *Query) Output() Schema {
	if q.Grouped() {
		var out Schema
		for _, g := range q.GroupBy {
			c, _ := q.schema.Find(g)
			out = append(out, c)
		}
		for _, a := range q.Aggs {
			t := catalog.ColInt
			switch a.Func {
			case "avg":
				t = catalog.ColDecimal
			case "sum":
				c, _ := q.schema.Find(a.Column)
				t = c.Type
			case "min", "max":
				c, _ := q.schema.Find(a.Column)
				t = c.Type
			}
			out = append(out, Column{Name: a.As, Type: t})
		}
		return out
	}
	if len(q.Select) == 0 {
		return q.schema
	}
	var out Schema
	for _, n := range q.Select {
		c, _ := q.schema.Find(n)
		out = append(out, c)
	}
	return out
}

func (q *Query) outputNames() []string {
	var out []string
	for _, c := range q.Output() {
		out = append(out, c.Name)
	}
	return out
}

func intParam(v url.Values, name string, def, lo, hi int) (int, error) {
	s := v.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errs.Fieldf(name, "err.query.int", "value", s)
	}
	if n < lo || n > hi {
		return 0, errs.Fieldf(name, "err.query.range", "value", n, "min", lo, "max", hi)
	}
	return n, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// unknownColumn is the error for a column name the schema lacks, given
// in parameter field, listing the columns there are.
func unknownColumn(field, name string, s Schema) error {
	return errs.Fieldf(field, "err.query.no_column", "column", name, "columns", columnList(s))
}

func columnList(s Schema) string {
	names := make([]string, 0, len(s))
	for _, c := range s {
		names = append(names, c.Name)
	}
	if len(names) > 30 {
		names = append(names[:30], "…")
	}
	return strings.Join(names, ", ")
}
