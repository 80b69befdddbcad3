package db_test

import (
	"context"
	"errors"
	"testing"

	"opendata/db"
	"opendata/db/dbtest"
)

func TestQueryAll(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		for _, c := range []string{"A1", "A2", "A3"} {
			if _, err := d.Exec(ctx, "INSERT INTO departments (code, name, kind, created_at) VALUES (?, ?, ?, ?)", c, "部门"+c, "department", db.Now()); err != nil {
				t.Fatal(err)
			}
		}
		code := func(r db.Scanner) (s string, err error) { return s, r.Scan(&s) }
		got, err := db.QueryAll(ctx, d, "SELECT code FROM departments WHERE code LIKE ? ORDER BY code", code, "A%")
		if err != nil || len(got) != 3 || got[0] != "A1" || got[2] != "A3" {
			t.Fatalf("got %v, %v", got, err)
		}
		none, err := db.QueryAll(ctx, d, "SELECT code FROM departments WHERE code = ?", code, "ZZ")
		if err != nil || none == nil || len(none) != 0 {
			t.Fatalf("no rows: %#v, %v (want an empty, non-nil list)", none, err)
		}
		bad := errors.New("bad row")
		if _, err := db.QueryAll(ctx, d, "SELECT code FROM departments", func(db.Scanner) (string, error) { return "", bad }); !errors.Is(err, bad) {
			t.Fatalf("scan error: %v", err)
		}
		if _, err := db.QueryAll(ctx, d, "SELECT nope FROM departments", code); err == nil {
			t.Fatal("bad query: no error")
		}
	})
}
