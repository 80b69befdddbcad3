package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"opendata/catalog"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden_outputs.json from the current converter")

const goldenPath = "testdata/golden_outputs.json"

// goldenCase is one fixture converted for the golden hashes: a file and
// its options.
type goldenCase struct {
	name string
	file func(t *testing.T) string
	opt  func() Options
}

func goldenCases() []goldenCase {
	csvFile := func(name, data string) func(t *testing.T) string {
		return func(t *testing.T) string { return writeFile(t, name, []byte(data)) }
	}
	with := func(items []catalog.Item, edit func(o *Options)) func() Options {
		return func() Options {
			o := opts(items...)
			if edit != nil {
				edit(&o)
			}
			return o
		}
	}
	keyed := func(o *Options) { o.KeyColumns = []string{"编号"} }
	busItems := []catalog.Item{{Name: "站点编号", Type: "int"}, {Name: "站点名称", Type: "string"}, {Name: "线路数", Type: "int"},
		{Name: "日均客流", Type: "decimal"}, {Name: "开通日期", Type: "date", NotFuture: true}, {Name: "负责人身份证", Type: "string"},
		{Name: "联系电话", Type: "string"}, {Name: "经度", Type: "decimal"}}
	var spilled strings.Builder
	spilled.WriteString("code,name\n")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&spilled, "K%d,名称%d\n", i, i)
	}
	spilled.WriteString("K7,名称7\nK4000,别的名称\nK12, 名称12 \n")
	clinics := "编号,床位数,登记日期,经度,纬度,开诊时间,变化数\n" +
		"AB0001,120,2001-05-01,109.48,30.28,2024-01-01 08:00:00,-3\n" +
		"AB0002,-5,2030-01-01,10948.3003,30.29,2023-12-31 23:00:00,4\n" +
		"ab03,5000,1900-01-01,109.5,95,2024-02-01 08:00:00,1\n"
	clinicItems := []catalog.Item{{Name: "编号", Type: "string", Pattern: `[A-Z]{2}\d{4}`}, {Name: "床位数", Type: "int", Max: "3000"},
		{Name: "登记日期", Type: "date", Min: "1949-10-01"}, {Name: "经度", Type: "decimal"}, {Name: "纬度", Type: "decimal"},
		{Name: "开诊时间", Type: "timestamp", Min: "2024-01-01"}, {Name: "变化数", Type: "int"}}
	return []goldenCase{
		{"findings keyed one pass", csvFile("f.csv", findingsFile(20000)), with(findingsItems, keyed)},
		{"findings keyed two passes", csvFile("f.csv", findingsFile(20000)), with(findingsItems, func(o *Options) { keyed(o); o.DedupMemoryBytes = 1024 })},
		{"findings without keys", csvFile("f.csv", findingsFile(3000)), with(findingsItems, nil)},
		{"findings inferred", csvFile("f.csv", findingsFile(3000)), with(nil, nil)},
		{"bus stops gbk inferred", func(t *testing.T) string { return writeFile(t, "bus.csv", gbk(t, busStops)) }, with(nil, nil)},
		{"bus stops declared", csvFile("bus.csv", busStops), with(busItems, nil)},
		{"register personal by values", csvFile("register.csv", registerFile(6000)), with(nil, nil)},
		{"register declared", csvFile("register.csv", registerFile(6000)), with(registerItems, nil)},
		{"late id numbers fall back", func(t *testing.T) string {
			return lateFile(t, func(int) string { return "11010519491231002X" })
		}, with([]catalog.Item{{Name: "编号", Type: "int"}, {Name: "备注", Type: "string"}}, nil)},
		{"spilled runs", csvFile("big.csv", spilled.String()), with([]catalog.Item{{Name: "code", Type: "string"}, {Name: "name", Type: "string"}},
			func(o *Options) { o.KeyColumns = []string{"code"}; o.DedupMemoryBytes = 24 * 1024 })},
		{"drop personal", csvFile("p.csv", "姓名,年龄\n张三,30\n李四,\n"), with([]catalog.Item{{Name: "姓名", Type: "string", Personal: true, PersonalAction: "drop"}, {Name: "年龄", Type: "int"}}, nil)},
		{"constraints inferred", csvFile("clinics.csv", clinics), with(nil, nil)},
		{"constraints declared", csvFile("clinics.csv", clinics), with(clinicItems, nil)},
		{"null markers", csvFile("n.csv", "名称,人数,日期\n甲,未填报,—\n乙,3,2024-01-02\n丙,/,2024-01-03\n"),
			with([]catalog.Item{{Name: "名称", Type: "string"}, {Name: "人数", Type: "int"}, {Name: "日期", Type: "date"}}, nil)},
		{"every row rejected", csvFile("r.csv", "数量\n甲\n乙\n"), with([]catalog.Item{{Name: "数量", Type: "int"}}, nil)},
		{"json", csvFile("d.json", `[{"code":"A1","name":"恩施","pop":1200,"ok":true,"tags":["x"]},{"code":"A2","name":"利川","pop":null,"extra":"e"},{" code ":"A3","name":"建始","pop":"1,5"}]`), with(nil, nil)},
		{"ndjson", csvFile("d.ndjson", "{\"a\":1}\n\n{\"a\":2}\n[1,2]\n{\"a\":3,\"b\":\"x\"}\n"), with(nil, nil)},
		{"xlsx title dates total", func(t *testing.T) string {
			return makeXLSX(t, func(f *excelize.File) {
				f.SetSheetName("Sheet1", "床位")
				f.SetCellValue("床位", "A1", "2024年恩施市医疗机构床位统计表")
				f.SetSheetRow("床位", "A3", &[]any{"机构名称", "床位数", "使用率", "统计日期"})
				f.SetSheetRow("床位", "A4", &[]any{"恩施州中心医院", 1200, 0.91234, 45292})
				f.SetSheetRow("床位", "A5", &[]any{"恩施市人民医院", 800, 0.85, 45323})
				f.SetSheetRow("床位", "A6", &[]any{"合计", 2000, nil, nil})
				style, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
				f.SetCellStyle("床位", "D4", "D5", style)
				pct, _ := f.NewStyle(&excelize.Style{NumFmt: 10})
				f.SetCellStyle("床位", "C4", "C5", pct)
				f.NewSheet("说明")
				f.SetCellValue("说明", "A1", "本表由卫健委提供")
			})
		}, with(nil, nil)},
	}
}

// goldenOutputs converts c and hashes every file it leaves (the failed
// conversions whose reports are kept included), with the number of reads.
func goldenOutputs(t *testing.T, c goldenCase) map[string]string {
	t.Helper()
	o := c.opt()
	o.TempDir = t.TempDir()
	res, err := Convert(context.Background(), c.file(t), o)
	if res == nil {
		t.Fatalf("convert: %v", err)
	}
	t.Cleanup(res.Cleanup)
	out := map[string]string{"passes": fmt.Sprint(res.passes)}
	if err != nil {
		out["error"] = err.Error()
	}
	names := make([]string, 0, len(res.Files))
	for name := range res.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b, err := os.ReadFile(res.Files[name])
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		out[name] = hex.EncodeToString(sum[:])
	}
	return out
}

// Every output (full.parquet, open.parquet, open.csv, quality.json,
// schema.json) of a set of fixtures covering each path through the
// converter is byte for byte what it was when testdata/golden_outputs.json
// was written: a refactoring of the converter changes none of them. After a
// change meant to alter the outputs, rewrite it with
// go test ./ingest/ -run TestOutputsByteIdentical -update-golden.
func TestOutputsByteIdentical(t *testing.T) {
	got := map[string]map[string]string{}
	for _, c := range goldenCases() {
		got[c.name] = goldenOutputs(t, c)
		if again := goldenOutputs(t, c); fmt.Sprint(again) != fmt.Sprint(got[c.name]) {
			t.Fatalf("%s: two conversions of the same file differ:\n%v\n%v", c.name, got[c.name], again)
		}
	}
	if *updateGolden {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]map[string]string
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	for _, c := range goldenCases() {
		if fmt.Sprint(got[c.name]) != fmt.Sprint(want[c.name]) {
			t.Errorf("%s: outputs changed\n got %v\nwant %v", c.name, got[c.name], want[c.name])
		}
	}
	if len(want) != len(got) {
		t.Errorf("%d cases in %s, %d in the test", len(want), goldenPath, len(got))
	}
}
