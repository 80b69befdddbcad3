package sharing_test

import (
	"testing"

	"opendata/auth"
	"opendata/catalog"
	"opendata/sharing"
)

func TestDisputeVisibility(t *testing.T) {
	const provider, reporter, third = 1, 2, 3
	res := catalog.Resource{ID: 9, Entry: catalog.Entry{DepartmentID: provider}}
	open := sharing.Dispute{ID: 1, Reporter: "wj_staff", ReporterDepartment: reporter, RowKey: "站点编号=2", Evidence: "人工计数", Problem: "客流数字有误", Status: "open"}
	answered := open
	answered.ID, answered.Status, answered.Answer = 2, "confirmed", "已更正"
	staffOf := func(d int64) *sharing.Principal {
		return &sharing.Principal{UserID: d * 10, Name: "x", Role: auth.RoleDeptStaff, DepartmentID: d}
	}
	cases := []struct {
		name       string
		p          *sharing.Principal
		public     bool
		wantIDs    []int64
		wantFull   bool
		canSeeOpen bool
	}{
		{"provider", staffOf(provider), false, []int64{1, 2}, true, true},
		{"reporting department", staffOf(reporter), false, []int64{1, 2}, true, true},
		{"bureau", &sharing.Principal{Role: auth.RoleBureauAdmin}, false, []int64{1, 2}, true, true},
		{"office", &sharing.Principal{Role: auth.RoleOffice}, false, []int64{1, 2}, true, true},
		{"third department, not public", staffOf(third), false, nil, false, false},
		{"third department, public dataset: answered, public part", staffOf(third), true, []int64{2}, false, false},
		{"the public, public dataset", nil, true, []int64{2}, false, false},
		{"the public, not public", nil, false, nil, false, false},
		{"a third department's system", &sharing.Principal{DepartmentID: third, System: true}, true, []int64{2}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := sharing.VisibleDisputes(tc.p, res, tc.public, []sharing.Dispute{open, answered})
			if len(got) != len(tc.wantIDs) {
				t.Fatalf("sees %d disputes, want %v", len(got), tc.wantIDs)
			}
			for i, d := range got {
				if d.ID != tc.wantIDs[i] {
					t.Fatalf("sees %d, want %v", d.ID, tc.wantIDs)
				}
				full := d.Reporter != "" && d.Evidence != "" && d.RowKey != ""
				if full != tc.wantFull {
					t.Fatalf("dispute %d in full: %v, want %v (%+v)", d.ID, full, tc.wantFull, d)
				}
			}
			if tc.p != nil && sharing.CanSeeDispute(*tc.p, open, res) != tc.canSeeOpen {
				t.Fatalf("CanSeeDispute = %v", !tc.canSeeOpen)
			}
		})
	}
}

func TestDirectionOf(t *testing.T) {
	res := catalog.Resource{ID: 1, Entry: catalog.Entry{DepartmentID: 2}}
	req := sharing.Request{ResourceID: 1, DepartmentID: 3}
	for _, c := range []struct {
		p    sharing.Principal
		want string
	}{
		{sharing.Principal{DepartmentID: 2}, sharing.Incoming},
		{sharing.Principal{DepartmentID: 3}, sharing.Outgoing},
		{sharing.Principal{DepartmentID: 4}, sharing.Supervised},
		{sharing.Principal{Role: auth.RoleBureauAdmin}, sharing.Supervised},
	} {
		if got := sharing.DirectionOf(c.p, req, res); got != c.want {
			t.Errorf("%+v: %s, want %s", c.p, got, c.want)
		}
	}
}

func TestPageLink(t *testing.T) {
	for in, want := range map[string]string{
		"/api/v1/share/requests/12": "/console/share/requests#request-12",
		"/console/applications":     "/console/applications",
		"/api/v1/share/requests/x":  "/api/v1/share/requests/x",
		"":                          "",
	} {
		if got := sharing.PageLink(in); got != want {
			t.Errorf("PageLink(%q) = %q, want %q", in, got, want)
		}
	}
	if sharing.PageLink(sharing.RequestLink(3)) != sharing.RequestLink(3) {
		t.Error("a new link changes")
	}
}
