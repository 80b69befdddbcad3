package sharing_test

import (
	"context"
	"testing"

	"opendata/audit"
	"opendata/db"
	"opendata/db/dbtest"
)

// A system credential's creation, rotation and revocation commit with
// their audit events or not at all.
func TestCredentialChangesAuditedInTheirTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := setup(t, d)
		s, admin := x.svc, x.providerAdmin
		events := func(action string) int {
			return count(t, d, "SELECT COUNT(*) FROM audit_events WHERE action = ?", action)
		}

		mend := dbtest.BreakAudit(t, d)
		if _, err := s.CreateCredential(ctx, admin, admin.DepartmentID, "医师注册系统"); err == nil {
			t.Fatal("a credential was issued without its audit event")
		}
		if n := count(t, d, "SELECT COUNT(*) FROM dept_credentials"); n != 0 {
			t.Fatalf("%d credentials stored without their event", n)
		}
		mend()
		c, err := s.CreateCredential(ctx, admin, admin.DepartmentID, "医师注册系统")
		if err != nil {
			t.Fatal(err)
		}

		mend = dbtest.BreakAudit(t, d)
		if _, err := s.RotateCredential(ctx, admin, c.ID); err == nil {
			t.Fatal("a credential was rotated without its audit events")
		}
		if err := s.RevokeCredential(ctx, admin, c.ID); err == nil {
			t.Fatal("a credential was revoked without its audit event")
		}
		if _, err := s.Authenticate(ctx, c.Token); err != nil {
			t.Fatalf("the credential stopped working though nothing was recorded: %v", err)
		}
		if n := count(t, d, "SELECT COUNT(*) FROM dept_credentials"); n != 1 {
			t.Fatalf("a failed rotation left %d credentials", n)
		}
		mend()
		n, err := s.RotateCredential(ctx, admin, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeCredential(ctx, admin, n.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeCredential(ctx, admin, n.ID); err != nil {
			t.Fatal(err)
		}
		if events("credential.created") != 2 || events("credential.revoked") != 2 {
			t.Fatalf("events: %d created, %d revoked (want 2 and 2)", events("credential.created"), events("credential.revoked"))
		}
		if p, _, err := (&audit.Log{DB: d}).Verify(ctx); p != nil || err != nil {
			t.Fatalf("chain: %v %v", p, err)
		}
	})
}
