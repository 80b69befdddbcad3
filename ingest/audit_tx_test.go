package ingest_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"opendata/audit"
	"opendata/auth"
	"opendata/blob"
	"opendata/catalog"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/ingest"
)

// An ingest whose audit event cannot be written publishes nothing: the
// version stays out of the catalog and its objects are removed; mended,
// the same file ingests with its event.
func TestIngestRefusedWhenAuditCannotBeWritten(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		cat := &catalog.Store{DB: d}
		users := &auth.Store{DB: d}
		jt, _ := cat.CreateDepartment(ctx, catalog.Department{Code: "JTJ", Name: "市交通运输局"})
		staff, err := users.CreateUser(ctx, auth.NewUser{Username: "jt_staff", Password: "0123456789ab", Role: auth.RoleDeptStaff, DepartmentID: jt.ID})
		if err != nil {
			t.Fatal(err)
		}
		r, err := cat.CreateResource(ctx, staff.Actor(), catalog.Entry{Code: "JTJ-001", Name: "公交站点信息", DepartmentID: jt.ID, Summary: "站点",
			CatalogKind: "theme", Domain: "transport", Format: "table", Items: []catalog.Item{{Name: "站点", Type: catalog.ColString}, {Name: "线路数", Type: catalog.ColInt}},
			CollectionChannel: "business_system", UpdatePeriod: "monthly", ShareType: catalog.ShareUnconditional, ShareMethods: []string{"api"},
			OpenType: catalog.OpenUnconditional, ResponsiblePerson: "张三", ResponsibleContact: "1", UsageNote: "注明来源"})
		if err != nil {
			t.Fatal(err)
		}
		root := t.TempDir()
		bs, err := blob.NewLocal(root)
		if err != nil {
			t.Fatal(err)
		}
		tmp := t.TempDir()
		svc := &ingest.Service{Catalog: cat, Blobs: bs, Audit: &audit.Log{DB: d}, Log: slog.New(slog.DiscardHandler), Limits: ingest.Limits{
			TempDir: tmp, MaxFileBytes: 1 << 20, MaxFieldBytes: 64 << 10, MaxColumns: 100, MaxHeaderBytes: 64 << 10,
			MaxUnzipBytes: 1 << 20, DedupMemoryBytes: 1 << 20, Location: time.UTC}}
		file := filepath.Join(tmp, "stops.csv")
		if err := os.WriteFile(file, []byte("站点,线路数\n人民广场,3\n火车站,5\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		events := func() int {
			var n int
			if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM audit_events WHERE action = 'version.ingested'").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		objects := func() int {
			n := 0
			filepath.WalkDir(root, func(_ string, e os.DirEntry, _ error) error {
				if e != nil && !e.IsDir() {
					n++
				}
				return nil
			})
			return n
		}

		mend := dbtest.BreakAudit(t, d)
		if _, err := svc.Ingest(ctx, staff.Actor(), ingest.Request{ResourceID: r.ID, Path: file, Name: "stops.csv", Format: "csv"}); err == nil {
			t.Fatal("ingest succeeded without its audit event")
		}
		if vs, err := cat.ListVersions(ctx, r.ID); err != nil || len(vs) != 0 {
			t.Fatalf("versions after the refused ingest: %v %v", vs, err)
		}
		if n := objects(); n != 0 {
			t.Fatalf("%d objects left by the refused ingest", n)
		}
		mend()
		out, err := svc.Ingest(ctx, staff.Actor(), ingest.Request{ResourceID: r.ID, Path: file, Name: "stops.csv", Format: "csv"})
		if err != nil || out.Version != 1 {
			t.Fatalf("mended: %+v %v", out, err)
		}
		if n := events(); n != 1 {
			t.Fatalf("%d version.ingested events, want 1", n)
		}
	})
}
