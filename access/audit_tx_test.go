package access_test

import (
	"context"
	"testing"

	"opendata/access"
	"opendata/audit"
	"opendata/auth"
	"opendata/db"
	"opendata/db/dbtest"
)

func count(t *testing.T, d *db.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := d.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A key's creation, revocation and tier change commit with their audit
// event or not at all: with the log refusing events, nothing changes.
func TestKeyChangesAuditedInTheirTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		u := developer(t, d)
		bureau, err := (&auth.Store{DB: d}).CreateUser(ctx, auth.NewUser{Username: "bureau", Password: "0123456789ab", Role: auth.RoleBureauAdmin})
		if err != nil {
			t.Fatal(err)
		}
		s := &access.Service{DB: d, Users: &auth.Store{DB: d}, Audit: &audit.Log{DB: d}, KeyMaxDays: 30}
		events := func(action string) int {
			return count(t, d, "SELECT COUNT(*) FROM audit_events WHERE action = ?", action)
		}

		mend := dbtest.BreakAudit(t, d)
		if _, _, err := s.CreateKey(ctx, u, "审计失败", 0); err == nil {
			t.Fatal("a key was created without its audit event")
		}
		if n := count(t, d, "SELECT COUNT(*) FROM api_keys"); n != 0 {
			t.Fatalf("%d keys stored without their event", n)
		}
		mend()
		k, _, err := s.CreateKey(ctx, u, "审计正常", 0)
		if err != nil {
			t.Fatal(err)
		}
		if events("key.create") != 1 {
			t.Fatalf("key.create events: %d", events("key.create"))
		}

		mend = dbtest.BreakAudit(t, d)
		if err := s.RevokeKey(ctx, u, k.ID); err == nil {
			t.Fatal("a key was revoked without its audit event")
		}
		if _, err := s.SetTier(ctx, bureau, k.ID, access.TierPartner); err == nil {
			t.Fatal("a tier was changed without its audit event")
		}
		if got, _ := s.GetKey(ctx, k.ID); got.RevokedAt != nil || got.Tier != access.TierRegistered {
			t.Fatalf("the key changed without its events: %+v", got)
		}
		mend()
		if err := s.RevokeKey(ctx, u, k.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeKey(ctx, bureau, k.ID); err != nil {
			t.Fatal(err)
		}
		if events("key.revoke") != 1 {
			t.Fatalf("key.revoke events for one revocation: %d", events("key.revoke"))
		}
		if p, _, err := (&audit.Log{DB: d}).Verify(ctx); p != nil || err != nil {
			t.Fatalf("chain: %v %v", p, err)
		}
	})
}

// A developer's sign-up and the bureau's activation commit with their
// audit events or not at all.
func TestAccountChangesAuditedInTheirTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		bureau, err := (&auth.Store{DB: d}).CreateUser(ctx, auth.NewUser{Username: "bureau", Password: "0123456789ab", Role: auth.RoleBureauAdmin})
		if err != nil {
			t.Fatal(err)
		}
		s := &access.Service{DB: d, Users: &auth.Store{DB: d}, Audit: &audit.Log{DB: d}, VerifyByEmail: true}
		in := access.SignUp{Email: "dev@example.cn", Password: "developer-pass-1", DisplayName: "开发者"}
		mend := dbtest.BreakAudit(t, d)
		if _, err := s.Register(ctx, in); err == nil {
			t.Fatal("an account was registered without its audit event")
		}
		if n := count(t, d, "SELECT COUNT(*) FROM users WHERE username = ?", in.Email); n != 0 {
			t.Fatalf("the account was stored without its event")
		}
		mend()
		reg, err := s.Register(ctx, in)
		if err != nil || reg.VerifyToken == "" {
			t.Fatalf("register: %v %+v", err, reg)
		}
		if n := count(t, d, "SELECT COUNT(*) FROM email_tokens WHERE user_id = ?", reg.User.ID); n != 1 {
			t.Fatalf("%d verification tokens", n)
		}
		mend = dbtest.BreakAudit(t, d)
		if _, err := s.SetDeveloperActive(ctx, bureau, reg.User.ID, true); err == nil {
			t.Fatal("an account was activated without its audit event")
		}
		if u, _ := s.Users.GetUser(ctx, reg.User.ID); u.Active {
			t.Fatal("the account became active without its event")
		}
		mend()
		if _, err := s.SetDeveloperActive(ctx, bureau, reg.User.ID, true); err != nil {
			t.Fatal(err)
		}
		if n := count(t, d, "SELECT COUNT(*) FROM audit_events WHERE action IN ('account.register', 'account.activate')"); n != 2 {
			t.Fatalf("%d account events", n)
		}
	})
}
