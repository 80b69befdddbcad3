package db

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
)

// Snapshot runs fn in a read-only transaction that sees one consistent
// state of every table while writers go on: REPEATABLE READ on
// PostgreSQL, a deferred read transaction on SQLite (WAL keeps writers
// running beside it).
func (d *DB) Snapshot(ctx context.Context, fn func(q Querier) error) error {
	if d.Dialect == Postgres {
		tx, err := d.sql.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
		if err != nil {
			return MapErr(err)
		}
		defer tx.Rollback()
		return fn(conn{r: tx, dialect: d.Dialect})
	}
	c, err := d.sql.Conn(ctx)
	if err != nil {
		return MapErr(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "BEGIN DEFERRED"); err != nil {
		return MapErr(err)
	}
	defer c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	return fn(conn{r: c, dialect: d.Dialect})
}

// Tables lists the application's tables (not schema_migrations) so that
// every table comes after the tables its foreign keys reference: the
// order in which a restore can insert them.
func Tables(ctx context.Context, q Querier) ([]string, error) {
	var names []string
	refs := map[string][]string{}
	list := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	if q.Dialect() == Postgres {
		list = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
	}
	rows, err := q.Query(ctx, list)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		if n != "schema_migrations" {
			names = append(names, n)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, n := range names {
		fk := "SELECT \"table\" FROM pragma_foreign_key_list(?)"
		if q.Dialect() == Postgres {
			fk = `SELECT c.confrelid::regclass::text FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = ?::regclass`
		}
		rows, err := q.Query(ctx, fk, n)
		if err != nil {
			return nil, fmt.Errorf("foreign keys of %s: %w", n, err)
		}
		for rows.Next() {
			var to string
			if err := rows.Scan(&to); err != nil {
				rows.Close()
				return nil, err
			}
			if to != n {
				refs[n] = append(refs[n], to)
			}
		}
		rows.Close()
	}
	return orderByReferences(names, refs), nil
}

// orderByReferences sorts tables so each follows those it references
// (names sorted within a rank; a cycle keeps its tables in name order).
func orderByReferences(names []string, refs map[string][]string) []string {
	sort.Strings(names)
	done := map[string]bool{}
	var out []string
	var visit func(n string, path map[string]bool)
	visit = func(n string, path map[string]bool) {
		if done[n] || path[n] {
			return
		}
		path[n] = true
		to := append([]string(nil), refs[n]...)
		sort.Strings(to)
		for _, r := range to {
			visit(r, path)
		}
		delete(path, n)
		if !done[n] {
			done[n] = true
			out = append(out, n)
		}
	}
	for _, n := range names {
		visit(n, map[string]bool{})
	}
	return out
}

// ResetSequences moves every PostgreSQL identity column past the largest
// value present, after rows were inserted with their ids (a restore);
// SQLite's AUTOINCREMENT follows inserted ids by itself.
func ResetSequences(ctx context.Context, q Querier) error {
	if q.Dialect() != Postgres {
		return nil
	}
	rows, err := q.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND is_identity = 'YES'`)
	if err != nil {
		return err
	}
	type col struct{ table, column string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.column); err != nil {
			rows.Close()
			return err
		}
		cols = append(cols, c)
	}
	rows.Close()
	for _, c := range cols {
		stmt := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', '%s'), COALESCE(MAX(%s), 0) + 1, false) FROM %s`,
			c.table, c.column, QuoteIdent(c.column), QuoteIdent(c.table))
		if _, err := q.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("sequence of %s.%s: %w", c.table, c.column, err)
		}
	}
	return nil
}

// QuoteIdent quotes a table or column name for SQL.
func QuoteIdent(name string) string {
	out := []byte{'"'}
	for i := 0; i < len(name); i++ {
		if name[i] == '"' {
			out = append(out, '"')
		}
		out = append(out, name[i])
	}
	return string(append(out, '"'))
}
