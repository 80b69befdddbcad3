package db_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
)

// Driver errors become kinds whose public words never carry the driver's
// text: a taken unique value names its table and columns, no rows is a
// plain NotFound.
func TestMapErr(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		ins := "INSERT INTO departments (code, name, name_en, kind, contact, created_at) VALUES ('DUP', 'x', '', 'department', '', ?)"
		if _, err := d.Exec(ctx, ins, db.Now()); err != nil {
			t.Fatal(err)
		}
		_, err := d.Exec(ctx, ins, db.Now())
		var dup *errs.Duplicate
		if !errors.As(err, &dup) || dup.Table != "departments" || !slices.Equal(dup.Columns, []string{"code"}) || !errors.Is(err, errs.Conflict) {
			t.Fatalf("duplicate: %v (%+v)", err, dup)
		}
		if errs.Detail(err) != "" {
			t.Errorf("detail of a duplicate: %q", errs.Detail(err))
		}
		var n int
		err = db.MapErr(d.QueryRow(ctx, "SELECT id FROM departments WHERE code = 'NONE'").Scan(&n))
		if !errors.Is(err, errs.NotFound) || errs.Detail(err) != "" {
			t.Errorf("no rows: %v, detail %q", err, errs.Detail(err))
		}
		if err := db.MapErr(errs.NotFoundf("resource 5")); errs.Detail(err) != "resource 5" {
			t.Errorf("a kind is kept as it is: %v", err)
		}
	})
}

// A database that cannot be reached is Unavailable (503), not a 500 or a
// "not found".
func TestUnreachableIsUnavailable(t *testing.T) {
	_, err := db.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", "")
	if err == nil {
		t.Fatal("connected to port 1")
	}
	if !db.Unreachable(err) || !errors.Is(db.MapErr(err), errs.Unavailable) {
		t.Errorf("connection refused: %v", err)
	}
	if db.Unreachable(errors.New("syntax error at or near SELEC")) {
		t.Error("a plain error counted as unreachable")
	}
}
