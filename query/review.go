package query

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// What a reviewer sees before approving a version: its first rows and how
// its rows differ from the published version's. Both run on the engine
// like a records query: local copies of the Parquet objects, the memory
// and time limits, nothing built from input but quoted identifiers.

// Head returns the schema and the first n rows of a Parquet object, each
// value as text (nil for a null).
func (e *Engine) Head(ctx context.Context, key string, n int) (Schema, [][]*string, error) {
	path, schema, err := e.Local(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	if n <= 0 || n > 1000 {
		n = 20
	}
	var sel []string
	for _, c := range schema {
		sel = append(sel, "CAST("+Ident(c.Name)+" AS VARCHAR)")
	}
	if len(sel) == 0 {
		return schema, nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, e.opt.Timeout)
	defer cancel()
	rows, err := e.db.QueryContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+parquet(path)+" LIMIT ?", n)
	if err != nil {
		return nil, nil, e.mapErr(ctx, err)
	}
	defer rows.Close()
	var out [][]*string
	for rows.Next() {
		vals := make([]sql.NullString, len(schema))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, e.mapErr(ctx, err)
		}
		row := make([]*string, len(vals))
		for i, v := range vals {
			if v.Valid {
				s := v.String
				row[i] = &s
			}
		}
		out = append(out, row)
	}
	return schema, out, e.mapErr(ctx, rows.Err())
}

// RowDiff is how the rows of a draft differ from those of a base version,
// compared on the columns both have (as text, so a changed type still
// compares values).
type RowDiff struct {
	Columns []string `json:"columns"` // the columns compared
	Keys    []string `json:"keys,omitempty"`
	// Added and Removed count rows in one version and not the other, as
	// multisets. With a key, a row whose key is in both versions but whose
	// values differ counts as Changed instead.
	Added   int64 `json:"added"`
	Removed int64 `json:"removed"`
	Changed int64 `json:"changed"`
	// Up to SampleKeys keys of each (with a key only).
	AddedKeys   [][]string `json:"added_keys,omitempty"`
	RemovedKeys [][]string `json:"removed_keys,omitempty"`
	ChangedKeys [][]string `json:"changed_keys,omitempty"`
}

// SampleKeys is how many keys of each kind a diff names.
const SampleKeys = 5

// Diff compares the rows of two Parquet objects. keys, when every one is a
// column of both, identify a record; otherwise rows are only added or
// removed.
func (e *Engine) Diff(ctx context.Context, baseKey, draftKey string, keys []string) (RowDiff, error) {
	basePath, baseSchema, err := e.Local(ctx, baseKey)
	if err != nil {
		return RowDiff{}, err
	}
	draftPath, draftSchema, err := e.Local(ctx, draftKey)
	if err != nil {
		return RowDiff{}, err
	}
	var d RowDiff
	for _, c := range draftSchema {
		if _, ok := baseSchema.Find(c.Name); ok {
			d.Columns = append(d.Columns, c.Name)
		}
	}
	if len(d.Columns) == 0 {
		return d, nil
	}
	keyed := len(keys) > 0
	for _, k := range keys {
		keyed = keyed && contains(d.Columns, k)
	}
	if keyed {
		d.Keys = keys
	}
	var cast []string
	for _, c := range d.Columns {
		cast = append(cast, "CAST("+Ident(c)+" AS VARCHAR) AS "+Ident(c))
	}
	cols := strings.Join(cast, ", ")
	with := "WITH o AS (SELECT " + cols + " FROM " + parquet(basePath) + "), n AS (SELECT " + cols + " FROM " + parquet(draftPath) + "), " +
		"plus AS (SELECT * FROM n EXCEPT ALL SELECT * FROM o), minus AS (SELECT * FROM o EXCEPT ALL SELECT * FROM n) "
	// in(side, other) is true when the row's key occurs in the other version.
	in := func(row, other string) string {
		var eq []string
		for _, k := range d.Keys {
			eq = append(eq, other+"."+Ident(k)+" = "+row+"."+Ident(k))
		}
		return "EXISTS (SELECT 1 FROM " + other + " WHERE " + strings.Join(eq, " AND ") + ")"
	}
	ctx, cancel := context.WithTimeout(ctx, e.opt.Timeout)
	defer cancel()
	if !keyed {
		err := e.db.QueryRowContext(ctx, with+"SELECT (SELECT count(*) FROM plus), (SELECT count(*) FROM minus)").Scan(&d.Added, &d.Removed)
		return d, e.mapErr(ctx, err)
	}
	var changedOld int64
	q := with + "SELECT (SELECT count(*) FROM plus), (SELECT count(*) FROM minus), (SELECT count(*) FROM plus p WHERE " + in("p", "o") + "), " +
		"(SELECT count(*) FROM minus m WHERE " + in("m", "n") + ")"
	if err := e.db.QueryRowContext(ctx, q).Scan(&d.Added, &d.Removed, &d.Changed, &changedOld); err != nil {
		return d, e.mapErr(ctx, err)
	}
	d.Added -= d.Changed
	d.Removed -= changedOld
	var keySel []string
	for _, k := range d.Keys {
		keySel = append(keySel, "COALESCE(x."+Ident(k)+", '')")
	}
	sample := func(from, cond string) ([][]string, error) {
		rows, err := e.db.QueryContext(ctx, with+"SELECT DISTINCT "+strings.Join(keySel, ", ")+" FROM "+from+" x WHERE "+cond+" ORDER BY 1 LIMIT "+fmt.Sprint(SampleKeys))
		if err != nil {
			return nil, e.mapErr(ctx, err)
		}
		defer rows.Close()
		var out [][]string
		for rows.Next() {
			vals := make([]string, len(d.Keys))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return nil, e.mapErr(ctx, err)
			}
			out = append(out, vals)
		}
		return out, e.mapErr(ctx, rows.Err())
	}
	if d.AddedKeys, err = sample("plus", "NOT "+in("x", "o")); err != nil {
		return d, err
	}
	if d.RemovedKeys, err = sample("minus", "NOT "+in("x", "n")); err != nil {
		return d, err
	}
	if d.ChangedKeys, err = sample("plus", in("x", "o")); err != nil {
		return d, err
	}
	return d, nil
}

func parquet(path string) string {
	return "read_parquet('" + strings.ReplaceAll(path, "'", "''") + "')"
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
