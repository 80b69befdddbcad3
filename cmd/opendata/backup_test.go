package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"opendata/app"
	"opendata/backup"
	"opendata/blob"
	"opendata/config"
	"opendata/db"
	"opendata/db/dbtest"
)

// installation is what a backup must bring back: every table's rows and
// every object's checksum.
type installation struct {
	tables  map[string][]byte
	objects map[string]string
}

func snapshot(t *testing.T) installation {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load("", os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(ctx, cfg.DatabaseURL, cfg.SQLitePath())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tables, err := backup.Dump(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := app.OpenBlobs(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Checksums through a throwaway backup of the objects alone.
	tmp, _ := blob.NewLocal(t.TempDir())
	m, err := backup.Backup(ctx, d, bs, tmp, nil)
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string]string{}
	for _, o := range m.Objects {
		objects[o.Key] = o.SHA256
	}
	return installation{tables, objects}
}

func compareInstallations(t *testing.T, before, after installation) {
	t.Helper()
	var names []string
	for n := range before.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if string(before.tables[n]) != string(after.tables[n]) {
			t.Errorf("table %s differs after the restore:\nbefore %.600s\nafter  %.600s", n, before.tables[n], after.tables[n])
		}
	}
	if len(after.tables) != len(before.tables) {
		t.Errorf("%d tables before, %d after", len(before.tables), len(after.tables))
	}
	if len(before.objects) == 0 {
		t.Fatal("the demo stored no objects")
	}
	for k, sum := range before.objects {
		if after.objects[k] != sum {
			t.Errorf("object %s: checksum %q after, %q before", k, after.objects[k], sum)
		}
	}
	if len(after.objects) != len(before.objects) {
		t.Errorf("%d objects before, %d after", len(before.objects), len(after.objects))
	}
}

// demo → backup → wipe → restore gives the same catalog, versions,
// objects, users, keys and audit chain, and a working search.
func backupDrill(t *testing.T, target string, wipe func()) {
	if code, out, errs := runCLI(t, "demo"); code != 0 {
		t.Fatalf("demo: %d %s %s", code, out, errs)
	}
	if code, out, errs := runCLI(t, "key", "create", "--user", "developer@example.cn", "--name", "备份演练"); code != 0 {
		t.Fatalf("key create: %d %s %s", code, out, errs)
	}
	before := snapshot(t)
	for _, table := range []string{"resources", "versions", "users", "api_keys", "audit_events"} {
		if len(strings.Split(strings.TrimSpace(string(before.tables[table])), "\n")) < 2 {
			t.Fatalf("the demo left %s empty: nothing to check", table)
		}
	}
	code, out, errs := runCLI(t, "backup", target)
	if code != 0 || !strings.Contains(out, "backup written") {
		t.Fatalf("backup: %d %s %s", code, out, errs)
	}
	if code, _, errs := runCLI(t, "backup", target); code == 0 || !strings.Contains(errs, "already holds a backup") {
		t.Fatalf("a second backup over the first: %d %s", code, errs)
	}
	wipe()
	code, out, errs = runCLI(t, "restore", target)
	if code != 0 || !strings.Contains(out, "search index rebuilt") || !strings.Contains(out, "audit log intact") {
		t.Fatalf("restore: %d %s %s", code, out, errs)
	}
	if strings.Contains(out, "rebuilt: 0 public") {
		t.Fatalf("the restored index is empty: %s", out)
	}
	compareInstallations(t, before, snapshot(t))
	if code, out, errs := runCLI(t, "audit", "verify"); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("audit verify after the restore: %d %s %s", code, out, errs)
	}
	// A restore never mixes into a live installation.
	if code, _, errs := runCLI(t, "restore", target); code == 0 || !strings.Contains(errs, "already") {
		t.Fatalf("restore over data: %d %s", code, errs)
	}
}

func TestBackupRestoreSQLiteDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENDATA_DATA_DIR", dir)
	// The audit key is kept outside the data directory and its backups
	// (audit_key_file), as the restore drill says: wiping the data keeps it.
	t.Setenv("OPENDATA_AUDIT_KEY_FILE", filepath.Join(t.TempDir(), "audit.key"))
	t.Setenv("OPENDATA_LOG_LEVEL", "error")
	target := filepath.Join(t.TempDir(), "backup")
	backupDrill(t, target, func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	})
	// A damaged backup is refused, naming the file.
	os.RemoveAll(dir)
	f := filepath.Join(target, "tables", "users.jsonl.gz")
	b, _ := os.ReadFile(f)
	b[len(b)/2] ^= 0xff
	os.WriteFile(f, b, 0o600)
	if code, _, errs := runCLI(t, "restore", target); code == 0 || !strings.Contains(errs, "users") {
		t.Fatalf("damaged backup: %d %s", code, errs)
	}
	os.Remove(filepath.Join(target, "manifest.json"))
	if code, _, errs := runCLI(t, "restore", target); code == 0 || !strings.Contains(errs, "manifest.json") {
		t.Fatalf("unfinished backup: %d %s", code, errs)
	}
}

func TestBackupRestorePostgresMinIO(t *testing.T) {
	pgURL := dbtest.PostgresURL(t)
	endpoint := os.Getenv("TEST_MINIO_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_MINIO_ENDPOINT is not set: CI requires MinIO")
		}
		t.Skip("TEST_MINIO_ENDPOINT not set")
	}
	ctx := context.Background()
	admin, err := db.Open(ctx, pgURL, "")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	rb := make([]byte, 5)
	rand.Read(rb)
	suffix := hex.EncodeToString(rb)
	name := "opendata_backup_" + suffix
	create := func() {
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
	}
	drop := func() { admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") }
	create()
	t.Cleanup(drop)
	u, _ := url.Parse(pgURL)
	u.Path = "/" + name
	bucket := "odbk-data-" + suffix
	t.Setenv("OPENDATA_DATA_DIR", t.TempDir())
	t.Setenv("OPENDATA_LOG_LEVEL", "error")
	t.Setenv("OPENDATA_DATABASE_URL", u.String())
	t.Setenv("OPENDATA_BLOB_BACKEND", "minio")
	t.Setenv("OPENDATA_S3_ENDPOINT", endpoint)
	t.Setenv("OPENDATA_S3_ACCESS_KEY", os.Getenv("TEST_MINIO_ACCESS_KEY"))
	t.Setenv("OPENDATA_S3_SECRET_KEY", os.Getenv("TEST_MINIO_SECRET_KEY"))
	t.Setenv("OPENDATA_S3_BUCKET", bucket)
	store := func(b string) blob.Store {
		s, err := blob.NewMinIO(ctx, blob.MinIOConfig{Endpoint: endpoint, AccessKey: os.Getenv("TEST_MINIO_ACCESS_KEY"),
			SecretKey: os.Getenv("TEST_MINIO_SECRET_KEY"), Bucket: b})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	empty := func(s blob.Store) {
		infos, err := s.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range infos {
			s.Delete(ctx, i.Key)
		}
	}
	backups := "odbk-copy-" + suffix
	t.Cleanup(func() { empty(store(bucket)); empty(store(backups)) })
	backupDrill(t, "s3://"+backups+"/drill/1", func() {
		drop()
		create()
		empty(store(bucket))
	})
}
