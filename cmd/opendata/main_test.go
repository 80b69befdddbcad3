package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opendata/db"
	"opendata/ingest/ingesttest"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLIHeadlessIngest(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OPENDATA_DATA_DIR", dir)
	t.Setenv("OPENDATA_LOG_LEVEL", "error")
	if code, out, errs := runCLI(t, "department", "create", "--code", "JTJ", "--name", "市交通运输局"); code != 0 {
		t.Fatalf("department: %d %s %s", code, out, errs)
	}
	entry := `{"code":"JTJ-009","name":"公交线路","department_id":1,"summary":"线路","catalog_kind":"theme","domain":"transport",
	"format":"table","items":[{"name":"线路","type":"string"},{"name":"站数","type":"int"},{"name":"联系电话","type":"string"}],
	"collection_channel":"business_system","update_period":"monthly","share_type":"unconditional","share_methods":["file"],
	"open_type":"unconditional","responsible_person":"李四","responsible_contact":"0718-1","usage_note":"注明来源"}`
	ef := filepath.Join(dir, "entry.json")
	os.WriteFile(ef, []byte(entry), 0o600)
	if code, out, errs := runCLI(t, "catalog", "create", "--file", ef); code != 0 || !strings.Contains(out, "created resource JTJ-009") {
		t.Fatalf("catalog create: %d %s %s", code, out, errs)
	}
	os.WriteFile(ef, []byte(strings.Replace(entry, `"update_period":"monthly"`, `"update_period":"sometimes"`, 1)), 0o600)
	if code, _, errs := runCLI(t, "catalog", "update", "JTJ-009", "--file", ef); code != 1 || !strings.Contains(errs, "update_period: must be one of") {
		t.Fatalf("invalid update: %d %s", code, errs)
	}
	data := filepath.Join(dir, "lines.csv")
	os.WriteFile(data, []byte("线路,站数,联系电话\n1路,20,13812345678\n2路,十五,13912345678\n3路,18,13712345678\n"), 0o600)
	// One row in three is bad: over the default 5 %, refused whole, nothing published.
	code, out, errs := runCLI(t, "ingest", "--resource", "JTJ-009", "--json", data)
	if code == 0 || !strings.Contains(out, `"ok": false`) || !strings.Contains(out, "1 / 3 行被拒收（33.3%），超过允许的 5.0%") || !strings.Contains(out, "第 3 行“站数”：“十五”不是数字") {
		t.Fatalf("ingest over the reject share: %d %s %s", code, out, errs)
	}
	if code, _, errs := runCLI(t, "ingest", "--resource", "JTJ-009", "--max-reject-ratio", "2", data); code == 0 || !strings.Contains(errs, "share from 0 to 1") {
		t.Fatalf("bad --max-reject-ratio: %d %s", code, errs)
	}
	code, out, errs = runCLI(t, "ingest", "--resource", "JTJ-009", "--max-reject-ratio", "40%", "--json", data)
	if code != 0 {
		t.Fatalf("ingest: %d %s %s", code, out, errs)
	}
	var doc struct {
		OK     bool `json:"ok"`
		Result struct {
			Version    int   `json:"version"`
			RowsStored int64 `json:"rows_stored"`
			Rejected   []struct {
				Row     int64  `json:"row"`
				Column  string `json:"column"`
				Message string `json:"message"`
			} `json:"rejected"`
			Columns []struct{ Name, Type string } `json:"columns"`
			Masked  []string                      `json:"masked"`
			Quality struct {
				Score float64 `json:"score"`
			} `json:"quality"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json output is not one JSON document: %v\n%s", err, out)
	}
	r := doc.Result
	if !doc.OK || r.Version != 1 || r.RowsStored != 2 || len(r.Rejected) != 1 || r.Rejected[0].Row != 3 || r.Rejected[0].Column != "站数" {
		t.Fatalf("result %+v", doc)
	}
	if r.Rejected[0].Message != "第 3 行“站数”：“十五”不是数字" || len(r.Masked) != 1 || r.Masked[0] != "联系电话" || r.Columns[1].Type != "int" {
		t.Fatalf("result %+v", r)
	}
	if r.Quality.Score <= 0 || r.Quality.Score >= 100 {
		t.Fatalf("score %v", r.Quality.Score)
	}
	// The objects are in the configured data directory.
	for _, name := range []string{"full.parquet", "open.parquet", "open.csv", "schema.json", "quality.json"} {
		if _, err := os.Stat(filepath.Join(dir, "blobs", "resources", "1", "v1", name)); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
	}
	// A bad file: exit 1, a clear error, no version.
	bad := filepath.Join(dir, "empty.csv")
	os.WriteFile(bad, nil, 0o600)
	code, out, _ = runCLI(t, "ingest", "--resource", "JTJ-009", "--json", "--lang", "en", bad)
	if code != 1 || !strings.Contains(out, `"ok": false`) || !strings.Contains(out, "empty.csv: the file is empty") {
		t.Fatalf("empty file: %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "resources", "1", "v2")); !os.IsNotExist(err) {
		t.Fatal("a failed ingest left a version directory")
	}
	// Files built to exhaust memory: refused, naming the file, why and the limit.
	for name, content := range map[string][]byte{"wide.csv": ingesttest.WideCSV(200_000), "header.csv": ingesttest.LongHeaderCSV(3 << 20)} {
		f := filepath.Join(dir, name)
		os.WriteFile(f, content, 0o600)
		code, out, errs := runCLI(t, "ingest", "--resource", "JTJ-009", "--lang", "en", f)
		want := map[string]string{"wide.csv": "wide.csv: row 1 has 200000 columns, over the limit of 2000 (option max_columns)",
			"header.csv": "header.csv: the header (row 1) is 3147890 bytes, over the limit of 262144 bytes (option max_header_kb)"}[name]
		if code != 1 || !strings.Contains(errs, want) {
			t.Fatalf("%s: %d %s %s", name, code, out, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "resources", "1", "v2")); !os.IsNotExist(err) {
		t.Fatal("a refused ingest left a version directory")
	}
	code, out, _ = runCLI(t, "catalog", "history", "JTJ-009")
	if code != 0 || !strings.Contains(out, `"action": "create"`) || !strings.Contains(out, `"actor": "system"`) {
		t.Fatalf("history: %d %s", code, out)
	}
}

func TestCLIUsageAndConfig(t *testing.T) {
	if code, _, errs := runCLI(t, "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %d %s", code, errs)
	}
	if code, out, _ := runCLI(t, "config"); code != 0 || !strings.Contains(out, "OPENDATA_DATABASE_URL") {
		t.Fatalf("config: %d %s", code, out)
	}
	t.Setenv("OPENDATA_BLOB_BACKEND", "floppy")
	if code, _, errs := runCLI(t, "migrate"); code != 2 || !strings.Contains(errs, "OPENDATA_BLOB_BACKEND: must be one of local, minio") {
		t.Fatalf("bad config: %d %s", code, errs)
	}
}

func TestCLIDemo(t *testing.T) {
	t.Setenv("OPENDATA_DATA_DIR", t.TempDir())
	t.Setenv("OPENDATA_LOG_LEVEL", "error")
	code, out, errs := runCLI(t, "demo")
	if code != 0 || !strings.Contains(out, "demo city loaded") {
		t.Fatalf("demo: %d %s %s", code, out, errs)
	}
	if !strings.Contains(errs, "JTJ-001 公交站点信息 v1, 80 rows") || !strings.Contains(errs, "WJW-001 医疗机构床位信息 v1, 10 rows") ||
		!strings.Contains(errs, "JTJ-002 公交线路信息 v1") {
		t.Fatalf("demo progress: %s", errs)
	}
	code, out, _ = runCLI(t, "catalog", "list")
	if code != 0 || !strings.Contains(out, "40 resources") {
		t.Fatalf("catalog list: %s", out)
	}
	if code, out, _ := runCLI(t, "demo"); code != 0 || !strings.Contains(out, "already has departments") {
		t.Fatalf("second demo: %s", out)
	}
	// The bureau's key commands on the demo developer.
	code, out, errs = runCLI(t, "key", "create", "--user", "developer@example.cn", "--name", "命令行密钥", "--days", "30")
	if code != 0 || !strings.HasPrefix(out, "oda_") || !strings.Contains(errs, "shown this once") {
		t.Fatalf("key create: %d %q %s", code, out, errs)
	}
	token := strings.TrimSpace(out)
	if code, out, _ := runCLI(t, "key", "tier", "1", "partner"); code != 0 || !strings.Contains(out, "key 1 is now partner") {
		t.Fatalf("key tier: %d %s", code, out)
	}
	if code, _, errs := runCLI(t, "key", "tier", "1", "gold"); code != 1 || !strings.Contains(errs, "registered or partner") {
		t.Fatalf("bad tier: %d %s", code, errs)
	}
	if code, out, _ := runCLI(t, "key", "revoke", "1"); code != 0 || !strings.Contains(out, "key 1 revoked") {
		t.Fatalf("key revoke: %d %s", code, out)
	}
	if code, out, _ := runCLI(t, "key", "list"); code != 0 || !strings.Contains(out, "命令行密钥") || !strings.Contains(out, "revoked") || strings.Contains(out, token) {
		t.Fatalf("key list: %d %s", code, out)
	}

	// The demo's ingests and publications are in the audit log, intact.
	code, out, errs = runCLI(t, "audit", "verify")
	if code != 0 || !strings.Contains(out, "audit log intact") {
		t.Fatalf("verify: %d %s %s", code, out, errs)
	}
	// Change one row directly in the database: verify names it.
	d, err := db.Open(context.Background(), "", filepath.Join(os.Getenv("OPENDATA_DATA_DIR"), "opendata.db"))
	if err != nil {
		t.Fatal(err)
	}
	d.Exec(context.Background(), "UPDATE audit_events SET actor_name = 'someone-else' WHERE id = 5")
	d.Close()
	code, _, errs = runCLI(t, "audit", "verify")
	if code != 1 || !strings.Contains(errs, "audit event 5: altered") {
		t.Fatalf("tampered verify: %d %s", code, errs)
	}
	code, out, _ = runCLI(t, "audit", "export")
	if code != 0 || !strings.Contains(out, "publication.published") || !strings.Contains(out, "version.ingested") {
		t.Fatalf("export: %s", out[:min(len(out), 300)])
	}
}

// withStdin runs fn with standard input reading s.
func withStdin(t *testing.T, s string, fn func()) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(s)
	f.Seek(0, 0)
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old; f.Close() }()
	fn()
}

// TestCLIPasswordPolicy: opendata user create and passwd apply the policy
// and say why in words.
func TestCLIPasswordPolicy(t *testing.T) {
	t.Setenv("OPENDATA_DATA_DIR", t.TempDir())
	t.Setenv("OPENDATA_LOG_LEVEL", "error")
	t.Setenv("LANG", "zh_CN.UTF-8")
	var code int
	var out, errs string
	withStdin(t, "aaaaaaaaaaaa\n", func() {
		code, out, errs = runCLI(t, "user", "create", "--username", "office1", "--role", "office", "--password-stdin")
	})
	if code != 1 || !strings.Contains(errs, "password: 密码至少要有 3 个不同的字符") {
		t.Fatalf("weak create: %d %s %s", code, out, errs)
	}
	withStdin(t, "supervise-pass-1\n", func() {
		code, out, errs = runCLI(t, "user", "create", "--username", "office1", "--role", "office", "--password-stdin")
	})
	if code != 0 {
		t.Fatalf("create: %d %s %s", code, out, errs)
	}
	t.Setenv("LANG", "en_US.UTF-8")
	withStdin(t, "office1-password\n", func() {
		code, out, errs = runCLI(t, "user", "passwd", "--username", "office1", "--password-stdin")
	})
	if code != 1 || !strings.Contains(errs, "must not contain the username") {
		t.Fatalf("weak passwd: %d %s %s", code, out, errs)
	}
	withStdin(t, "another-long-pass\n", func() {
		code, out, errs = runCLI(t, "user", "passwd", "--username", "office1", "--password-stdin")
	})
	if code != 0 || !strings.Contains(out, "password changed") {
		t.Fatalf("passwd: %d %s %s", code, out, errs)
	}
}
