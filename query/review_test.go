package query_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"opendata/blob"
	"opendata/query"
)

// putSQL writes the result of a DuckDB query as a Parquet object.
func putSQL(t *testing.T, bs blob.Store, key, selectSQL string) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	path := filepath.Join(t.TempDir(), "f.parquet")
	if _, err := db.Exec("COPY (" + selectSQL + ") TO '" + path + "' (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := bs.Put(context.Background(), key, f, -1); err != nil {
		t.Fatal(err)
	}
}

func TestHead(t *testing.T) {
	e, _ := fixture(t, 1000)
	schema, rows, err := e.Head(context.Background(), "resources/1/v1/open.parquet", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(schema) != 7 || schema[0].Name != "id" || schema[2].Name != "金额" || len(rows) != 3 {
		t.Fatalf("schema %v, %d rows", schema, len(rows))
	}
	if *rows[1][0] != "1" || *rows[1][1] != "t1" || rows[0][2] != nil || *rows[1][4] != "2024-01-02" {
		t.Fatalf("row values: %v %v %v %v", *rows[1][0], *rows[1][1], rows[0][2], *rows[1][4])
	}
	if _, _, err := e.Head(context.Background(), "resources/9/v1/open.parquet", 3); err == nil {
		t.Fatal("a missing object has rows")
	}
}

func TestDiff(t *testing.T) {
	dir := t.TempDir()
	bs, err := blob.NewLocal(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := query.Open(bs, query.Options{CacheDir: filepath.Join(dir, "cache"), Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// Base: stations 1..100. Draft: 1..100 without 3 and 7, 5 and 9 with a
	// new count, 101 and 102 added; a column "note" only in the draft and
	// the count now a decimal (compared as text: 5.0 vs 5).
	putSQL(t, bs, "v1/full.parquet", `SELECT i AS code, 'st' || i AS name, i * 10 AS count FROM range(1, 101) r(i)`)
	putSQL(t, bs, "v2/full.parquet", `SELECT i AS code, 'st' || i AS name,
		CASE WHEN i IN (5, 9) THEN i * 11 ELSE i * 10 END AS count, 'x' AS note
		FROM range(1, 103) r(i) WHERE i NOT IN (3, 7)`)
	ctx := context.Background()

	d, err := e.Diff(ctx, "v1/full.parquet", "v2/full.parquet", []string{"code"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Columns, []string{"code", "name", "count"}) || d.Added != 2 || d.Removed != 2 || d.Changed != 2 {
		t.Fatalf("keyed diff: %+v", d)
	}
	if !reflect.DeepEqual(d.AddedKeys, [][]string{{"101"}, {"102"}}) || !reflect.DeepEqual(d.RemovedKeys, [][]string{{"3"}, {"7"}}) ||
		!reflect.DeepEqual(d.ChangedKeys, [][]string{{"5"}, {"9"}}) {
		t.Fatalf("sample keys: %+v", d)
	}
	// Without a key (or with one the base lacks): rows in one and not the other.
	for _, keys := range [][]string{nil, {"note"}} {
		d, err = e.Diff(ctx, "v1/full.parquet", "v2/full.parquet", keys)
		if err != nil {
			t.Fatal(err)
		}
		if d.Keys != nil || d.Added != 4 || d.Removed != 4 || d.Changed != 0 || d.AddedKeys != nil {
			t.Fatalf("unkeyed diff (%v): %+v", keys, d)
		}
	}
	// The same file: nothing differs; repeated rows count as multisets.
	putSQL(t, bs, "v3/full.parquet", `SELECT 1 AS code, 'a' AS name FROM range(3)`)
	putSQL(t, bs, "v4/full.parquet", `SELECT 1 AS code, 'a' AS name FROM range(5)`)
	if d, err := e.Diff(ctx, "v3/full.parquet", "v3/full.parquet", []string{"code"}); err != nil || d.Added+d.Removed+d.Changed != 0 {
		t.Fatalf("same file: %v %+v", err, d)
	}
	if d, err := e.Diff(ctx, "v3/full.parquet", "v4/full.parquet", nil); err != nil || d.Added != 2 || d.Removed != 0 {
		t.Fatalf("repeated rows: %v %+v", err, d)
	}
	// A column name that needs quoting is compared like any other.
	putSQL(t, bs, "v5/full.parquet", `SELECT 1 AS "站点""编号", 'a' AS "名 称"`)
	putSQL(t, bs, "v6/full.parquet", `SELECT 1 AS "站点""编号", 'b' AS "名 称"`)
	if d, err := e.Diff(ctx, "v5/full.parquet", "v6/full.parquet", []string{`站点"编号`}); err != nil || d.Changed != 1 || d.Added != 0 {
		t.Fatalf("quoted names: %v %+v", err, d)
	}
}
