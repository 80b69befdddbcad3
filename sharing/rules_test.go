package sharing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"opendata/auth"
	"opendata/catalog"
	"opendata/db/dbtest"
	"opendata/errs"
	"opendata/sharing"
)

func TestRequestRules(t *testing.T) {
	const provider, requester, third = 1, 2, 3
	res := catalog.Resource{ID: 9, Entry: catalog.Entry{DepartmentID: provider}}
	staff := func(dept int64) sharing.Principal {
		return sharing.Principal{Name: "staff", Role: auth.RoleDeptStaff, DepartmentID: dept}
	}
	system := sharing.Principal{Name: "sys", DepartmentID: provider, System: true}
	office := sharing.Principal{Name: "office", Role: auth.RoleOffice}
	bureau := sharing.Principal{Name: "bureau", Role: auth.RoleBureauAdmin}
	req := func(status string) sharing.Request {
		return sharing.Request{ID: 5, ResourceID: res.ID, DepartmentID: requester, Status: status}
	}
	for _, tc := range []struct {
		name   string
		p      sharing.Principal
		status string
		see    bool
		want   sharing.Actions
	}{
		{"provider, pending", staff(provider), sharing.Pending, true, sharing.Actions{CanAnswer: true}},
		{"provider, refused", staff(provider), sharing.Refused, true, sharing.Actions{}},
		{"provider's system", system, sharing.Pending, true, sharing.Actions{}},
		{"requester, pending", staff(requester), sharing.Pending, true, sharing.Actions{}},
		{"requester, refused", staff(requester), sharing.Refused, true, sharing.Actions{CanEscalate: true}},
		{"requester, refused by the office", staff(requester), sharing.OfficeRefused, true, sharing.Actions{CanEscalate: true}},
		{"requester, refused by the group", staff(requester), sharing.GroupRefused, true, sharing.Actions{}},
		{"a third department", staff(third), sharing.Pending, false, sharing.Actions{}},
		{"a third department, refused", staff(third), sharing.Refused, false, sharing.Actions{}},
		{"office, escalated to it", office, sharing.EscalatedOffice, true, sharing.Actions{CanSettle: true}},
		{"office, escalated to the group", office, sharing.EscalatedGroup, true, sharing.Actions{}},
		{"bureau, escalated to the group", bureau, sharing.EscalatedGroup, true, sharing.Actions{CanSettle: true}},
		{"bureau, escalated to the office", bureau, sharing.EscalatedOffice, true, sharing.Actions{}},
		{"bureau, pending", bureau, sharing.Pending, true, sharing.Actions{}},
		{"no department, no role", sharing.Principal{Name: "x"}, sharing.Pending, false, sharing.Actions{}},
	} {
		r := req(tc.status)
		if got := sharing.CanSeeRequest(tc.p, r, res); got != tc.see {
			t.Errorf("%s: sees %v, want %v", tc.name, got, tc.see)
		}
		if got := sharing.ActionsFor(tc.p, r, res); got != tc.want {
			t.Errorf("%s: actions %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// GetFor hides another department's request; the workflow refuses what
// ActionsFor does not offer.
func TestGetForAndWorkflowAgree(t *testing.T) {
	ctx := context.Background()
	x := setup(t, dbtest.SQLite(t))
	s := x.svc
	req, err := s.File(ctx, x.requester, sharing.NewRequest{ResourceID: x.cond.ID, Purpose: "核实低保对象的医师身份", LegalDuty: "《社会救助暂行办法》第十一条", TermDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []sharing.Principal{x.requester, x.provider, x.bureau, x.office} {
		if _, err := s.GetFor(ctx, p, req.ID); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
	}
	stranger := sharing.Principal{Name: "third", Role: auth.RoleDeptStaff, DepartmentID: x.requester.DepartmentID + 100}
	if _, err := s.GetFor(ctx, stranger, req.ID); !errors.Is(err, errs.NotFound) {
		t.Fatalf("a third department sees the request: %v", err)
	}
	if _, err := s.GetFor(ctx, x.provider, req.ID+1000); !errors.Is(err, errs.NotFound) {
		t.Fatalf("no such request: %v", err)
	}
	// What the console does not offer, the workflow refuses.
	if a := sharing.ActionsFor(x.requester, req, x.cond); a.CanAnswer {
		t.Fatal("requester offered to answer")
	}
	if _, err := s.Refuse(ctx, x.requester, req.ID, "不同意"); !errors.Is(err, errs.Forbidden) {
		t.Fatalf("requester refuses: %v", err)
	}
	if a := sharing.ActionsFor(x.provider, req, x.cond); !a.CanAnswer {
		t.Fatal("provider not offered to answer")
	}
	got, err := s.Refuse(ctx, x.provider, req.ID, "涉及个人隐私")
	if err != nil {
		t.Fatal(err)
	}
	if a := sharing.ActionsFor(x.requester, got, x.cond); !a.CanEscalate {
		t.Fatal("requester not offered to escalate a refusal")
	}
	if _, err := s.Escalate(ctx, x.provider, req.ID, "不同意"); !errors.Is(err, errs.Forbidden) {
		t.Fatalf("provider escalates: %v", err)
	}
	got, err = s.Escalate(ctx, x.requester, req.ID, "履职必需")
	if err != nil {
		t.Fatal(err)
	}
	if a := sharing.ActionsFor(x.office, got, x.cond); !a.CanSettle {
		t.Fatal("office not offered to settle")
	}
	if _, err := s.Settle(ctx, x.bureau, req.ID, true, "同意", nil, 0); !errors.Is(err, errs.Forbidden) {
		t.Fatalf("bureau settles an escalation to the office: %v", err)
	}
	if _, err := s.Settle(ctx, x.office, req.ID, true, "同意", nil, 0); err != nil {
		t.Fatal(err)
	}
}

func TestPublicRecords(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	for _, tc := range []struct {
		name string
		r    catalog.Resource
		want bool
	}{
		{"open, published", catalog.Resource{Entry: catalog.Entry{OpenType: catalog.OpenUnconditional}, PublishedVersion: 1}, true},
		{"open, withdrawal announced", catalog.Resource{Entry: catalog.Entry{OpenType: catalog.OpenUnconditional}, PublishedVersion: 1, WithdrawAt: &future}, true},
		{"open, withdrawn", catalog.Resource{Entry: catalog.Entry{OpenType: catalog.OpenUnconditional}, PublishedVersion: 1, WithdrawAt: &past}, false},
		{"open, unpublished", catalog.Resource{Entry: catalog.Entry{OpenType: catalog.OpenUnconditional}}, false},
		{"open, retired", catalog.Resource{Entry: catalog.Entry{OpenType: catalog.OpenUnconditional}, PublishedVersion: 1, RetiredAt: &past}, false},
		{"on application", catalog.Resource{Entry: catalog.Entry{OpenType: catalog.OpenOnApplication}, PublishedVersion: 1}, false},
		{"not open", catalog.Resource{Entry: catalog.Entry{OpenType: catalog.OpenNone}, PublishedVersion: 1}, false},
	} {
		if got := sharing.PublicRecords(tc.r, now); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
