package config

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.BlobBackend != "local" || c.SessionTTL != 12*time.Hour || c.MaxUploadMB != 1024 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.SQLitePath() != filepath.Join("data", "opendata.db") {
		t.Fatalf("sqlite path %q", c.SQLitePath())
	}
	if c.BaseURL != "http://127.0.0.1:8080" {
		t.Fatalf("base url %q", c.BaseURL)
	}
}

func TestFileThenEnvPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "opendata.toml")
	os.WriteFile(path, []byte("listen = \"0.0.0.0:9000\"\nmax_upload_mb = 5\nlog_format = \"json\"\n"), 0o600)
	c, err := Load(path, []string{"OPENDATA_MAX_UPLOAD_MB=7", "PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:9000" || c.MaxUploadMB != 7 || c.LogFormat != "json" {
		t.Fatalf("got %+v", c)
	}
}

func TestInvalid(t *testing.T) {
	cases := []struct {
		env  []string
		want string
	}{
		{[]string{"OPENDATA_BLOB_BACKEND=s3"}, "must be one of local, minio"},
		{[]string{"OPENDATA_MAX_UPLOAD_MB=-1"}, "OPENDATA_MAX_UPLOAD_MB"},
		{[]string{"OPENDATA_SESSION_TTL=forever"}, "positive duration"},
		{[]string{"OPENDATA_NO_SUCH=1"}, "unknown environment variable OPENDATA_NO_SUCH"},
		{[]string{"OPENDATA_BLOB_BACKEND=minio"}, "needs OPENDATA_S3_ENDPOINT"},
		{[]string{"OPENDATA_DATABASE_URL=mysql://x"}, "sqlite: or postgres://"},
		{[]string{"OPENDATA_TIMEZONE=Mars/Base"}, "unknown time zone"},
		{[]string{"OPENDATA_MAX_REJECT_RATIO=1.5"}, "share from 0 to 1"},
		{[]string{"OPENDATA_MAX_REJECT_RATIO=five"}, "OPENDATA_MAX_REJECT_RATIO"},
	}
	for _, tc := range cases {
		_, err := Load("", tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.env, err, tc.want)
		}
	}
}

func TestUnknownFileKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(path, []byte("lisen = \"x\"\n"), 0o600)
	if _, err := Load(path, nil); err == nil || !strings.Contains(err.Error(), `unknown option "lisen"`) {
		t.Fatalf("got %v", err)
	}
}

func TestMarkdownListsEveryOption(t *testing.T) {
	md := Markdown()
	for _, o := range Options {
		if !strings.Contains(md, o.Env()) {
			t.Errorf("markdown misses %s", o.Env())
		}
	}
}

// The README lists every option (the table comes from `opendata config`).
func TestReadmeListsEveryOption(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range Options {
		if !strings.Contains(string(b), "`"+o.Env()+"`") {
			t.Errorf("README.md does not list %s; paste the output of `opendata config`", o.Env())
		}
	}
}

// The time zone is loaded once, when the configuration is checked: every
// later call hands back the same location without reading the zone
// database (it was loaded per call, 115× a CSV cell's conversion).
func TestLocationLoadedOnce(t *testing.T) {
	c, err := Load("", []string{"OPENDATA_TIMEZONE=Asia/Urumqi"})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := c.Location(), c.Location(); a != b || a.String() != "Asia/Urumqi" {
		t.Fatalf("Location: %p %p %v", a, b, a)
	}
	if allocs := testing.AllocsPerRun(100, func() { c.Location() }); allocs != 0 {
		t.Errorf("Location allocates %v times per call: it reloads the zone", allocs)
	}
}

func BenchmarkLocation(b *testing.B) {
	c, _ := Load("", nil)
	for b.Loop() {
		c.Location()
	}
}

func TestParseRatio(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"0.05", 0.05, true}, {"5%", 0.05, true}, {" 30 % ", 0.3, true}, {"0", 0, true}, {"1", 1, true}, {"100%", 1, true},
		{"1.01", 0, false}, {"101%", 0, false}, {"-0.1", 0, false}, {"NaN", 0, false}, {"", 0, false}, {"abc", 0, false},
	} {
		got, err := ParseRatio(tc.in)
		if (err == nil) != tc.ok || (tc.ok && math.Abs(got-tc.want) > 1e-12) {
			t.Errorf("ParseRatio(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	if d := Default(); strings.Join(d.NullMarkers, "|") != "未填报|—|-|/|无|暂无|不详|N/A|#N/A|NULL" {
		t.Errorf("default null_markers = %q", d.NullMarkers)
	}
	if c, err := Load("", []string{"OPENDATA_NULL_MARKERS= 缺 ,, 空 "}); err != nil || strings.Join(c.NullMarkers, "|") != "缺|空" {
		t.Errorf("null_markers from the environment: %q, %v", c.NullMarkers, err)
	}
	if c, err := Load("", []string{"OPENDATA_NULL_MARKERS="}); err != nil || c.NullMarkers == nil || len(c.NullMarkers) != 0 {
		t.Errorf("empty null_markers: %q, %v", c.NullMarkers, err)
	}
	if d := Default(); d.MaxRejectRatio != 0.05 {
		t.Errorf("default max_reject_ratio = %v, want 0.05", d.MaxRejectRatio)
	}
}
