package catalog_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"opendata/auth"
	"opendata/catalog"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
)

func valid(dept int64) catalog.Entry {
	return catalog.Entry{
		Code: "JTJ-001", Name: "公交站点信息", DepartmentID: dept, Summary: "全市公交站点", CatalogKind: "theme", Domain: "transport",
		Format: "table", Items: []catalog.Item{{Name: "站点编号", Type: "int"}, {Name: "站点名称"}}, CollectionChannel: "business_system",
		UpdatePeriod: "monthly", ShareType: "unconditional", ShareMethods: []string{"api"}, OpenType: "unconditional",
		ResponsiblePerson: "张三", ResponsibleContact: "0718-8200000", UsageNote: "注明来源",
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(e *catalog.Entry)
		fields []string
	}{
		{"valid", func(e *catalog.Entry) {}, nil},
		{"not shared needs basis", func(e *catalog.Entry) { e.ShareType, e.ShareMethods = "none", nil }, []string{"share_basis"}},
		{"conditional needs condition", func(e *catalog.Entry) { e.ShareType = "conditional" }, []string{"share_condition"}},
		{"not open needs basis", func(e *catalog.Entry) { e.OpenType = "none" }, []string{"open_basis"}},
		{"on application needs condition", func(e *catalog.Entry) { e.OpenType = "on_application" }, []string{"open_condition"}},
		{"update period listed", func(e *catalog.Entry) { e.UpdatePeriod = "hourly" }, []string{"update_period"}},
		{"domain listed", func(e *catalog.Entry) { e.Domain = "sports" }, []string{"domain"}},
		{"kind listed", func(e *catalog.Entry) { e.CatalogKind = "misc" }, []string{"catalog_kind"}},
		{"item type", func(e *catalog.Entry) { e.Items[0].Type = "money" }, []string{"items[0].type"}},
		{"item name", func(e *catalog.Entry) { e.Items[1].Name = "" }, []string{"items[1].name"}},
		{"duplicate item", func(e *catalog.Entry) { e.Items[1].Name = "站点编号" }, []string{"items[1].name"}},
		{"table needs items", func(e *catalog.Entry) { e.Items = nil }, []string{"items"}},
		{"key must be an item", func(e *catalog.Entry) { e.KeyColumns = []string{"nope"} }, []string{"key_columns"}},
		{"open data needs usage note", func(e *catalog.Entry) { e.UsageNote = "" }, []string{"usage_note"}},
		{"not_future on text", func(e *catalog.Entry) { e.Items[1].NotFuture = true }, []string{"items[1].not_future"}},
		{"min and max", func(e *catalog.Entry) { e.Items[0].Min, e.Items[0].Max = "0", "99999" }, nil},
		{"date range", func(e *catalog.Entry) {
			e.Items[0].Type, e.Items[0].Min, e.Items[0].Max = "date", "1949-10-01", "2100-01-01"
		}, nil},
		{"min on text", func(e *catalog.Entry) { e.Items[1].Min = "1" }, []string{"items[1].min"}},
		{"min not a number", func(e *catalog.Entry) { e.Items[0].Min = "ten" }, []string{"items[0].min"}},
		{"date bound not a date", func(e *catalog.Entry) { e.Items[0].Type, e.Items[0].Max = "date", "2024/13/01" }, []string{"items[0].max"}},
		{"max below min", func(e *catalog.Entry) { e.Items[0].Min, e.Items[0].Max = "10", "1" }, []string{"items[0].max"}},
		{"pattern", func(e *catalog.Entry) { e.Items[1].Pattern = `^[A-Z]{2}\d{4}$` }, nil},
		{"bad pattern", func(e *catalog.Entry) { e.Items[1].Pattern = `(\d+` }, []string{"items[1].pattern"}},
		{"no backreferences in RE2", func(e *catalog.Entry) { e.Items[1].Pattern = `(a)\1` }, []string{"items[1].pattern"}},
		{"responsible person", func(e *catalog.Entry) { e.ResponsiblePerson = " " }, []string{"responsible_person"}},
		{"bad code", func(e *catalog.Entry) { e.Code = "公交" }, []string{"code"}},
		{"release date", func(e *catalog.Entry) { e.ReleaseDate = "2024-13-01" }, []string{"release_date"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := valid(1)
			c.mutate(&e)
			e.Normalize()
			err := e.Validate()
			if c.fields == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var fe errs.FieldErrors
			if !errors.As(err, &fe) || !errors.Is(err, errs.Invalid) {
				t.Fatalf("want field errors, got %v", err)
			}
			for _, f := range c.fields {
				if fe[f] == "" {
					t.Errorf("no error for %s: %v", f, fe)
				}
			}
			if len(fe) != len(c.fields) {
				t.Errorf("extra errors: %v", fe)
			}
		})
	}
}

func TestStore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := &catalog.Store{DB: d}
		users := &auth.Store{DB: d}
		jt, err := s.CreateDepartment(ctx, catalog.Department{Code: "JTJ", Name: "市交通运输局"})
		if err != nil {
			t.Fatal(err)
		}
		town, err := s.CreateDepartment(ctx, catalog.Department{Code: "LDP", Name: "龙凤坝镇", Kind: "town", ParentID: jt.ID})
		if err != nil || town.Kind != "town" {
			t.Fatal(err)
		}
		if _, err := s.CreateDepartment(ctx, catalog.Department{Code: "JTJ", Name: "dup"}); !errors.Is(err, errs.Conflict) {
			t.Fatalf("duplicate department: %v", err)
		}
		u, err := users.CreateUser(ctx, auth.NewUser{Username: "jt_staff", Password: "0123456789ab", Role: auth.RoleDeptStaff, DepartmentID: jt.ID})
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.CreateResource(ctx, u.Actor(), valid(jt.ID))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateResource(ctx, u.Actor(), valid(jt.ID)); !errors.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "code") {
			t.Fatalf("duplicate code: %v", err)
		}
		if _, err := s.CreateResource(ctx, u.Actor(), valid(town.ID)); !errors.Is(err, errs.Forbidden) {
			t.Fatalf("other department: %v", err)
		}
		e := valid(jt.ID)
		e.UpdatePeriod, e.Items = "weekly", append(e.Items, catalog.Item{Name: "经度", Type: "decimal"})
		r2, err := s.UpdateResource(ctx, u.Actor(), r.ID, 1, e)
		if err != nil || r2.Revision != 2 || r2.UpdatePeriod != "weekly" {
			t.Fatalf("update: %v %+v", err, r2)
		}
		// Saving the same entry again changes nothing and adds no history.
		if r3, err := s.UpdateResource(ctx, u.Actor(), r.ID, 2, e); err != nil || r3.Revision != 2 {
			t.Fatalf("no-op update: %v %d", err, r3.Revision)
		}
		if _, err := s.UpdateResource(ctx, u.Actor(), r.ID, 1, valid(jt.ID)); !errors.Is(err, errs.Conflict) {
			t.Fatalf("stale revision: %v", err)
		}
		h, err := s.History(ctx, r.ID)
		if err != nil || len(h) != 2 {
			t.Fatalf("history %v %+v", err, h)
		}
		if h[0].Action != "create" || h[1].Action != "update" || h[1].Actor != "jt_staff" {
			t.Fatalf("history %+v", h)
		}
		if _, ok := h[1].Changes["update_period"]; !ok || len(h[1].Changes) != 2 {
			t.Fatalf("changes %+v", h[1].Changes)
		}
		if _, err := s.GetResource(ctx, 999); !errors.Is(err, errs.NotFound) {
			t.Fatalf("missing: %v", err)
		}
		list, total, err := s.ListResources(ctx, catalog.Filter{Domain: "transport"})
		if err != nil || total != 1 || list[0].Code != "JTJ-001" {
			t.Fatalf("list %v %d", err, total)
		}
		if _, total, _ := s.ListResources(ctx, catalog.Filter{Domain: "health"}); total != 0 {
			t.Fatalf("filter: %d", total)
		}

		// Versions: concurrent reservations get distinct numbers; only ready
		// versions are visible.
		var wg sync.WaitGroup
		nums := make([]int, 4)
		for i := range nums {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				v, err := s.ReserveVersion(ctx, u.Actor(), r.ID, "a.csv", "csv")
				if err != nil {
					t.Error(err)
				}
				nums[i] = v.Number
			}(i)
		}
		wg.Wait()
		seen := map[int]bool{}
		for _, n := range nums {
			if seen[n] || n < 1 || n > 4 {
				t.Fatalf("numbers %v", nums)
			}
			seen[n] = true
		}
		if vs, _ := s.ListVersions(ctx, r.ID); len(vs) != 0 {
			t.Fatalf("pending versions listed: %v", vs)
		}
		v, _ := s.ReserveVersion(ctx, u.Actor(), r.ID, "b.csv", "csv")
		v.RowsStored, v.Objects = 10, []catalog.Object{{Name: "open.csv", Key: v.Prefix() + "open.csv", Size: 5}}
		if err := s.CommitVersion(ctx, v); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetVersion(ctx, r.ID, 5)
		if err != nil || got.RowsStored != 10 || got.Objects[0].Key != "resources/1/v5/open.csv" || got.ReadyAt == nil {
			t.Fatalf("version %v %+v", err, got)
		}
		if rr, _ := s.GetResource(ctx, r.ID); rr.LatestVersion != 5 || rr.LastUpdate == nil {
			t.Fatalf("latest %+v", rr)
		}
		if err := s.CommitVersion(ctx, v); !errors.Is(err, errs.Conflict) {
			t.Fatalf("double commit: %v", err)
		}
	})
}

func TestRetireBlocked(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	open := catalog.Resource{Entry: catalog.Entry{OpenType: "unconditional"}}
	cases := []struct {
		name     string
		r        func() catalog.Resource
		awaiting bool
		want     string
	}{
		{"never published", func() catalog.Resource { return open }, false, ""},
		{"published and shown", func() catalog.Resource { r := open; r.PublishedVersion = 1; return r }, false, "entry.retire.public"},
		{"withdrawal announced, not yet effective", func() catalog.Resource {
			r := open
			r.PublishedVersion, r.WithdrawAt = 1, &future
			return r
		}, false, "entry.retire.public"},
		{"withdrawal effective", func() catalog.Resource {
			r := open
			r.PublishedVersion, r.WithdrawAt = 1, &past
			return r
		}, false, ""},
		{"published but not open", func() catalog.Resource {
			r := open
			r.PublishedVersion, r.OpenType = 1, "none"
			return r
		}, false, ""},
		{"a version in review", func() catalog.Resource { return open }, true, "entry.retire.in_review"},
		{"already retired", func() catalog.Resource { r := open; r.RetiredAt = &past; return r }, false, "entry.retire.already"},
	}
	for _, c := range cases {
		if got := catalog.RetireBlocked(c.r(), c.awaiting, now); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestRetire(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := &catalog.Store{DB: d}
		users := &auth.Store{DB: d}
		jt, _ := s.CreateDepartment(ctx, catalog.Department{Code: "JTJ", Name: "市交通运输局"})
		wj, _ := s.CreateDepartment(ctx, catalog.Department{Code: "WJW", Name: "市卫生健康委员会"})
		u, _ := users.CreateUser(ctx, auth.NewUser{Username: "jt_staff", Password: "0123456789ab", Role: auth.RoleDeptStaff, DepartmentID: jt.ID})
		other, _ := users.CreateUser(ctx, auth.NewUser{Username: "wj_staff", Password: "0123456789ab", Role: auth.RoleDeptStaff, DepartmentID: wj.ID})
		r, err := s.CreateResource(ctx, u.Actor(), valid(jt.ID))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if _, err := s.RetireResource(ctx, u.Actor(), r.ID, r.Revision, " ", now); !errors.Is(err, errs.Invalid) {
			t.Fatalf("retire without a reason: %v", err)
		}
		if _, err := s.RetireResource(ctx, other.Actor(), r.ID, r.Revision, "不再采集", now); !errors.Is(err, errs.Forbidden) {
			t.Fatalf("another department retired it: %v", err)
		}
		if _, err := s.RetireResource(ctx, u.Actor(), r.ID, r.Revision+1, "不再采集", now); !errors.As(err, new(*catalog.StaleError)) || !errors.Is(err, errs.Conflict) {
			t.Fatalf("retire on a stale revision: %v", err)
		}
		// Published and shown: withdraw first.
		d.Exec(ctx, "UPDATE resources SET published_version = 1 WHERE id = ?", r.ID)
		var pub *errs.Public
		if _, err := s.RetireResource(ctx, u.Actor(), r.ID, r.Revision, "不再采集", now); !errors.Is(err, errs.Conflict) || !errors.As(err, &pub) || pub.Key != "entry.retire.public" {
			t.Fatalf("retired a public entry: %v", err)
		}
		d.Exec(ctx, "UPDATE resources SET withdraw_at = ? WHERE id = ?", now.Add(-time.Minute), r.ID)
		got, err := s.RetireResource(ctx, u.Actor(), r.ID, r.Revision, "不再采集", now)
		if err != nil || got.RetiredAt == nil || got.RetiredReason != "不再采集" || got.Revision != r.Revision+1 || got.IsPublic(now) {
			t.Fatalf("retire: %v %+v", err, got)
		}
		if _, err := s.UpdateResource(ctx, u.Actor(), r.ID, got.Revision, valid(jt.ID)); !errors.Is(err, errs.Conflict) || errors.As(err, new(*catalog.StaleError)) {
			t.Fatalf("edited a retired entry: %v", err)
		}
		if _, err := s.ReserveVersion(ctx, u.Actor(), r.ID, "a.csv", "csv"); !errors.Is(err, errs.Conflict) {
			t.Fatalf("uploaded to a retired entry: %v", err)
		}
		if list, total, _ := s.ListResources(ctx, catalog.Filter{}); total != 0 || len(list) != 0 {
			t.Fatalf("retired entry listed: %d", total)
		}
		if list, total, _ := s.ListResources(ctx, catalog.Filter{Retired: true}); total != 1 || list[0].ID != r.ID {
			t.Fatalf("retired list: %d", total)
		}
		back, err := s.RestoreResource(ctx, u.Actor(), r.ID, got.Revision)
		if err != nil || back.RetiredAt != nil || back.Revision != got.Revision+1 {
			t.Fatalf("restore: %v %+v", err, back)
		}
		if _, err := s.RestoreResource(ctx, u.Actor(), r.ID, back.Revision); !errors.Is(err, errs.Conflict) {
			t.Fatalf("restored twice: %v", err)
		}
		h, _ := s.History(ctx, r.ID)
		if len(h) != 3 || h[1].Action != "retire" || h[2].Action != "restore" {
			t.Fatalf("history %+v", h)
		}
		if lines := catalog.Describe("zh-CN", h[1], nil); len(lines) != 1 || lines[0] != "jt_staff 撤销了此条目，原因：不再采集" {
			t.Fatalf("retire in words: %q", lines)
		}
	})
}

func TestQualityVisibleTo(t *testing.T) {
	r := catalog.Resource{Entry: catalog.Entry{DepartmentID: 1}}
	for _, c := range []struct {
		a    auth.Actor
		want bool
	}{
		{auth.Actor{Role: auth.RoleDeptStaff, DepartmentID: 1}, true},
		{auth.Actor{Role: auth.RoleDeptAdmin, DepartmentID: 1}, true},
		{auth.Actor{Role: auth.RoleDeptStaff, DepartmentID: 2}, false},
		{auth.Actor{Role: auth.RoleDeptAdmin, DepartmentID: 2}, false},
		{auth.Actor{Role: auth.RoleBureauAdmin}, true},
		{auth.Actor{Role: auth.RoleOffice}, true},
		{auth.Actor{}, false},
	} {
		if got := catalog.QualityVisibleTo(c.a, r); got != c.want {
			t.Errorf("%+v: %v", c.a, got)
		}
	}
}

// A department that does not exist is the form's mistake (a field error);
// a database that cannot be reached is not: the outage stays an error of
// its own, never "choose a department".
func TestCreateResourceDepartmentLookup(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := &catalog.Store{DB: d}
		bureau := auth.Actor{Role: auth.RoleBureauAdmin}
		var fe errs.FieldErrors
		if _, err := s.CreateResource(ctx, bureau, valid(999)); !errors.As(err, &fe) || fe["department_id"] == "" {
			t.Fatalf("unknown department: %v", err)
		}
		jt, err := s.CreateDepartment(ctx, catalog.Department{Code: "JTJ", Name: "市交通运输局"})
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		_, err = s.CreateResource(ctx, bureau, valid(jt.ID))
		if err == nil || errors.As(err, &fe) {
			t.Fatalf("closed database answered as bad input: %v", err)
		}
	})
}
