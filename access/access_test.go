package access_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"opendata/access"
	"opendata/auth"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
	"opendata/refcache"
)

func developer(t *testing.T, d *db.DB) auth.User {
	t.Helper()
	u, err := (&auth.Store{DB: d}).CreateUser(context.Background(), auth.NewUser{Username: "dev@example.cn", Password: "developer-pass-1",
		Role: auth.RoleDeveloper, Email: "dev@example.cn"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestKeyCache: two instances share the database. A revocation on one
// acts at once there and within KeyCacheTTL on the other; expiry acts at
// once everywhere, cached or not.
func TestKeyCache(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		u := developer(t, d)
		now := time.Now().UTC()
		clock := func() time.Time { return now }
		mk := func() *access.Service {
			return &access.Service{DB: d, Users: &auth.Store{DB: d}, KeyMaxDays: 30, KeyCacheTTL: time.Second, Now: clock}
		}
		a, b := mk(), mk()
		k, token, err := a.CreateKey(ctx, u, "两个实例", 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, token); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Authenticate(ctx, token); err != nil {
			t.Fatal(err)
		}
		if err := b.RevokeKey(ctx, u, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Authenticate(ctx, token); !errors.Is(err, errs.Unauthenticated) {
			t.Fatalf("revoking instance still accepts the key: %v", err)
		}
		if _, err := a.Authenticate(ctx, token); err != nil {
			t.Fatalf("the other instance should trust its cache within the TTL: %v", err)
		}
		now = now.Add(1100 * time.Millisecond)
		if _, err := a.Authenticate(ctx, token); !errors.Is(err, errs.Unauthenticated) {
			t.Fatalf("after the TTL the other instance still accepts a revoked key: %v", err)
		}

		// With the version watcher serve runs, the other instance drops a
		// revoked key at its next check, long before the TTL.
		a.KeyCacheTTL = time.Hour
		watchA := &refcache.Watcher{DB: d}
		watchA.On(refcache.Keys, func(context.Context) error { a.ForgetKeys(); return nil })
		if err := watchA.Prime(ctx); err != nil {
			t.Fatal(err)
		}
		k3, token3, err := a.CreateKey(ctx, u, "版本", 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, token3); err != nil {
			t.Fatal(err)
		}
		if err := b.RevokeKey(ctx, u, k3.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, token3); err != nil {
			t.Fatalf("before its check A serves from its cache: %v", err)
		}
		if names, err := watchA.Check(ctx); err != nil || len(names) != 1 {
			t.Fatalf("A's check after a revocation on B reloaded %v (err %v)", names, err)
		}
		if _, err := a.Authenticate(ctx, token3); !errors.Is(err, errs.Unauthenticated) {
			t.Fatalf("after its version check A still accepts a key revoked on B: %v", err)
		}

		// Expiry needs no cache expiry: a cached key stops at its end.
		_, token2, err := a.CreateKey(ctx, u, "一天", 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, token2); err != nil {
			t.Fatal(err)
		}
		now = now.Add(24*time.Hour + time.Millisecond)
		if _, err := a.Authenticate(ctx, token2); !errors.Is(err, errs.Unauthenticated) {
			t.Fatalf("expired cached key accepted: %v", err)
		}
		// Bad input.
		for _, bad := range []string{"", "oda_", "ods_" + token2[4:], token2 + "x"} {
			if _, err := a.Authenticate(ctx, bad); !errors.Is(err, errs.Unauthenticated) {
				t.Fatalf("%q accepted: %v", bad, err)
			}
		}
		if _, _, err := a.CreateKey(ctx, u, "", 0); err == nil {
			t.Fatal("a key without a name")
		}
		if _, _, err := a.CreateKey(ctx, u, "太长", 31); err == nil {
			t.Fatal("a key longer than key_max_days")
		}
		staff := auth.User{ID: 99, Role: auth.RoleDeptStaff}
		if _, _, err := a.CreateKey(ctx, staff, "x", 1); !errors.Is(err, errs.Forbidden) {
			t.Fatalf("staff key: %v", err)
		}
	})
}

// TestUsageFlush: counts add up across flushes and survive a failed one.
func TestUsageFlush(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		u := &access.Usage{Location: time.UTC}
		at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		u.Add(1, 2, 3, 100, 1000, at)
		u.Add(1, 2, 3, 50, 500, at)
		if err := u.Flush(ctx, d); err != nil {
			t.Fatal(err)
		}
		u.Add(1, 2, 3, 1, 10, at)
		u.Add(0, 0, 3, 5, 50, at.Add(24*time.Hour))
		if err := u.Flush(ctx, d); err != nil {
			t.Fatal(err)
		}
		var calls, rows, bytes int64
		if err := d.QueryRow(ctx, "SELECT calls, rows_out, bytes_out FROM api_usage WHERE user_id = 1 AND key_id = 2 AND resource_id = 3 AND day = '2026-11-25'").Scan(&calls, &rows, &bytes); err != nil {
			t.Fatal(err)
		}
		if calls != 3 || rows != 151 || bytes != 1510 {
			t.Fatalf("usage %d %d %d", calls, rows, bytes)
		}
		if err := d.QueryRow(ctx, "SELECT SUM(calls) FROM api_usage").Scan(&calls); err != nil || calls != 4 {
			t.Fatalf("total calls %d %v", calls, err)
		}
	})
}
