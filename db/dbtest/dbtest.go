// Package dbtest gives tests a migrated metadata database on every engine:
// SQLite always, PostgreSQL when TEST_POSTGRES_URL is set (a missing URL
// fails the test when CI=true). Each PostgreSQL test gets its own database,
// dropped afterwards, so runs never collide.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"opendata/db"
)

// Each runs fn once per available engine as a subtest.
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite opens a fresh migrated SQLite database in a temp dir.
func SQLite(t testing.TB) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, "", filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// PostgresURL returns TEST_POSTGRES_URL, skipping the test when it is unset
// outside CI and failing it in CI.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_POSTGRES_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_POSTGRES_URL is not set: CI requires the PostgreSQL suite to run")
		}
		t.Skip("TEST_POSTGRES_URL not set; skipping PostgreSQL (set it, e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)")
	}
	return u
}

// PostgresDatabase creates a fresh, empty database on the server at
// TEST_POSTGRES_URL, returns its URL and drops it when the test ends
// (cleanups registered after this call run before the drop).
func PostgresDatabase(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	admin, err := db.Open(ctx, PostgresURL(t), "")
	if err != nil {
		t.Fatalf("connect to TEST_POSTGRES_URL: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "opendata_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	})
	u, _ := url.Parse(PostgresURL(t))
	u.Path = "/" + name
	return u.String()
}

// Postgres creates a fresh database on the server at TEST_POSTGRES_URL,
// migrates it and drops it when the test ends.
func Postgres(t testing.TB) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, PostgresDatabase(t), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// BreakAudit makes every insert into the audit log fail (as a full disk or
// a lost connection would) until the returned function mends it: the
// tests of "the audit is part of the act" use it on either dialect.
func BreakAudit(t testing.TB, d *db.DB) func() {
	t.Helper()
	ctx := context.Background()
	stmts := []string{"CREATE TRIGGER audit_broken BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"}
	undo := []string{"DROP TRIGGER audit_broken"}
	if d.Dialect == db.Postgres {
		stmts = []string{"CREATE FUNCTION audit_broken() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk I/O error'; END $$ LANGUAGE plpgsql",
			"CREATE TRIGGER audit_broken BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_broken()"}
		undo = []string{"DROP TRIGGER audit_broken ON audit_events", "DROP FUNCTION audit_broken()"}
	}
	for _, s := range stmts {
		if _, err := d.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		for _, s := range undo {
			if _, err := d.Exec(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
	}
}
