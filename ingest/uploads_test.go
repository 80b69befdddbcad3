package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"opendata/auth"
	"opendata/blob"
	"opendata/catalog"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
	"opendata/ingest"
	"opendata/jobs"
)

func TestCanUpload(t *testing.T) {
	r := catalog.Resource{Entry: catalog.Entry{Code: "JTJ-001", DepartmentID: 7}}
	for _, c := range []struct {
		name  string
		actor auth.Actor
		ok    bool
	}{
		{"staff of the providing department", auth.Actor{Role: auth.RoleDeptStaff, DepartmentID: 7}, true},
		{"admin of the providing department", auth.Actor{Role: auth.RoleDeptAdmin, DepartmentID: 7}, true},
		{"the bureau", auth.Actor{Role: auth.RoleBureauAdmin}, true},
		{"staff of another department", auth.Actor{Role: auth.RoleDeptStaff, DepartmentID: 8}, false},
		{"the leading-group office", auth.Actor{Role: auth.RoleOffice, DepartmentID: 7}, false},
	} {
		err := ingest.CanUpload(c.actor, r)
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, errs.Forbidden)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// TestUploads follows an upload from the stored file to the version, and
// checks who sees its job and that a queue failure leaves nothing stored.
func TestUploads(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		cat := &catalog.Store{DB: d}
		users := &auth.Store{DB: d}
		jt, _ := cat.CreateDepartment(ctx, catalog.Department{Code: "JTJ", Name: "市交通运输局"})
		wj, _ := cat.CreateDepartment(ctx, catalog.Department{Code: "WJW", Name: "市卫生健康委员会"})
		mk := func(name string, role auth.Role, dept int64) auth.User {
			u, err := users.CreateUser(ctx, auth.NewUser{Username: name, Password: "0123456789ab", Role: role, DepartmentID: dept})
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		staff, colleague, other := mk("jt_staff", auth.RoleDeptStaff, jt.ID), mk("jt_staff2", auth.RoleDeptStaff, jt.ID), mk("wj_staff", auth.RoleDeptStaff, wj.ID)
		r, err := cat.CreateResource(ctx, staff.Actor(), catalog.Entry{Code: "JTJ-001", Name: "公交站点信息", DepartmentID: jt.ID, Summary: "站点",
			CatalogKind: "theme", Domain: "transport", Format: "table", Items: []catalog.Item{{Name: "站点", Type: "string"}, {Name: "线路数", Type: "int"}},
			CollectionChannel: "business_system", UpdatePeriod: "monthly", ShareType: catalog.ShareUnconditional, ShareMethods: []string{"api"},
			OpenType: catalog.OpenUnconditional, ResponsiblePerson: "张三", ResponsibleContact: "1", UsageNote: "注明来源"})
		if err != nil {
			t.Fatal(err)
		}
		bs, err := blob.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		tmp := t.TempDir()
		woke := 0
		up := &ingest.Uploads{
			Ingest: &ingest.Service{Catalog: cat, Blobs: bs, Log: slog.New(slog.DiscardHandler), Limits: ingest.Limits{
				TempDir: tmp, MaxFileBytes: 1 << 20, MaxFieldBytes: 64 << 10, MaxColumns: 100, MaxHeaderBytes: 64 << 10,
				MaxUnzipBytes: 1 << 20, DedupMemoryBytes: 1 << 20, Location: time.UTC}},
			Jobs: &jobs.Queue{DB: d}, Users: users, Wake: func() { woke++ },
		}
		file := filepath.Join(tmp, "upload")
		if err := os.WriteFile(file, []byte("站点,线路数\n人民广场,3\n火车站,5\n"), 0o600); err != nil {
			t.Fatal(err)
		}

		if _, err := up.Start(ctx, other, r, file, ingest.Upload{Name: "stops.csv"}); !errors.Is(err, errs.Forbidden) {
			t.Fatalf("another department uploads: %v", err)
		}
		var fe errs.FieldErrors
		if _, err := up.Start(ctx, staff, r, file, ingest.Upload{Name: "stops"}); !errors.As(err, &fe) || fe["format"] == "" {
			t.Fatalf("no format and none in the name: %v", err)
		}
		j, err := up.Start(ctx, staff, r, file, ingest.Upload{Name: "stops.csv", Lang: "zh-CN"})
		if err != nil {
			t.Fatal(err)
		}
		if woke != 1 || j.Kind != ingest.JobKind || j.ResourceID != r.ID || j.ActorID != staff.ID {
			t.Fatalf("job %+v, woke %d", j, woke)
		}
		var p ingest.Upload
		if err := json.Unmarshal(j.Params, &p); err != nil || p.Format != "csv" || p.UploadKey == "" {
			t.Fatalf("params %s: %v", j.Params, err)
		}
		if _, err := bs.Stat(ctx, p.UploadKey); err != nil {
			t.Fatalf("upload not stored: %v", err)
		}

		for _, c := range []struct {
			name string
			who  auth.User
			ok   bool
		}{{"uploader", staff, true}, {"colleague", colleague, true}, {"other department", other, false}} {
			_, err := up.JobFor(ctx, c.who.Actor(), c.who.ID, j.ID)
			if c.ok != (err == nil) || (err != nil && !errors.Is(err, errs.NotFound)) {
				t.Errorf("%s sees the job: %v", c.name, err)
			}
		}
		if _, err := up.JobFor(ctx, auth.Actor{Role: auth.RoleBureauAdmin}, 0, j.ID); err != nil {
			t.Errorf("the bureau sees the job: %v", err)
		}

		claimed, err := up.Jobs.Claim(ctx, "test")
		if err != nil || claimed.ID != j.ID {
			t.Fatalf("claim: %v %+v", err, claimed)
		}
		res, err := up.Run(ctx, claimed, func(string, int64, int64, int64) {})
		if err != nil {
			t.Fatal(err)
		}
		out := res.(ingest.Outcome)
		if out.RowsStored != 2 || out.Version != 1 {
			t.Fatalf("outcome %+v", out)
		}
		if _, err := bs.Stat(ctx, p.UploadKey); !errors.Is(err, errs.NotFound) {
			t.Fatalf("upload kept after the ingest: %v", err)
		}
		if got, _ := up.Jobs.Get(ctx, j.ID); got.Status != jobs.Succeeded {
			t.Fatalf("job %s", got.Status)
		}

		// A job given up by the janitor leaves no upload behind.
		j2, err := up.Start(ctx, staff, r, file, ingest.Upload{Name: "stops.csv"})
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(j2.Params, &p)
		if err := up.Abandon(ctx, j2); err != nil {
			t.Fatal(err)
		}
		if _, err := bs.Stat(ctx, p.UploadKey); !errors.Is(err, errs.NotFound) {
			t.Fatalf("upload kept after abandon: %v", err)
		}

		// A job that cannot be queued leaves no stored upload.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := up.Start(cctx, staff, r, file, ingest.Upload{Name: "stops.csv"}); err == nil {
			t.Fatal("start with a cancelled context succeeded")
		}
		if left, err := bs.List(ctx, "uploads/"); err != nil || len(left) != 0 {
			t.Fatalf("uploads left after a failed start: %v %v", left, err)
		}
	})
}
