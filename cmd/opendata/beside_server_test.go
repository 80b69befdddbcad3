package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opendata/app"
	"opendata/config"
	"opendata/server"
)

// Every command works while serve runs on the same data directory: none
// waits on the search index the server holds (they used to hang forever on
// its lock), and what they change reaches the server's search through the
// change log.
func TestCLIBesideRunningServer(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OPENDATA_DATA_DIR", dir)
	t.Setenv("OPENDATA_LOG_LEVEL", "error")
	if code, out, errs := runCLI(t, "demo"); code != 0 {
		t.Fatalf("demo: %d %s %s", code, out, errs)
	}
	cfg, err := config.Load("", os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { server.New(a).Run(ctx, ln); close(done) }()
	t.Cleanup(func() { stop(); <-done; a.Close() })
	base := "http://" + ln.Addr().String()
	titles := func(q string) string {
		res, err := http.Get(base + "/api/v1/resources?q=" + url.QueryEscape(q))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct{ Hits []struct{ Title string } }
		json.NewDecoder(res.Body).Decode(&body)
		var out []string
		for _, h := range body.Hits {
			out = append(out, h.Title)
		}
		return strings.Join(out, "|")
	}
	eventually := func(what string, within time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v", what, within)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The server rebuilt its new index from the database at start.
	eventually("index built at start", 30*time.Second, func() bool { return strings.Contains(titles("公交站点"), "公交站点信息") })

	cli := func(args ...string) (int, string, string) {
		t.Helper()
		type result struct {
			code     int
			out, err string
		}
		ch := make(chan result, 1)
		go func() { c, o, e := runCLI(t, args...); ch <- result{c, o, e} }()
		select {
		case r := <-ch:
			return r.code, r.out, r.err
		case <-time.After(20 * time.Second):
			t.Fatalf("opendata %s hangs beside a running server", strings.Join(args, " "))
			return 0, "", ""
		}
	}
	for _, args := range [][]string{
		{"department", "list"}, {"department", "create", "--code", "XZB", "--name", "市行政审批局"}, {"catalog", "list"},
		{"key", "list"}, {"key", "create", "--user", "developer@example.cn", "--name", "运维"}, {"user", "list"}, {"migrate"},
		{"calendar", "show", "2026"}, {"audit", "verify"}, {"audit", "export"}, {"synonyms", "list"},
		{"backup", filepath.Join(t.TempDir(), "live-backup")},
	} {
		if code, out, errs := cli(args...); code != 0 {
			t.Errorf("opendata %s: exit %d: %s %s", strings.Join(args, " "), code, out, errs)
		}
	}

	// An edit made on the command line reaches the server's search.
	code, out, errs := cli("catalog", "show", "JTJ-001")
	if code != 0 {
		t.Fatalf("show: %s", errs)
	}
	var entry map[string]any
	json.Unmarshal([]byte(out), &entry)
	for _, k := range []string{"id", "revision", "created_at", "updated_at", "latest_version", "last_update", "published_version",
		"published_at", "withdraw_reason", "withdraw_at"} {
		delete(entry, k)
	}
	entry["name"] = "公交站点与候车亭信息"
	b, _ := json.Marshal(entry)
	ef := filepath.Join(dir, "entry.json")
	os.WriteFile(ef, b, 0o600)
	if code, out, errs := cli("catalog", "update", "JTJ-001", "--file", ef); code != 0 {
		t.Fatalf("update: %d %s %s", code, out, errs)
	}
	eventually("a command-line edit in the server's search", 2*time.Second, func() bool { return strings.Contains(titles("候车亭"), "公交站点与候车亭信息") })

	// A synonym added on the command line changes the server's results.
	if code, out, errs := cli("synonyms", "add", "候车棚", "候车亭", "--note", "群众说法"); code != 0 || !strings.Contains(out, "候车棚 (equivalent): 候车亭") {
		t.Fatalf("synonyms add: %d %s %s", code, out, errs)
	}
	eventually("a command-line synonym in the server's search", 2*time.Second, func() bool { return strings.Contains(titles("候车棚"), "公交站点与候车亭信息") })
	if code, out, _ := cli("synonyms", "export"); code != 0 || !strings.Contains(out, "equivalent,候车棚,候车亭,群众说法") {
		t.Fatalf("synonyms export: %d %.300s", code, out)
	}
	csvFile := filepath.Join(dir, "syn.csv")
	os.WriteFile(csvFile, []byte("term,synonyms\n候车棚,\n"), 0o600)
	if code, _, errs := cli("synonyms", "import", csvFile); code != 1 || !strings.Contains(errs, "row 2, synonyms") {
		t.Fatalf("bad import: %d %s", code, errs)
	}
	if code, out, _ := cli("synonyms", "delete", "候车棚"); code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("synonyms delete: %d %s", code, out)
	}

	// reindex does not wait either: it asks the server to rebuild.
	code, out, errs = cli("reindex")
	if code != 0 || !strings.Contains(out, "a running server holds the search index") {
		t.Fatalf("reindex beside the server: %d %s %s", code, out, errs)
	}
	eventually("search after the requested rebuild", 10*time.Second, func() bool { return strings.Contains(titles("候车亭"), "公交站点与候车亭信息") })

	// A second server on the same data directory stops at once, saying why.
	t.Setenv("OPENDATA_LISTEN", "127.0.0.1:0")
	code, _, errs = cli("serve")
	if code != 1 || !strings.Contains(errs, "search index is held by another process") || !strings.Contains(errs, "data_dir") {
		t.Fatalf("second serve: %d %s", code, errs)
	}
}
