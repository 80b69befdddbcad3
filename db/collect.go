package db

import (
	"context"
	"database/sql"
)

// Scanner is one row to read: *sql.Rows and *sql.Row both are.
type Scanner interface{ Scan(dest ...any) error }

// Collect reads rows to the end through scan and closes them. The result
// is never nil (an empty list encodes as [], not null).
func Collect[T any](rows *sql.Rows, scan func(Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, MapErr(err)
	}
	return out, nil
}

// Queryer is what runs a query: *DB, and every Querier (a transaction).
type Queryer interface {
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// QueryAll runs query on q and collects every row through scan.
func QueryAll[T any](ctx context.Context, q Queryer, query string, scan func(Scanner) (T, error), args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return Collect(rows, scan)
}

// Value scans a one-column row: db.QueryAll(ctx, q, "SELECT id …", db.Value[int64]).
func Value[T any](r Scanner) (T, error) {
	var v T
	err := r.Scan(&v)
	return v, err
}

// QueryMap runs a two-column query into a map from the first column to the
// second (a later row with the same key wins).
func QueryMap[K comparable, V any](ctx context.Context, q Queryer, query string, args ...any) (map[K]V, error) {
	type kv struct {
		k K
		v V
	}
	pairs, err := QueryAll(ctx, q, query, func(r Scanner) (kv, error) {
		var p kv
		return p, r.Scan(&p.k, &p.v)
	}, args...)
	if err != nil {
		return nil, err
	}
	out := make(map[K]V, len(pairs))
	for _, p := range pairs {
		out[p.k] = p.v
	}
	return out, nil
}
