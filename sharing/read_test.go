package sharing_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"opendata/access"
	"opendata/catalog"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
	"opendata/sharing"
)

// grantsFake is the on-application grants of outside accounts.
type grantsFake map[[2]int64]access.Grant

func (g grantsFake) ActiveGrant(_ context.Context, resource, user int64) (access.Grant, bool, error) {
	gr, ok := g[[2]int64{resource, user}]
	return gr, ok, nil
}

// The read matrix of design.md §5, row by row.
func TestReadTarget(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := setup(t, d)
		s := x.svc
		// The conditionally shared resource has a grant for the requester's
		// department on one column.
		req, err := s.File(ctx, x.requester, sharing.NewRequest{ResourceID: x.cond.ID, Purpose: "核实低保对象的医师身份", LegalDuty: "《社会救助暂行办法》第十一条",
			Columns: []string{"姓名"}, TermDays: 90})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Approve(ctx, x.provider, req.ID, []string{"姓名"}, 30); err != nil {
			t.Fatal(err)
		}
		const developer, stranger = 501, 502
		s.OpenGrants = grantsFake{{x.open.ID, developer}: {ApplicationID: 77, Columns: []string{"执业机构"}}}

		versions := func(r catalog.Resource, latest, published int) catalog.Resource {
			r.LatestVersion, r.PublishedVersion = latest, published
			return r
		}
		opened := func(r catalog.Resource, openType catalog.OpenType) catalog.Resource {
			r.OpenType = openType
			return r
		}
		withdrawn := func(r catalog.Resource) catalog.Resource {
			at := x.now.Add(-time.Hour)
			r.WithdrawAt = &at
			return r
		}
		// Shared unconditionally, open unconditionally (v2 ingested, v1 published).
		openData := versions(opened(x.open, "unconditional"), 2, 1)
		// Shared on condition, open on application.
		condApp := versions(opened(x.cond, "on_application"), 2, 1)
		// Not shared, not open.
		closed := versions(x.closed, 3, 0)
		// Not shared, but open unconditionally: departments read it as the public does.
		closedOpen := versions(opened(x.closed, "unconditional"), 3, 2)
		onApp := versions(opened(x.open, "on_application"), 2, 1)

		dept := func(p sharing.Principal) *sharing.Principal { return &p }
		other := sharing.Principal{Name: "another department", DepartmentID: x.requester.DepartmentID + 100}
		const purpose = "核实低保对象的医师身份"
		for _, tc := range []struct {
			name    string
			rd      sharing.Reader
			r       catalog.Resource
			want    string // variant@version columns [internal|public|app N]
			wantErr error
		}{
			{"provider reads its own closed data in full", sharing.Reader{Department: dept(x.provider), Purpose: purpose}, closed, "full@3 all internal", nil},
			{"provider without a purpose", sharing.Reader{Department: dept(x.provider)}, closed, "", errs.Invalid},
			{"department, shared unconditionally", sharing.Reader{Department: dept(x.requester), Purpose: purpose}, openData, "full@2 all internal", nil},
			{"department with a grant: its columns", sharing.Reader{Department: dept(x.requester), Purpose: purpose}, condApp, "full@2 [姓名] internal", nil},
			{"provider's admin reads its own conditional data in full", sharing.Reader{Department: dept(x.providerAdmin), Purpose: purpose}, condApp, "full@2 all internal", nil},
			{"department without a grant, open on application", sharing.Reader{Department: dept(other), Purpose: purpose}, condApp, "", errs.Forbidden},
			{"department without a grant, open unconditionally", sharing.Reader{Department: dept(other)}, versions(opened(x.cond, "unconditional"), 2, 1), "open@1 all public", nil},
			{"department, not shared, not open", sharing.Reader{Department: dept(x.requester), Purpose: purpose}, closed, "", errs.Forbidden},
			{"department, not shared but open: the open variant", sharing.Reader{Department: dept(x.requester)}, closedOpen, "open@2 all public", nil},
			{"department principal without a department (bureau)", sharing.Reader{Department: dept(x.bureau), Purpose: purpose}, closed, "", errs.Forbidden},
			{"bureau on open data reads it as the public", sharing.Reader{Department: dept(x.bureau)}, openData, "open@1 all public", nil},
			{"anonymous, open data", sharing.Reader{}, openData, "open@1 all public", nil},
			{"anonymous, not public", sharing.Reader{}, closed, "", errs.NotFound},
			{"anonymous, unpublished", sharing.Reader{}, versions(opened(x.open, "unconditional"), 2, 0), "", errs.NotFound},
			{"anonymous, withdrawal in effect", sharing.Reader{}, withdrawn(openData), "", errs.NotFound},
			{"anonymous, on application", sharing.Reader{}, onApp, "", errs.Unauthenticated},
			{"account without an application", sharing.Reader{AccountID: stranger}, onApp, "", errs.Forbidden},
			{"account with a grant: its columns", sharing.Reader{AccountID: developer}, onApp, "open@1 [执业机构] app 77", nil},
			{"account with a grant for another dataset", sharing.Reader{AccountID: developer}, condApp, "", errs.Forbidden},
			{"department, no data yet", sharing.Reader{Department: dept(x.provider), Purpose: purpose}, versions(x.closed, 0, 0), "", errs.NotFound},
		} {
			got, err := s.ReadTarget(ctx, tc.rd, tc.r)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("%s: %v, want %v", tc.name, err, tc.wantErr)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if s := describe(got); s != tc.want {
				t.Errorf("%s: %s, want %s", tc.name, s, tc.want)
			}
			if got.Key != fmt.Sprintf("resources/%d/v%d/%s.parquet", tc.r.ID, got.Version, got.Variant) {
				t.Errorf("%s: key %s", tc.name, got.Key)
			}
		}
	})
}

// The share download is the internal path only: no open fallback.
func TestSharedTarget(t *testing.T) {
	ctx := context.Background()
	x := setup(t, dbtest.SQLite(t))
	s := x.svc
	open := x.closed
	open.OpenType, open.PublishedVersion, open.LatestVersion = "unconditional", 1, 1
	for _, tc := range []struct {
		name    string
		p       sharing.Principal
		purpose string
		r       catalog.Resource
		want    string
		wantErr error
	}{
		{"provider", x.provider, "年度核查执业信息", open, "full@1 all internal", nil},
		{"no purpose", x.provider, "", open, "", errs.Invalid},
		{"not shared, though open", x.requester, "年度核查执业信息", open, "", errs.Forbidden},
		{"bureau", x.bureau, "年度核查执业信息", open, "", errs.Forbidden},
	} {
		got, err := s.SharedTarget(ctx, tc.p, tc.purpose, tc.r)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || describe(got) != tc.want || got.Purpose != tc.purpose || got.Principal.Name != tc.p.Name {
			t.Errorf("%s: %s %+v %v", tc.name, describe(got), got, err)
		}
	}
}

func describe(t sharing.Target) string {
	cols := "all"
	if t.Columns != nil {
		cols = fmt.Sprint(t.Columns)
	}
	out := fmt.Sprintf("%s@%d %s", t.Variant, t.Version, cols)
	switch {
	case t.Internal:
		out += " internal"
	case t.Public:
		out += " public"
	case t.ApplicationID != 0:
		out += fmt.Sprintf(" app %d", t.ApplicationID)
	}
	return out
}
