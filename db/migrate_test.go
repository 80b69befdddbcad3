package db_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"opendata/db"
	"opendata/db/dbtest"
)

// A database migrated by a newer release is refused with a message
// naming both versions, and left as it was.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		future := db.LatestVersion() + 1
		if _, err := d.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", future, "from a newer release", db.Now()); err != nil {
			t.Fatal(err)
		}
		err := d.Migrate(ctx)
		if !errors.Is(err, db.ErrNewerSchema) || !strings.Contains(err.Error(), "schema version") {
			t.Fatalf("migrate on a newer schema: %v", err)
		}
		if v, _ := d.SchemaVersion(ctx); v != future {
			t.Fatalf("schema version changed to %d", v)
		}
	})
}

// MigrateTo stops at the version asked for; Migrate goes on from there.
func TestMigrateTo(t *testing.T) {
	d, err := db.Open(context.Background(), "", t.TempDir()+"/m.db")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if err := d.MigrateTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if v, _ := d.SchemaVersion(ctx); v != 1 {
		t.Fatalf("after MigrateTo(1): %d", v)
	}
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := d.SchemaVersion(ctx); v != db.LatestVersion() {
		t.Fatalf("after Migrate: %d", v)
	}
}

// Tables lists every table after the ones it references.
func TestTablesInReferenceOrder(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		var names []string
		err := d.Snapshot(ctx, func(q db.Querier) (err error) {
			names, err = db.Tables(ctx, q)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		pos := map[string]int{}
		for i, n := range names {
			pos[n] = i
		}
		if _, ok := pos["schema_migrations"]; ok {
			t.Error("schema_migrations listed")
		}
		for _, pair := range [][2]string{{"departments", "users"}, {"departments", "resources"}, {"resources", "versions"}} {
			a, okA := pos[pair[0]]
			b, okB := pos[pair[1]]
			if !okA || !okB || a > b {
				t.Errorf("%s (%d, %v) should come before %s (%d, %v): %v", pair[0], a, okA, pair[1], b, okB, names)
			}
		}
	})
}
