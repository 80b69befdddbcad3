package audit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"opendata/audit"
	"opendata/auth"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
)

func TestScopeFor(t *testing.T) {
	for _, tc := range []struct {
		who       auth.Actor
		dept      int64
		forbidden bool
	}{
		{auth.Actor{Role: auth.RoleBureauAdmin}, 0, false},
		{auth.Actor{Role: auth.RoleOffice}, 0, false},
		{auth.Actor{Role: auth.RoleDeptAdmin, DepartmentID: 4}, 4, false},
		{auth.Actor{Role: auth.RoleDeptStaff, DepartmentID: 5}, 5, false},
		{auth.Actor{Role: auth.RoleDeptStaff}, 0, true}, // a department role without a department sees nothing, not everything
		{auth.Actor{Role: auth.RoleDeveloper, ID: 9}, 0, true},
		{auth.Actor{}, 0, true},
	} {
		sc, err := audit.ScopeFor(tc.who)
		if tc.forbidden != errors.Is(err, errs.Forbidden) || sc.DepartmentID != tc.dept {
			t.Errorf("ScopeFor(%s of %d) = %+v, %v", tc.who.Role, tc.who.DepartmentID, sc, err)
		}
	}
}

// A department sees the events on its own resources only, and asking for
// another department's resource is a NotFound.
func TestScopedList(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := db.Now()
		for i, code := range []string{"JTJ", "WJW"} {
			if _, err := d.Exec(ctx, "INSERT INTO departments (code, name, kind, created_at) VALUES (?, ?, 'department', ?)", code, code, now); err != nil {
				t.Fatal(err)
			}
			for j := 0; j < 2; j++ {
				if _, err := d.Exec(ctx, `INSERT INTO resources (code, department_id, revision, entry, name, catalog_kind, domain, share_type, open_type, update_period, created_at, updated_at)
					VALUES (?, ?, 1, '{}', 'r', 'basic', 'transport', 'unconditional', 'none', 'monthly', ?, ?)`, fmt.Sprintf("%s-%d", code, j), i+1, now, now); err != nil {
					t.Fatal(err)
				}
			}
		}
		l := &audit.Log{DB: d}
		for rid := int64(1); rid <= 4; rid++ {
			l.Append(ctx, audit.Event{ActorName: "x", Action: "share.read", ResourceID: rid})
		}
		l.Append(ctx, audit.Event{ActorName: "x", Action: "credential.created"}) // on no resource
		jtj, _ := audit.ScopeFor(auth.Actor{Role: auth.RoleDeptStaff, DepartmentID: 1})
		bureau, _ := audit.ScopeFor(auth.Actor{Role: auth.RoleBureauAdmin})
		for _, tc := range []struct {
			name     string
			f        audit.Filter
			want     string
			notFound bool
		}{
			{"department", audit.Filter{Scope: jtj}, "2 1 ", false},
			{"department, own resource", audit.Filter{Scope: jtj, ResourceIDs: []int64{2}}, "2 ", false},
			{"department, another's resource", audit.Filter{Scope: jtj, ResourceIDs: []int64{3}}, "", true},
			{"department, own and another's", audit.Filter{Scope: jtj, ResourceIDs: []int64{1, 4}}, "", true},
			{"bureau", audit.Filter{Scope: bureau}, "0 4 3 2 1 ", false},
			{"bureau, one resource", audit.Filter{Scope: bureau, ResourceIDs: []int64{3}}, "3 ", false},
		} {
			evs, err := l.List(ctx, tc.f)
			got := ""
			for _, e := range evs {
				got += fmt.Sprintf("%d ", e.ResourceID)
			}
			if tc.notFound != errors.Is(err, errs.NotFound) || (!tc.notFound && (err != nil || got != tc.want)) {
				t.Errorf("%s: %q %v, want %q", tc.name, got, err, tc.want)
			}
		}
	})
}
