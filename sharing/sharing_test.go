package sharing_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"opendata/audit"
	"opendata/auth"
	"opendata/calendar"
	"opendata/catalog"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
	"opendata/sharing"
)

var sh, _ = time.LoadLocation("Asia/Shanghai")

type fx struct {
	svc                         *sharing.Service
	cat                         *catalog.Store
	provider, requester, office sharing.Principal
	bureau, providerAdmin       sharing.Principal
	cond, open, closed          catalog.Resource
	now                         time.Time
}

func setup(t *testing.T, d *db.DB) *fx {
	ctx := context.Background()
	f, err := os.Open("../calendar/testdata/2025.csv")
	if err != nil {
		t.Fatal(err)
	}
	years, _ := calendar.ParseCSV(f)
	f.Close()
	cat := &catalog.Store{DB: d}
	users := &auth.Store{DB: d}
	mz, _ := cat.CreateDepartment(ctx, catalog.Department{Code: "MZJ", Name: "市民政局"})
	wj, _ := cat.CreateDepartment(ctx, catalog.Department{Code: "WJW", Name: "市卫生健康委员会"})
	mk := func(name string, role auth.Role, dept int64) sharing.Principal {
		u, err := users.CreateUser(ctx, auth.NewUser{Username: name, Password: "0123456789ab", Role: role, DepartmentID: dept})
		if err != nil {
			t.Fatal(err)
		}
		return sharing.FromActor(u.Actor())
	}
	x := &fx{cat: cat, provider: mk("wj_staff", auth.RoleDeptStaff, wj.ID), providerAdmin: mk("wj_admin", auth.RoleDeptAdmin, wj.ID),
		requester: mk("mz_staff", auth.RoleDeptStaff, mz.ID), office: mk("office", auth.RoleOffice, 0), bureau: mk("bureau", auth.RoleBureauAdmin, 0),
		now: time.Date(2025, 9, 30, 17, 0, 0, 0, sh)}
	x.svc = &sharing.Service{DB: d, Catalog: cat, Audit: &audit.Log{DB: d}, Calendar: calendar.New(sh, years[2025], []int{2025}),
		Now: func() time.Time { return x.now }}
	entry := func(code string, share catalog.ShareType) catalog.Resource {
		e := catalog.Entry{Code: code, Name: "执业医师注册信息", DepartmentID: wj.ID, Summary: "医师", CatalogKind: "department", Domain: "health",
			Format: "table", Items: []catalog.Item{{Name: "姓名"}, {Name: "执业机构"}, {Name: "身份证号", Personal: true}}, CollectionChannel: "business_system",
			UpdatePeriod: "monthly", ShareType: share, ShareMethods: []string{"api"}, ShareCondition: "仅限履职需要", ShareBasis: "个人信息保护法",
			OpenType: catalog.OpenNone, OpenBasis: "个人信息", ResponsiblePerson: "王五", ResponsibleContact: "1"}
		if share == "none" {
			e.ShareMethods = nil
		}
		r, err := cat.CreateResource(ctx, auth.System, e)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	x.cond, x.open, x.closed = entry("WJW-C", "conditional"), entry("WJW-U", "unconditional"), entry("WJW-N", "none")
	return x
}

func TestRequestLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := setup(t, d)
		s := x.svc
		// Direct access rules.
		for _, c := range []struct {
			r    catalog.Resource
			p    sharing.Principal
			want bool
		}{{x.open, x.requester, true}, {x.cond, x.requester, false}, {x.closed, x.requester, false}, {x.cond, x.provider, true},
			{x.open, x.bureau, false}, {x.open, x.office, false}} {
			dec, _ := s.Decide(ctx, c.p, c.r)
			if dec.Allowed != c.want {
				t.Errorf("%s reading %s: %v (%s)", c.p.Name, c.r.Code, dec.Allowed, dec.Reason)
			}
		}
		if _, err := s.File(ctx, x.requester, sharing.NewRequest{ResourceID: x.open.ID, Purpose: "低保核查", LegalDuty: "社会救助暂行办法", TermDays: 30}); !errors.Is(err, errs.Conflict) {
			t.Fatalf("request for unconditional data: %v", err)
		}
		if _, err := s.File(ctx, x.requester, sharing.NewRequest{ResourceID: x.closed.ID, Purpose: "低保核查", LegalDuty: "社会救助暂行办法", TermDays: 30}); !errors.Is(err, errs.Forbidden) || !strings.Contains(err.Error(), "个人信息保护法") {
			t.Fatalf("request for unshared data: %v", err)
		}
		_, err := s.File(ctx, x.requester, sharing.NewRequest{ResourceID: x.cond.ID, Purpose: "", LegalDuty: "", TermDays: 0, Columns: []string{"nope"}})
		var fe errs.FieldErrors
		if !errors.As(err, &fe) || fe["purpose"] == "" || fe["legal_duty"] == "" || fe["term_days"] == "" || fe["columns"] == "" {
			t.Fatalf("validation: %v", err)
		}
		// Filed the day before the National Day holiday: 5 working days end on Oct 14.
		req, err := s.File(ctx, x.requester, sharing.NewRequest{ResourceID: x.cond.ID, Purpose: "核实低保对象的医师身份", LegalDuty: "《社会救助暂行办法》第十一条",
			Columns: []string{"姓名", "执业机构"}, TermDays: 90})
		if err != nil {
			t.Fatal(err)
		}
		if req.Deadline.In(sh).Format("2006-01-02") != "2025-10-14" || req.Left == nil || req.Left.WorkingDays != 5 {
			t.Fatalf("deadline %v left %+v", req.Deadline.In(sh), req.Left)
		}
		if _, err := s.Approve(ctx, x.requester, req.ID, nil, 0); !errors.Is(err, errs.Forbidden) {
			t.Fatalf("requester approves own request: %v", err)
		}
		x.now = time.Date(2025, 10, 13, 10, 0, 0, 0, sh)
		if got, _ := s.Get(ctx, req.ID); got.Left.WorkingDays != 1 {
			t.Fatalf("left on Oct 13: %+v", got.Left)
		}
		got, err := s.Approve(ctx, x.provider, req.ID, []string{"姓名"}, 30)
		if err != nil || got.Status != sharing.Approved {
			t.Fatalf("approve: %v %+v", err, got)
		}
		dec, _ := s.Decide(ctx, x.requester, x.cond)
		if !dec.Allowed || len(dec.Columns) != 1 || dec.Columns[0] != "姓名" {
			t.Fatalf("grant decision %+v", dec)
		}
		// The grant ends with its term, not a minute later.
		x.now = x.now.Add(30*24*time.Hour + time.Minute)
		if dec, _ := s.Decide(ctx, x.requester, x.cond); dec.Allowed {
			t.Fatal("expired grant still allows access")
		}
		x.now = time.Date(2025, 10, 20, 10, 0, 0, 0, sh)

		// Refusal → office → leading group.
		req2, _ := s.File(ctx, x.requester, sharing.NewRequest{ResourceID: x.cond.ID, Purpose: "核实低保对象的医师身份", LegalDuty: "《社会救助暂行办法》", TermDays: 30})
		if _, err := s.Refuse(ctx, x.provider, req2.ID, ""); !errors.Is(err, errs.Invalid) {
			t.Fatalf("refuse without reasons: %v", err)
		}
		s.Refuse(ctx, x.provider, req2.ID, "涉及个人隐私")
		if _, err := s.Escalate(ctx, x.provider, req2.ID, "不同意"); !errors.Is(err, errs.Forbidden) {
			t.Fatalf("provider escalates: %v", err)
		}
		got, _ = s.Escalate(ctx, x.requester, req2.ID, "履职必需，请协调")
		if got.Status != sharing.EscalatedOffice {
			t.Fatalf("escalated %+v", got)
		}
		if _, err := s.Settle(ctx, x.bureau, req2.ID, true, "同意", nil, 0); !errors.Is(err, errs.Forbidden) {
			t.Fatalf("bureau settles an office matter: %v", err)
		}
		s.Settle(ctx, x.office, req2.ID, false, "维持不共享", nil, 0)
		got, _ = s.Escalate(ctx, x.requester, req2.ID, "提请领导小组决定")
		if got.Status != sharing.EscalatedGroup {
			t.Fatalf("to group %+v", got)
		}
		got, err = s.Settle(ctx, x.bureau, req2.ID, true, "领导小组同意共享", []string{"执业机构"}, 60)
		if err != nil || got.Status != sharing.Approved {
			t.Fatalf("group decision %v %+v", err, got)
		}
		var actions []string
		for _, e := range got.Events {
			actions = append(actions, e.Action)
		}
		if strings.Join(actions, " ") != "filed refused escalated_to_office office_refused escalated_to_group group_approved" {
			t.Fatalf("steps %v", actions)
		}

		// An unanswered request escalates itself when overdue.
		req3, _ := s.File(ctx, x.requester, sharing.NewRequest{ResourceID: x.cond.ID, Purpose: "核实低保对象的医师身份", LegalDuty: "《社会救助暂行办法》", TermDays: 30})
		if n, _ := s.EscalateOverdue(ctx); n != 0 {
			t.Fatal("escalated before the deadline")
		}
		x.now = req3.Deadline.Add(time.Minute)
		if n, err := s.EscalateOverdue(ctx); n != 1 || err != nil {
			t.Fatalf("overdue escalation %d %v", n, err)
		}
		if got, _ := s.Get(ctx, req3.ID); got.Status != sharing.EscalatedOffice || got.Events[1].Action != "overdue_escalated" {
			t.Fatalf("overdue %+v", got)
		}
		// The one-working-day reminder goes out once.
		req4, _ := s.File(ctx, x.requester, sharing.NewRequest{ResourceID: x.cond.ID, Purpose: "核实低保对象的医师身份", LegalDuty: "《社会救助暂行办法》", TermDays: 30})
		if n, _ := s.RemindDue(ctx); n != 0 {
			t.Fatal("reminded too early")
		}
		x.now = req4.Deadline.Add(-30 * time.Hour) // the working day before the deadline
		if n, err := s.RemindDue(ctx); n != 1 || err != nil {
			t.Fatalf("reminder %d %v", n, err)
		}
		if n, _ := s.RemindDue(ctx); n != 0 {
			t.Fatal("reminded twice")
		}
		// A dispute: reminded the working day before its deadline, flagged when overdue.
		x.now = time.Date(2025, 11, 3, 9, 0, 0, 0, sh) // Monday
		v, _ := x.cat.ReserveVersion(ctx, auth.System, x.cond.ID, "a.csv", "csv")
		x.cat.CommitVersion(ctx, v)
		dsp, err := s.ReportDispute(ctx, x.requester, x.cond, sharing.NewDispute{Version: v.Number, RowKey: "姓名=张三", Column: "执业机构", Problem: "执业机构已变更"})
		if err != nil || dsp.Deadline.In(sh).Format("2006-01-02") != "2025-11-10" {
			t.Fatalf("dispute %v %+v", err, dsp)
		}
		if n, _ := s.RemindDisputes(ctx); n != 0 {
			t.Fatal("dispute reminded too early")
		}
		x.now = time.Date(2025, 11, 7, 9, 0, 0, 0, sh) // Friday: Monday is the last day
		if n, _ := s.RemindDisputes(ctx); n != 1 {
			t.Fatal("no dispute reminder")
		}
		x.now = time.Date(2025, 11, 11, 9, 0, 0, 0, sh)
		if n, _ := s.RemindDisputes(ctx); n != 1 {
			t.Fatal("no overdue notice")
		}
		if n, _ := s.RemindDisputes(ctx); n != 0 {
			t.Fatal("overdue notice repeated")
		}
		if p, n, _ := (&audit.Log{DB: d}).Verify(ctx); p != nil || n < 8 {
			t.Fatalf("audit %v %d", p, n)
		}
	})
}

func TestCredentials(t *testing.T) {
	ctx := context.Background()
	x := setup(t, dbtest.SQLite(t))
	s := x.svc
	if _, err := s.CreateCredential(ctx, x.provider, x.provider.DepartmentID, "医师注册系统"); !errors.Is(err, errs.Forbidden) {
		t.Fatalf("staff issues a credential: %v", err)
	}
	c, err := s.CreateCredential(ctx, x.providerAdmin, x.providerAdmin.DepartmentID, "医师注册系统")
	if err != nil || !strings.HasPrefix(c.Token, "odc_") {
		t.Fatalf("create %v %+v", err, c)
	}
	p, err := s.Authenticate(ctx, c.Token)
	if err != nil || !p.System || p.DepartmentID != x.providerAdmin.DepartmentID || p.Name != "system:医师注册系统" {
		t.Fatalf("auth %v %+v", err, p)
	}
	list, _ := s.Credentials(ctx, x.providerAdmin, x.providerAdmin.DepartmentID)
	if len(list) != 1 || list[0].Token != "" || list[0].LastUsedAt == nil {
		t.Fatalf("list %+v", list)
	}
	n, err := s.RotateCredential(ctx, x.providerAdmin, c.ID)
	if err != nil || n.Token == c.Token {
		t.Fatalf("rotate %v", err)
	}
	if _, err := s.Authenticate(ctx, c.Token); !errors.Is(err, errs.Unauthenticated) {
		t.Fatalf("old token after rotation: %v", err)
	}
	if _, err := s.Authenticate(ctx, n.Token); err != nil {
		t.Fatal(err)
	}
	s.RevokeCredential(ctx, x.providerAdmin, n.ID)
	if _, err := s.Authenticate(ctx, n.Token); !errors.Is(err, errs.Unauthenticated) {
		t.Fatalf("revoked token: %v", err)
	}
	var hash string
	s.DB.QueryRow(ctx, "SELECT token_hash FROM dept_credentials WHERE id = ?", n.ID).Scan(&hash)
	if strings.Contains(hash, n.Token) || len(hash) != 64 {
		t.Fatalf("token stored as %q", hash)
	}
}
