package publish_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"opendata/auth"
	"opendata/catalog"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
	"opendata/publish"
	"opendata/search"
)

type fixture struct {
	svc                     *publish.Service
	cat                     *catalog.Store
	idx                     *search.Bleve
	staff, admin, other, bu auth.Actor
	rid                     int64
}

func setup(t *testing.T, d *db.DB) *fixture {
	ctx := context.Background()
	cat := &catalog.Store{DB: d}
	users := &auth.Store{DB: d}
	jt, _ := cat.CreateDepartment(ctx, catalog.Department{Code: "JTJ", Name: "市交通运输局"})
	wj, _ := cat.CreateDepartment(ctx, catalog.Department{Code: "WJW", Name: "市卫生健康委员会"})
	mk := func(name string, role auth.Role, dept int64) auth.Actor {
		u, err := users.CreateUser(ctx, auth.NewUser{Username: name, Password: "0123456789ab", Role: role, DepartmentID: dept})
		if err != nil {
			t.Fatal(err)
		}
		return u.Actor()
	}
	f := &fixture{cat: cat, staff: mk("jt_staff", auth.RoleDeptStaff, jt.ID), admin: mk("jt_admin", auth.RoleDeptAdmin, jt.ID),
		other: mk("wj_admin", auth.RoleDeptAdmin, wj.ID), bu: mk("bureau", auth.RoleBureauAdmin, 0)}
	f.idx, _ = search.OpenBleve("")
	t.Cleanup(func() { f.idx.Close() })
	f.svc = &publish.Service{DB: d, Catalog: cat, Index: f.idx, Approver: "dept_admin", MinNotice: 30 * 24 * time.Hour}
	r, err := cat.CreateResource(ctx, f.staff, catalog.Entry{Code: "JTJ-001", Name: "公交站点信息", DepartmentID: jt.ID, Summary: "站点",
		CatalogKind: "theme", Domain: "transport", Format: "table", Items: []catalog.Item{{Name: "a", Type: "int"}}, CollectionChannel: "business_system",
		UpdatePeriod: "monthly", ShareType: catalog.ShareUnconditional, ShareMethods: []string{"api"}, OpenType: catalog.OpenUnconditional,
		ResponsiblePerson: "张三", ResponsibleContact: "1", UsageNote: "注明来源"})
	if err != nil {
		t.Fatal(err)
	}
	f.rid = r.ID
	for i := 0; i < 2; i++ {
		v, _ := cat.ReserveVersion(ctx, f.staff, r.ID, "a.csv", "csv")
		v.RowsStored = 10
		if err := cat.CommitVersion(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func found(t *testing.T, idx search.Index, text string) bool {
	r, err := idx.Search(context.Background(), search.Query{Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return r.Total > 0
}

func TestWorkflow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		s := f.svc
		if err := s.Approve(ctx, f.admin, f.rid, 1); !errors.Is(err, errs.Conflict) {
			t.Fatalf("approve a draft: %v", err)
		}
		if err := s.Submit(ctx, f.other, f.rid, 1); !errors.Is(err, errs.Forbidden) {
			t.Fatalf("another department submits: %v", err)
		}
		if err := s.Submit(ctx, f.staff, f.rid, 1); err != nil {
			t.Fatal(err)
		}
		if q, _ := s.Queue(ctx, f.admin); len(q) != 1 || q[0].Version != 1 || q[0].SubmittedBy != "jt_staff" {
			t.Fatalf("queue %+v", q)
		}
		if q, _ := s.Queue(ctx, f.other); len(q) != 0 {
			t.Fatalf("other department's queue %+v", q)
		}
		if err := s.Approve(ctx, f.staff, f.rid, 1); !errors.Is(err, errs.Forbidden) {
			t.Fatalf("staff approves: %v", err)
		}
		if err := s.Approve(ctx, f.other, f.rid, 1); !errors.Is(err, errs.Forbidden) {
			t.Fatalf("other department approves: %v", err)
		}
		if err := s.Reject(ctx, f.admin, f.rid, 1, ""); !errors.Is(err, errs.Invalid) {
			t.Fatalf("reject without reason: %v", err)
		}
		if err := s.Reject(ctx, f.admin, f.rid, 1, "经纬度缺失"); err != nil {
			t.Fatal(err)
		}
		if found(t, f.idx, "公交站点") {
			t.Fatal("a rejected version is searchable")
		}
		if err := s.Submit(ctx, f.staff, f.rid, 1); err != nil {
			t.Fatalf("resubmit after rejection: %v", err)
		}
		if err := s.Approve(ctx, f.admin, f.rid, 1); err != nil {
			t.Fatal(err)
		}
		r, _ := f.cat.GetResource(ctx, f.rid)
		if r.PublishedVersion != 1 || !r.IsPublic(time.Now()) || !found(t, f.idx, "公交站点") {
			t.Fatalf("published %+v", r)
		}
		// Four eyes: an admin who submitted may not approve their own submission.
		if err := s.Submit(ctx, f.admin, f.rid, 2); err != nil {
			t.Fatal(err)
		}
		if err := s.Approve(ctx, f.admin, f.rid, 2); !errors.Is(err, errs.Forbidden) {
			t.Fatalf("self approval: %v", err)
		}
		if err := s.Approve(ctx, f.bu, f.rid, 2); err != nil {
			t.Fatal(err)
		}
		states, _ := s.VersionStates(ctx, f.rid)
		if states[1] != "published" || states[2] != "published" {
			t.Fatalf("states %v", states)
		}
		if r, _ := f.cat.GetResource(ctx, f.rid); r.PublishedVersion != 2 {
			t.Fatalf("current version %d", r.PublishedVersion)
		}

		// Withdrawal: reason and notice required; visible until it takes effect.
		if err := s.Withdraw(ctx, f.staff, f.rid, "系统迁移", 30); !errors.Is(err, errs.Forbidden) {
			t.Fatalf("staff withdraws: %v", err)
		}
		err := s.Withdraw(ctx, f.admin, f.rid, "", 3)
		var fe errs.FieldErrors
		if !errors.As(err, &fe) || fe["reason"] == "" || fe["notice_days"] == "" {
			t.Fatalf("withdraw without reason and notice: %v", err)
		}
		if err := s.Withdraw(ctx, f.admin, f.rid, "数据迁移至省平台统一发布", 30); err != nil {
			t.Fatal(err)
		}
		r, _ = f.cat.GetResource(ctx, f.rid)
		if r.WithdrawAt == nil || !r.IsPublic(time.Now()) || r.IsPublic(time.Now().Add(31*24*time.Hour)) || !found(t, f.idx, "公交站点") {
			t.Fatalf("withdrawal %+v", r)
		}
		// When the notice ends the index drops it.
		s.Now = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
		if err := s.Reindex(ctx, f.rid); err != nil {
			t.Fatal(err)
		}
		if found(t, f.idx, "公交站点") {
			t.Fatal("withdrawn resource still searchable after the notice")
		}
		s.Now = nil
		if err := s.CancelWithdrawal(ctx, f.bu, f.rid); err != nil || !found(t, f.idx, "公交站点") {
			t.Fatalf("cancel withdrawal: %v", err)
		}
		ev, _ := s.Events(ctx, f.rid)
		var actions []string
		for _, e := range ev {
			actions = append(actions, e.Action)
		}
		want := "submitted rejected submitted approved published submitted approved published withdrawal_announced withdrawal_cancelled"
		if strings.Join(actions, " ") != want {
			t.Fatalf("events %v", actions)
		}
		if ev[1].Reason != "经纬度缺失" || ev[1].Actor != "jt_admin" {
			t.Fatalf("rejection event %+v", ev[1])
		}
	})
}

func TestBureauOnlyApproval(t *testing.T) {
	f := setup(t, dbtest.SQLite(t))
	f.svc.Approver = "bureau"
	ctx := context.Background()
	f.svc.Submit(ctx, f.staff, f.rid, 1)
	if err := f.svc.Approve(ctx, f.admin, f.rid, 1); !errors.Is(err, errs.Forbidden) {
		t.Fatalf("department admin approves under bureau-only: %v", err)
	}
	if err := f.svc.Approve(ctx, f.bu, f.rid, 1); err != nil {
		t.Fatal(err)
	}
}

func TestCounter(t *testing.T) {
	d := dbtest.SQLite(t)
	f := setup(t, d)
	c := publish.NewCounter(time.UTC)
	for i := 0; i < 5; i++ {
		c.View(f.rid)
	}
	c.Download(f.rid)
	changed, err := c.Flush(context.Background(), d)
	if err != nil || len(changed) != 1 || changed[0] != f.rid {
		t.Fatalf("flush %v %v", changed, err)
	}
	c.View(f.rid)
	c.Flush(context.Background(), d)
	v, dl, err := f.svc.Totals(context.Background(), f.rid)
	if err != nil || v != 6 || dl != 1 {
		t.Fatalf("totals %d %d %v", v, dl, err)
	}
	days, _ := f.svc.Daily(context.Background(), f.rid, 30)
	if len(days) != 1 || days[0].Views != 6 {
		t.Fatalf("daily %+v", days)
	}
}

// Four eyes for everyone (issue 15 item 11): neither the uploader nor the
// submitter of a version approves it, whatever their role; a second
// bureau account does.
func TestFourEyesBindsTheBureau(t *testing.T) {
	for _, approver := range []string{"dept_admin", "bureau"} {
		t.Run(approver, func(t *testing.T) {
			ctx := context.Background()
			d := dbtest.SQLite(t)
			f := setup(t, d)
			f.svc.Approver = approver
			users := &auth.Store{DB: d}
			u, err := users.CreateUser(ctx, auth.NewUser{Username: "bureau2", Password: "0123456789ab", Role: auth.RoleBureauAdmin})
			if err != nil {
				t.Fatal(err)
			}
			bu2 := u.Actor()
			// The bureau submits version 1 and cannot approve it.
			if err := f.svc.Submit(ctx, f.bu, f.rid, 1); err != nil {
				t.Fatal(err)
			}
			err = f.svc.Approve(ctx, f.bu, f.rid, 1)
			var pub *errs.Public
			if !errors.Is(err, errs.Forbidden) || !errors.As(err, &pub) || pub.Code != "second_person" {
				t.Fatalf("the bureau approves its own submission: %v", err)
			}
			if states, _ := f.svc.VersionStates(ctx, f.rid); states[1] != publish.Submitted {
				t.Fatalf("a refused approval moved the version: %v", states)
			}
			if err := f.svc.Approve(ctx, bu2, f.rid, 1); err != nil {
				t.Fatalf("a second bureau account approves: %v", err)
			}
			// The uploader cannot approve either, though someone else submitted.
			v, err := f.cat.ReserveVersion(ctx, f.bu, f.rid, "b.csv", "csv")
			if err != nil {
				t.Fatal(err)
			}
			v.RowsStored = 3
			if err := f.cat.CommitVersion(ctx, v); err != nil {
				t.Fatal(err)
			}
			if err := f.svc.Submit(ctx, bu2, f.rid, v.Number); err != nil {
				t.Fatal(err)
			}
			if err := f.svc.Approve(ctx, f.bu, f.rid, v.Number); !errors.Is(err, errs.Forbidden) {
				t.Fatalf("the uploader approves: %v", err)
			}
			if err := f.svc.Approve(ctx, bu2, f.rid, v.Number); !errors.Is(err, errs.Forbidden) {
				t.Fatalf("the submitter approves: %v", err)
			}
			if approver == "dept_admin" {
				if err := f.svc.Approve(ctx, f.admin, f.rid, v.Number); err != nil {
					t.Fatalf("the department's admin approves the bureau's upload: %v", err)
				}
			}
		})
	}
}
