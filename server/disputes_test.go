package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"opendata/auth"
	"opendata/catalog"
)

// TestDisputeVisibility (issue 10 item 7): any staff member listed any
// resource's disputes with other departments' evidence and reporter names,
// and filed disputes on data they could not read.
func TestDisputeVisibility(t *testing.T) {
	e := sqliteEnv(t)
	ctx := context.Background()
	gaj, err := e.app.Catalog.CreateDepartment(ctx, catalog.Department{Code: "GAJ", Name: "市公安局", Kind: "department"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Users.CreateUser(ctx, auth.NewUser{Username: "ga_staff", Password: "Police-pass-77", Role: auth.RoleDeptStaff, DepartmentID: gaj.ID}); err != nil {
		t.Fatal(err)
	}
	staff, admin := e.login("jt_staff", "transport-pass-1"), e.login("admin", "bureau-secret-1")
	health, police := e.login("wj_staff", "health-pass-123"), e.login("ga_staff", "Police-pass-77")
	shared := e.entryWithData(staff, admin, "JTJ-D1", "unconditional", "none")
	closed := e.entryWithData(staff, admin, "JTJ-D2", "conditional", "none")
	report := func(token string, id int64) resp {
		return e.do("POST", fmt.Sprintf("/api/v1/share/resources/%d/disputes", id), token, map[string]any{"version": 1, "row_key": "站点编号=2",
			"column": "日均客流", "problem": "客流数字与人工计数不符", "evidence": "2024年3月人工计数记录"}, nil)
	}
	// Data the health department cannot read is not theirs to dispute.
	if r := report(health, closed); r.status != 404 {
		t.Fatalf("dispute on unreadable data: %d %s", r.status, r.body)
	}
	if r := report(health, shared); r.status != 201 {
		t.Fatalf("dispute on shared data: %d %s", r.status, r.body)
	}
	list := func(token string, id int64) string {
		t.Helper()
		r := e.do("GET", fmt.Sprintf("/api/v1/share/resources/%d/disputes", id), token, nil, nil)
		if r.status != 200 {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		return string(r.body)
	}
	for _, who := range []struct {
		name, token string
		sees        bool
	}{{"provider", staff, true}, {"reporter", health, true}, {"bureau", admin, true}, {"third department", police, false}} {
		body := list(who.token, shared)
		if strings.Contains(body, "人工计数记录") != who.sees || strings.Contains(body, "wj_staff") != who.sees {
			t.Errorf("%s sees the dispute: %v, want %v (%s)", who.name, !who.sees, who.sees, body)
		}
	}
	// Not public: the public API shows nothing.
	if r := e.do("GET", fmt.Sprintf("/api/v1/resources/%d/disputes", shared), "", nil, nil); r.status != 404 {
		t.Fatalf("public disputes of non-public data: %d", r.status)
	}
}
