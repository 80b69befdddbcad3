package publish_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"opendata/auth"
	"opendata/catalog"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
	"opendata/publish"
)

func TestCanWithdraw(t *testing.T) {
	r := catalog.Resource{ID: 1, Entry: catalog.Entry{DepartmentID: 7}}
	for _, tc := range []struct {
		who  auth.Actor
		want bool
	}{
		{auth.Actor{Role: auth.RoleBureauAdmin}, true},
		{auth.Actor{Role: auth.RoleDeptAdmin, DepartmentID: 7}, true},
		{auth.Actor{Role: auth.RoleDeptAdmin, DepartmentID: 8}, false},
		{auth.Actor{Role: auth.RoleDeptStaff, DepartmentID: 7}, false},
		{auth.Actor{Role: auth.RoleOffice}, false},
		{auth.Actor{Role: auth.RoleDeveloper}, false},
		{auth.Actor{}, false},
	} {
		if got := publish.CanWithdraw(tc.who, r); got != tc.want {
			t.Errorf("CanWithdraw(%s of %d) = %v, want %v", tc.who.Role, tc.who.DepartmentID, got, tc.want)
		}
	}
}

func TestReviews(t *testing.T) {
	for _, tc := range []struct {
		approver string
		who      auth.Role
		want     bool
	}{
		{"dept_admin", auth.RoleBureauAdmin, true},
		{"dept_admin", auth.RoleDeptAdmin, true},
		{"dept_admin", auth.RoleDeptStaff, false},
		{"dept_admin", auth.RoleOffice, false},
		{"bureau", auth.RoleBureauAdmin, true},
		{"bureau", auth.RoleDeptAdmin, false},
		{"", auth.RoleDeptAdmin, true},
	} {
		s := &publish.Service{Approver: tc.approver}
		if got := s.Reviews(auth.Actor{Role: tc.who, DepartmentID: 3}); got != tc.want {
			t.Errorf("approver %q: Reviews(%s) = %v, want %v", tc.approver, tc.who, got, tc.want)
		}
	}
}

func TestPublicVersions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		s := f.svc
		get := func() catalog.Resource {
			r, err := f.cat.GetResource(ctx, f.rid)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		numbers := func(vs []catalog.Version) string { // newest first
			out := ""
			for _, v := range vs {
				out += fmt.Sprintf("v%d ", v.Number)
			}
			return out
		}
		// Nothing published: nothing shown, and no version is found.
		if vs, err := s.PublicVersions(ctx, get()); err != nil || len(vs) != 0 {
			t.Fatalf("unpublished: %v %v", numbers(vs), err)
		}
		if _, err := s.PublicVersion(ctx, get(), 1); !errors.Is(err, errs.NotFound) {
			t.Fatalf("a draft version is shown: %v", err)
		}
		if err := s.Submit(ctx, f.staff, f.rid, 1); err != nil {
			t.Fatal(err)
		}
		if err := s.Approve(ctx, f.admin, f.rid, 1); err != nil {
			t.Fatal(err)
		}
		if err := s.Submit(ctx, f.staff, f.rid, 2); err != nil {
			t.Fatal(err)
		}
		r := get()
		for _, tc := range []struct {
			n       int
			want    int
			missing bool
		}{
			{0, 1, false}, // the current one
			{1, 1, false},
			{2, 0, true}, // submitted, not published
			{3, 0, true}, // no such version
			{-1, 0, true},
		} {
			v, err := s.PublicVersion(ctx, r, tc.n)
			if tc.missing != errors.Is(err, errs.NotFound) || (!tc.missing && (err != nil || v.Number != tc.want)) {
				t.Errorf("PublicVersion(%d) = v%d, %v", tc.n, v.Number, err)
			}
		}
		if vs, err := s.PublicVersions(ctx, r); err != nil || numbers(vs) != "v1 " {
			t.Fatalf("one published: %q %v", numbers(vs), err)
		}
		if err := s.Approve(ctx, f.admin, f.rid, 2); err != nil {
			t.Fatal(err)
		}
		if vs, _ := s.PublicVersions(ctx, get()); numbers(vs) != "v2 v1 " {
			t.Fatalf("two published: %q", numbers(vs))
		}
		// Once a withdrawal takes effect the open catalog shows nothing.
		if err := s.Withdraw(ctx, f.admin, f.rid, "数据迁移至省平台统一发布", 30); err != nil {
			t.Fatal(err)
		}
		s.Now = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
		if vs, _ := s.PublicVersions(ctx, get()); len(vs) != 0 {
			t.Fatalf("withdrawn: %q", numbers(vs))
		}
		if _, err := s.PublicVersion(ctx, get(), 0); !errors.Is(err, errs.NotFound) {
			t.Fatalf("withdrawn resource's version: %v", err)
		}
	})
}

func TestOpenColumns(t *testing.T) {
	v := catalog.Version{Columns: []catalog.VersionColumn{{Name: "a", Open: "kept"}, {Name: "id", Open: "masked"}, {Name: "phone", Open: "dropped"}}}
	got := publish.OpenColumns(v)
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "id" {
		t.Fatalf("open columns %+v", got)
	}
	if got := publish.OpenColumns(catalog.Version{}); got == nil || len(got) != 0 {
		t.Fatalf("no columns: %#v (want an empty list, not null, for JSON)", got)
	}
}
