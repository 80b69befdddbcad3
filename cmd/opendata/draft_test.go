package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opendata/catalog"
)

// `opendata catalog draft` needs no database: a table for people, JSON
// whose items and key_columns make a valid entry.
func TestCLICatalogDraft(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OPENDATA_DATA_DIR", dir)
	sample := filepath.Join(dir, "stations.csv")
	os.WriteFile(sample, []byte("站点编号,站点名称,负责人,状态\nS01,城关,张建国,在用\nS02,龙凤,王建国,停用\nS03,白杨坪,李建国,在用\nS01,芭蕉,赵建国,在用\n"), 0o600)
	code, out, errs := runCLI(t, "catalog", "draft", sample)
	if code != 0 {
		t.Fatalf("draft: %d %s", code, errs)
	}
	for _, want := range []string{"stations.csv：4 行，4 个信息项", "负责人", "表头“负责人”表明是个人信息（姓名）", "建议的记录标识：站点编号", "S01：第 2、5 行"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = runCLI(t, "catalog", "draft", sample, "--json", "--lang", "en")
	if code != 0 {
		t.Fatalf("draft --json: %d %s", code, errs)
	}
	var e catalog.Entry
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Items) != 4 || e.Items[2].Name != "负责人" || !e.Items[2].Personal || strings.Join(e.KeyColumns, ",") != "站点编号" {
		t.Fatalf("entry from the draft: %+v", e)
	}
	if !strings.Contains(out, `names personal data`) {
		t.Errorf("reasons not in English: %s", out)
	}
	os.WriteFile(sample, []byte("站点编号,站点名称\n"), 0o600)
	if code, _, errs := runCLI(t, "catalog", "draft", sample); code == 0 || !strings.Contains(errs, "没有数据行") {
		t.Fatalf("header only: %d %s", code, errs)
	}
}
