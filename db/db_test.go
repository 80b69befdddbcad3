package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
)

// The conformance suite of the metadata database: every engine must behave
// the same for what the stores rely on.
func TestConformance(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()

		t.Run("migrate is idempotent", func(t *testing.T) {
			if err := d.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			v, err := d.SchemaVersion(ctx)
			if err != nil || v != db.LatestVersion() {
				t.Fatalf("schema version %d, %v; want %d", v, err, db.LatestVersion())
			}
		})

		t.Run("insert id, time round trip, not found", func(t *testing.T) {
			now := db.Now()
			id, err := d.InsertID(ctx, "INSERT INTO departments (code, name, kind, created_at) VALUES (?, ?, ?, ?)", "T1", "交通运输局", "department", now)
			if err != nil || id <= 0 {
				t.Fatalf("insert: %d %v", id, err)
			}
			var name string
			var at time.Time
			if err := d.QueryRow(ctx, "SELECT name, created_at FROM departments WHERE id = ?", id).Scan(&name, &at); err != nil {
				t.Fatal(err)
			}
			if name != "交通运输局" || !at.Equal(now) {
				t.Fatalf("round trip: %q %v, want %v", name, at, now)
			}
			err = db.MapErr(d.QueryRow(ctx, "SELECT name FROM departments WHERE id = ?", id+1000).Scan(&name))
			if !errors.Is(err, errs.NotFound) {
				t.Fatalf("missing row: %v", err)
			}
		})

		t.Run("unique violation is Conflict", func(t *testing.T) {
			_, err := d.Exec(ctx, "INSERT INTO departments (code, name, kind, created_at) VALUES (?, ?, ?, ?)", "T1", "dup", "department", db.Now())
			if !errors.Is(err, errs.Conflict) {
				t.Fatalf("want Conflict, got %v", err)
			}
		})

		t.Run("tx rolls back on error", func(t *testing.T) {
			boom := errors.New("boom")
			err := d.Tx(ctx, func(q db.Querier) error {
				if _, err := q.Exec(ctx, "INSERT INTO departments (code, name, kind, created_at) VALUES (?, ?, ?, ?)", "T2", "x", "department", db.Now()); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			var n int
			d.QueryRow(ctx, "SELECT COUNT(*) FROM departments WHERE code = ?", "T2").Scan(&n)
			if n != 0 {
				t.Fatalf("rolled-back row is visible")
			}
		})

		t.Run("placeholders inside literals are not rebound", func(t *testing.T) {
			var s string
			if err := d.QueryRow(ctx, "SELECT 'a?b' || ?", "c").Scan(&s); err != nil || s != "a?bc" {
				t.Fatalf("got %q %v", s, err)
			}
		})
	})
}

func TestTimeScanFromAggregate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := db.Now()
		d.Exec(ctx, "INSERT INTO departments (code, name, kind, created_at) VALUES (?, ?, ?, ?)", "A1", "a", "department", now)
		var got db.Time
		if err := d.QueryRow(ctx, "SELECT MAX(created_at) FROM departments").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(now) {
			t.Fatalf("got %v want %v", got.Time, now)
		}
	})
}
