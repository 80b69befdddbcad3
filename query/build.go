package query

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"opendata/catalog"
	"opendata/errs"
)

// checked is a filter whose values are typed for their columns.
type checked struct {
	cond *Cond
	typ  catalog.ColumnType
	vals []any
	or   bool
	kids []*checked
}

// check types every condition of e against the schema.
func check(e Expr, s Schema, loc *time.Location) (*checked, error) {
	switch x := e.(type) {
	case *Logic:
		out := &checked{or: x.Or}
		for _, k := range x.Kids {
			ck, err := check(k, s, loc)
			if err != nil {
				return nil, err
			}
			out.kids = append(out.kids, ck)
		}
		return out, nil
	case *Cond:
		col, ok := s.Find(x.Column)
		if !ok {
			return nil, unknownColumn("filter", x.Column, s)
		}
		switch x.Op {
		case Contains, Prefix:
			if col.Type != catalog.ColString {
				return nil, errs.Fieldf("filter", "err.query.filter.text_only", "op", x.Op, "column", x.Column, "type", errs.Key("type."+string(col.Type)))
			}
		case Lt, Le, Gt, Ge:
			if col.Type == catalog.ColBool {
				return nil, errs.Fieldf("filter", "err.query.filter.bool_order", "op", x.Op, "column", x.Column)
			}
		}
		out := &checked{cond: x, typ: col.Type}
		for _, v := range x.Values {
			tv, ok := typed(v, col.Type, loc)
			if !ok {
				return nil, errs.Fieldf("filter", "err.query.filter.bad_value", "column", x.Column, "op", x.Op, "value", v, "why", errs.Key(notA(col.Type)))
			}
			out.vals = append(out.vals, tv)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown expression")
}

// typed converts a literal to the bound value for a column type; ok is
// false when the literal is not a value of the type (notA says why).
func typed(v string, typ catalog.ColumnType, loc *time.Location) (any, bool) {
	switch typ {
	case catalog.ColInt:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	case catalog.ColDecimal:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	case catalog.ColBool:
		b, err := strconv.ParseBool(v)
		return b, err == nil
	case catalog.ColDate:
		d, err := time.Parse("2006-01-02", v)
		return d.Format("2006-01-02"), err == nil
	case catalog.ColTimestamp:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
			if t, err := time.ParseInLocation(layout, v, loc); err == nil {
				return t.UTC().Format("2006-01-02 15:04:05.999999") + "+00", true
			}
		}
		return nil, false
	}
	return v, true
}

// notA is the message key saying what a value of typ looks like ("not a
// whole number (the column is integer)").
func notA(typ catalog.ColumnType) string { return "err.query.value." + string(typ) }

// Ident quotes a column name for SQL.
func Ident(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func placeholder(typ catalog.ColumnType) string {
	switch typ {
	case catalog.ColDate:
		return "CAST(? AS DATE)"
	case catalog.ColTimestamp:
		return "CAST(? AS TIMESTAMPTZ)"
	}
	return "?"
}

// sql renders a checked filter with placeholders, appending its values.
func (c *checked) sql(args *[]any) string {
	if c.cond == nil {
		sep := " AND "
		if c.or {
			sep = " OR "
		}
		parts := make([]string, len(c.kids))
		for i, k := range c.kids {
			parts[i] = "(" + k.sql(args) + ")"
		}
		return strings.Join(parts, sep)
	}
	col, ph := Ident(c.cond.Column), placeholder(c.typ)
	*args = append(*args, c.vals...)
	switch c.cond.Op {
	case Eq:
		return col + " = " + ph
	case Ne:
		// ne keeps empty values: "not this value" includes "no value".
		return col + " IS DISTINCT FROM " + ph
	case Lt:
		return col + " < " + ph
	case Le:
		return col + " <= " + ph
	case Gt:
		return col + " > " + ph
	case Ge:
		return col + " >= " + ph
	case Contains:
		return "contains(" + col + ", ?)"
	case Prefix:
		return "starts_with(" + col + ", ?)"
	case IsNull:
		return col + " IS NULL"
	case NotNull:
		return col + " IS NOT NULL"
	case In:
		return col + " IN (" + strings.TrimSuffix(strings.Repeat(ph+", ", len(c.vals)), ", ") + ")"
	}
	panic("unknown op " + c.cond.Op)
}

// Built is a query ready for the engine.
type Built struct {
	SQL      string
	Args     []any
	Out      Schema // the columns returned to the caller
	Keys     Schema // hidden sort-key columns after Out, then the row number
	Paged    bool   // rows carry keys and the row number (cursor paging)
	CountSQL string
	CountArg []any
}

// RowNumber is the hidden column that makes every order total.
const RowNumber = "__rn"

// Build renders the query over the Parquet file at path.
func (q *Query) Build(path string) (Built, error) {
	src := "read_parquet('" + strings.ReplaceAll(path, "'", "''") + "'"
	var where []string
	var args []any
	if q.typed != nil {
		where = append(where, "("+q.typed.sql(&args)+")")
	}
	b := Built{Out: q.Output()}
	if q.Grouped() {
		var sel, grp []string
		for _, g := range q.GroupBy {
			sel, grp = append(sel, Ident(g)), append(grp, Ident(g))
		}
		for _, a := range q.Aggs {
			var e string
			switch a.Func {
			case "count":
				e = "count(*)"
			case "sum":
				if c, _ := q.schema.Find(a.Column); c.Type == catalog.ColInt {
					e = "CAST(sum(" + Ident(a.Column) + ") AS BIGINT)"
				} else {
					e = "sum(" + Ident(a.Column) + ")"
				}
			case "avg":
				e = "avg(" + Ident(a.Column) + ")"
			default:
				e = a.Func + "(" + Ident(a.Column) + ")"
			}
			sel = append(sel, e+" AS "+Ident(a.As))
		}
		from := " FROM " + src + ")" + whereSQL(where)
		group := ""
		if len(grp) > 0 {
			group = " GROUP BY " + strings.Join(grp, ", ")
		}
		order := q.orderSQL(false)
		if order == "" && len(grp) > 0 {
			order = " ORDER BY " + strings.Join(grp, ", ") + " NULLS LAST"
		}
		b.SQL = "SELECT " + strings.Join(sel, ", ") + from + group + order + " LIMIT ? OFFSET ?"
		b.Args = append(append([]any{}, args...), q.Limit, q.Offset)
		if len(grp) > 0 {
			b.CountSQL = "SELECT count(*) FROM (SELECT 1" + from + group + ")"
		} else {
			b.CountSQL = "SELECT 1"
		}
		b.CountArg = args
		return b, nil
	}
	from := " FROM " + src + ", file_row_number=true)"
	b.CountSQL, b.CountArg = "SELECT count(*)"+from+whereSQL(where), append([]any{}, args...)
	if q.Cursor != nil {
		cond, cargs, err := q.after(q.Cursor)
		if err != nil {
			return Built{}, err
		}
		where = append(where, "("+cond+")")
		args = append(args, cargs...)
	}
	var sel []string
	for _, c := range b.Out {
		sel = append(sel, Ident(c.Name))
	}
	for i, k := range q.Sort {
		c, _ := q.schema.Find(k.Column)
		sel = append(sel, Ident(k.Column)+" AS __k"+strconv.Itoa(i))
		b.Keys = append(b.Keys, c)
	}
	sel = append(sel, "file_row_number AS "+RowNumber)
	b.Paged = true
	b.SQL = "SELECT " + strings.Join(sel, ", ") + from + whereSQL(where) + q.orderSQL(true) + " LIMIT ?"
	args = append(args, q.Limit)
	if q.Cursor == nil {
		b.SQL += " OFFSET ?"
		args = append(args, q.Offset)
	}
	b.Args = args
	return b, nil
}

func whereSQL(w []string) string {
	if len(w) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w, " AND ")
}

func (q *Query) orderSQL(rowNumber bool) string {
	var parts []string
	for _, k := range q.Sort {
		dir := " ASC"
		if k.Desc {
			dir = " DESC"
		}
		parts = append(parts, Ident(k.Column)+dir+" NULLS LAST")
	}
	if rowNumber {
		parts = append(parts, "file_row_number")
	}
	if len(parts) == 0 {
		return ""
	}
	return " ORDER BY " + strings.Join(parts, ", ")
}

// after is the keyset condition "rows after the cursor's row" in the
// query's order (nulls last in both directions, ties broken by row number).
func (q *Query) after(c *Cursor) (string, []any, error) {
	if len(c.Keys) != len(q.Sort) {
		return "", nil, errs.Fieldf("cursor", "err.query.cursor.sort")
	}
	var args []any
	var build func(i int) string
	build = func(i int) string {
		if i == len(q.Sort) {
			args = append(args, c.Row)
			return "file_row_number > ?"
		}
		k := q.Sort[i]
		col := Ident(k.Column)
		colType, _ := q.schema.Find(k.Column)
		key := c.Keys[i]
		if key == nil { // the cursor row's value is null: only nulls follow
			return col + " IS NULL AND (" + build(i+1) + ")"
		}
		v, _ := typed(*key, colType.Type, q.loc)
		ph := placeholder(colType.Type)
		op := " > "
		if k.Desc {
			op = " < "
		}
		args = append(args, v)
		strict := "(" + col + op + ph + " OR " + col + " IS NULL)"
		args = append(args, v)
		return strict + " OR (" + col + " = " + ph + " AND (" + build(i+1) + "))"
	}
	// Validate the key values first so a bad cursor is a clear error.
	for i, k := range q.Sort {
		if c.Keys[i] == nil {
			continue
		}
		col, _ := q.schema.Find(k.Column)
		if _, ok := typed(*c.Keys[i], col.Type, q.loc); !ok {
			return "", nil, errs.Fieldf("cursor", "err.query.cursor.value", "column", k.Column, "why", errs.Key(notA(col.Type)))
		}
	}
	return build(0), args, nil
}

// SortSpec is the canonical text of the sort (cursors are bound to it).
func (q *Query) SortSpec() string {
	var parts []string
	for _, k := range q.Sort {
		if k.Desc {
			parts = append(parts, "-"+k.Column)
		} else {
			parts = append(parts, k.Column)
		}
	}
	return strings.Join(parts, ",")
}
