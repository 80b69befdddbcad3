package ingest

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"strings"
	"testing"

	"opendata/catalog"
	"opendata/i18n"
)

func ratioPtr(f float64) *float64 { return &f }

func TestCheckRejectRatio(t *testing.T) {
	dup := RowError{Row: 2, Code: "duplicate_row"}
	bad := RowError{Row: 3, Code: "field_count", Params: map[string]string{"got": "2", "want": "3"}}
	for _, tc := range []struct {
		name                 string
		read, rejected, dups int64
		limit                float64
		fails                bool
	}{
		{"none rejected", 100, 0, 0, 0, false},
		{"at the limit", 100, 5, 0, 0.05, false},
		{"over the limit", 100, 6, 0, 0.05, true},
		{"duplicates do not count", 100, 40, 38, 0.05, false},
		{"zero tolerates nothing", 100, 1, 0, 0, true},
		{"everything allowed", 100, 99, 0, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &Report{RowsRead: tc.read, RowsRejected: tc.rejected, Duplicates: Duplicates{Count: tc.dups}, Rejected: []RowError{dup, bad}}
			err := CheckRejectRatio(rep, tc.limit)
			if (err != nil) != tc.fails {
				t.Fatalf("got %v, want failure %v", err, tc.fails)
			}
			if err == nil {
				return
			}
			if !IsRejectRatio(err) {
				t.Fatalf("%v is not the reject_ratio problem", err)
			}
			text := ErrorText(i18n.EN, err)
			if strings.Contains(text, "row 2 exactly repeats") || !strings.Contains(text, "row 3 has 2 fields") {
				t.Errorf("first problems should list the rejected row, not the duplicate: %s", text)
			}
		})
	}
}

// A file with 30 % of its rows broken is a wrong export: it fails whole,
// saying the share, the limit and the first rows, and keeps the report.
func TestConvertRejectRatio(t *testing.T) {
	var b strings.Builder
	b.WriteString("名称,数量,备注\n")
	for i := 1; i <= 100; i++ {
		if i%10 < 3 {
			fmt.Fprintf(&b, "站点%d,%d\n", i, i) // one field short
		} else {
			fmt.Fprintf(&b, "站点%d,%d,好\n", i, i)
		}
	}
	path := writeFile(t, "towns.csv", []byte(b.String()))
	for _, items := range [][]catalog.Item{nil, {{Name: "名称", Type: "string"}, {Name: "数量", Type: "int"}, {Name: "备注", Type: "string"}}} {
		o := opts(items...)
		o.MaxRejectRatio = ratioPtr(0.05)
		res, err := Convert(context.Background(), path, o)
		if !IsRejectRatio(err) {
			t.Fatalf("declared=%v: got %v, want the reject_ratio failure", items != nil, err)
		}
		if res == nil || res.Report.RowsRejected != 30 || res.Report.RowsStored != 70 {
			t.Fatalf("the report should be kept: %+v", res)
		}
		res.Cleanup()
		zh, en := ErrorText(i18n.ZH, err), ErrorText(i18n.EN, err)
		for _, want := range []string{"towns.csv", "30 / 100", "30.0%", "5.0%", "max_reject_ratio", "第 2 行有 2 个字段"} {
			if !strings.Contains(zh, want) {
				t.Errorf("zh message lacks %q: %s", want, zh)
			}
		}
		if !strings.Contains(en, "30 of 100 rows were rejected (30.0%), over the allowed 5.0%") || !strings.Contains(en, "row 3 has 2 fields") {
			t.Errorf("en message: %s", en)
		}
		o.MaxRejectRatio = ratioPtr(0.3)
		res, err = Convert(context.Background(), path, o)
		if err != nil {
			t.Fatalf("at 30%% allowed: %v", err)
		}
		res.Cleanup()
	}
}

// Values meaning "nothing" in a number or date column are nulls, counted
// per column by marker; the row keeps its other cells.
func TestNullMarkers(t *testing.T) {
	csv := "机构,床位数,成立日期,有无急诊\n" +
		"一院,120,2001-05-01,有\n" +
		"二院,未填报,不详,无\n" +
		"三院,—,1999-01-02,无\n" +
		"四院,未填报,/,有\n" +
		"五院,N/A,2010-03-04,有\n" +
		"六院,未填报,2011-03-04,无\n"
	declared := []catalog.Item{{Name: "机构", Type: "string"}, {Name: "床位数", Type: "int"}, {Name: "成立日期", Type: "date"}, {Name: "有无急诊", Type: "bool"}}
	for _, items := range [][]catalog.Item{nil, declared} {
		file, rejected := csv, int64(0)
		if items != nil {
			file, rejected = csv+"七院,八十,2012-03-04,有\n", 1 // not a marker: rejected as before
		}
		res, err := Convert(context.Background(), writeFile(t, "clinics.csv", []byte(file)), opts(items...))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Cleanup()
		q := res.Report
		if q.RowsStored != 6 || q.RowsRejected != rejected || rejected > 0 && (q.Rejected[0].Row != 8 || q.Rejected[0].Code != "not_a_number") {
			t.Fatalf("declared=%v: stored %d, rejected %+v", items != nil, q.RowsStored, q.Rejected)
		}
		types := []string{}
		for _, c := range res.Columns {
			types = append(types, string(c.Type))
		}
		if strings.Join(types, ",") != "string,int,date,bool" {
			t.Fatalf("types %v", types)
		}
		beds, founded, urgent := q.Columns[1], q.Columns[2], q.Columns[3]
		if beds.Nulls != 5 || fmt.Sprint(beds.NullMarkers) != "[{未填报 3} {— 1} {N/A 1}]" {
			t.Errorf("床位数: %d nulls, markers %v", beds.Nulls, beds.NullMarkers)
		}
		if founded.Nulls != 2 || fmt.Sprint(founded.NullMarkers) != "[{/ 1} {不详 1}]" {
			t.Errorf("成立日期: %d nulls, markers %v", founded.Nulls, founded.NullMarkers)
		}
		if urgent.Nulls != 0 || urgent.NullMarkers != nil { // 无 is "no" in a yes/no column
			t.Errorf("有无急诊: %+v", urgent)
		}
		rows := readOpenCSV(t, res)
		if got := strings.Join(rows[2], ","); got != "二院,,,false" {
			t.Errorf("open.csv row of 二院: %q", got)
		}
	}
	// The list is configurable: another list, and the default markers are values again.
	o := opts(declared...)
	o.NullMarkers = []string{"缺"}
	res, err := Convert(context.Background(), writeFile(t, "c.csv", []byte("机构,床位数,成立日期,有无急诊\n一院,缺,2001-05-01,有\n二院,未填报,2001-05-01,有\n三院,3,2001-05-01,有\n")), o)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Cleanup()
	if q := res.Report; q.RowsStored != 2 || q.RowsRejected != 1 || fmt.Sprint(q.Columns[1].NullMarkers) != "[{缺 1}]" {
		t.Errorf("custom markers: %+v", q)
	}
}

// readOpenCSV reads a result's open.csv (BOM removed) into rows.
func readOpenCSV(t *testing.T, res *Result) [][]string {
	t.Helper()
	b, err := os.ReadFile(res.Files["open.csv"])
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestTotalLabelsAndHeaders(t *testing.T) {
	for s, want := range map[string]bool{"合计": true, "合 计": true, "总计：": true, "Total": true, "小计": true, "东区小计": true, "Subtotal": true,
		"合计数": false, "舞阳坝": false, "totally": false, "": false} {
		if got := isTotalLabel(s); got != want {
			t.Errorf("isTotalLabel(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{"区划代码": true, "统计年度": true, "年份": true, "序号": true, "area_code": true, "Year": true, "月份": true,
		"户籍人口": false, "年末常住人口": false, "paid": false, "金额": false} {
		if got := notAdditiveHeader(s); got != want {
			t.Errorf("notAdditiveHeader(%q) = %v", s, got)
		}
	}
}

func warningsOf(rep Report, codes ...string) []string {
	var out []string
	for _, w := range rep.Warnings {
		for _, c := range codes {
			if w.Code == c {
				out = append(out, fmt.Sprintf("%s@%d", w.Code, w.Row))
			}
		}
	}
	return out
}

// A total row is decided on the additive columns: the code, the repeated
// year and text beside the label do not count against it; subtotals of
// groups go too; a labelled row that does not add up stays as data.
func TestTotalRows(t *testing.T) {
	population := "乡镇,区划代码,户籍人口,常住人口,统计年度,备注\n" +
		"舞阳坝街道,422801001,52000,61000.5,2023,\n" +
		"六角亭街道,422801002,48000,50000,2023,城区\n" +
		"龙凤镇,422801100,30000,29000,2023,\n" +
		"合计,422801,130000,140000.5,2023,三个乡镇\n"
	groups := "区县,乡镇,人口,面积\n" +
		"东区,甲镇,10,1.5\n" +
		"东区,乙镇,20,2.5\n" +
		"东区,小计,30,4\n" +
		"西区,丙镇,5,1\n" +
		"西区小计,,5,1\n" +
		"总计,,35,5\n"
	wrong := "乡镇,户籍人口\n甲,10\n乙,20\n合计,31\n"
	top := "乡镇,户籍人口,常住人口\n总计,30,33\n甲,10,11\n乙,20,22\n"
	cases := []struct {
		name, csv string
		items     []catalog.Item
		stored    int64
		warnings  string
	}{
		{"code and year", population, nil, 3, "total_row_skipped@5"},
		{"code and year, declared", population, []catalog.Item{{Name: "乡镇", Type: "string"}, {Name: "区划代码", Type: "int"}, {Name: "户籍人口", Type: "int"},
			{Name: "常住人口", Type: "decimal"}, {Name: "统计年度", Type: "int"}, {Name: "备注", Type: "string"}}, 3, "total_row_skipped@5"},
		{"subtotals", groups, nil, 3, "total_row_skipped@4 total_row_skipped@6 total_row_skipped@7"},
		{"subtotals, declared", groups, []catalog.Item{{Name: "区县", Type: "string"}, {Name: "乡镇", Type: "string"}, {Name: "人口", Type: "int"}, {Name: "面积", Type: "decimal"}},
			3, "total_row_skipped@4 total_row_skipped@6 total_row_skipped@7"},
		{"does not add up", wrong, nil, 3, "total_label_kept@4"},
		{"does not add up, declared", wrong, []catalog.Item{{Name: "乡镇", Type: "string"}, {Name: "户籍人口", Type: "int"}}, 3, "total_label_kept@4"},
		{"grand total first", top, nil, 2, "total_row_skipped@2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Convert(context.Background(), writeFile(t, "t.csv", []byte(tc.csv)), opts(tc.items...))
			if err != nil {
				t.Fatal(err)
			}
			defer res.Cleanup()
			got := strings.Join(warningsOf(res.Report, "total_row_skipped", "total_label_kept"), " ")
			if res.Report.RowsStored != tc.stored || got != tc.warnings {
				t.Fatalf("stored %d, warnings %q; want %d, %q", res.Report.RowsStored, got, tc.stored, tc.warnings)
			}
			rows := readOpenCSV(t, res)
			for _, r := range rows[1:] {
				if isTotalLabel(r[0]) && tc.warnings != "total_label_kept@4" {
					t.Errorf("a total row was stored: %v", r)
				}
			}
		})
	}
}

func flaggedOf(rep Report) []string {
	var out []string
	for _, c := range rep.Columns {
		for _, e := range c.InvalidSamples {
			out = append(out, fmt.Sprintf("%s@%d:%s=%s", e.Code, e.Row, e.Column, e.Value))
		}
	}
	return out
}

// Declared min, max and pattern flag the cell and keep the row; so do
// impossible coordinates without declarations; suspicious values warn.
func TestConstraintsAndProfiling(t *testing.T) {
	csv := "编号,床位数,登记日期,经度,纬度,开诊时间,变化数\n" +
		"AB0001,120,2001-05-01,109.48,30.28,2024-01-01 08:00:00,-3\n" +
		"AB0002,-5,2030-01-01,10948.3003,30.29,2023-12-31 23:00:00,4\n" + // negative count, future registration, NMEA-style longitude
		"ab03,5000,1900-01-01,109.5,95,2024-02-01 08:00:00,1\n" // pattern, above max, below min date, impossible latitude
	items := []catalog.Item{{Name: "编号", Type: "string", Pattern: `[A-Z]{2}\d{4}`}, {Name: "床位数", Type: "int", Max: "3000"},
		{Name: "登记日期", Type: "date", Min: "1949-10-01"}, {Name: "经度", Type: "decimal"}, {Name: "纬度", Type: "decimal"},
		{Name: "开诊时间", Type: "timestamp", Min: "2024-01-01"}, {Name: "变化数", Type: "int"}}
	for _, declared := range []bool{false, true} {
		o := opts()
		if declared {
			o = opts(items...)
		}
		res, err := Convert(context.Background(), writeFile(t, "clinics.csv", []byte(csv)), o)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Cleanup()
		if res.Report.RowsStored != 3 || res.Report.RowsRejected != 0 {
			t.Fatalf("declared=%v: a constraint rejected a row: %+v", declared, res.Report.Rejected)
		}
		got := strings.Join(flaggedOf(res.Report), " ")
		want := "impossible_longitude@3:经度=10948.3003 impossible_latitude@4:纬度=95"
		if declared {
			// 2024-01-01 is Shanghai midnight: 2023-12-31 23:00 Shanghai is before it.
			want = "pattern_mismatch@4:编号=ab03 above_max@4:床位数=5000 below_min@4:登记日期=1900-01-01 " + want + " below_min@3:开诊时间=2023-12-31 23:00:00"
		}
		if got != want {
			t.Errorf("declared=%v flagged:\n got %s\nwant %s", declared, got, want)
		}
		susp := strings.Join(warningsOf(res.Report, "suspicious_future_date", "suspicious_negative"), " ")
		if susp != "suspicious_negative@3 suspicious_future_date@3" && susp != "suspicious_future_date@3 suspicious_negative@3" {
			t.Errorf("declared=%v suspicious: %q (变化数 may be negative)", declared, susp)
		}
		if declared {
			for _, w := range res.Report.Warnings {
				if w.Code == "suspicious_negative" && (w.Column != "床位数" || w.Params["count"] != "1" || w.Value != "-5") {
					t.Errorf("warning %+v", w)
				}
			}
			msg := Describe(i18n.ZH, res.Report.Columns[1].InvalidSamples[0])
			if msg != "第 4 行“床位数”：5000 大于上限 3000" {
				t.Errorf("message %q", msg)
			}
		}
	}
}
