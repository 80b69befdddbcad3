package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"opendata/catalog"
	"opendata/i18n"
	"opendata/ingest/ingesttest"
)

// One generated fixture per class of real file (issue 11), each converted
// as `opendata ingest --json` does (Convert, then the Outcome it prints,
// with the service's default reject share), and the document checked:
// the sheet read, the rows, the column order and types, the masked columns
// with why, every flagged cell and the warnings.

type classWant struct {
	sheet    string   // XLSX: the sheet read
	skipped  []string // XLSX: sheets skipped, name:reason
	stored   int64
	rejected []string // code@row:column
	columns  string   // name:type, in order
	masked   []string // name:kind:why
	flagged  []string // code@row:column=value
	warnings []string // code@row (or code:column)
	usage    string   // XLSX: text offered as a usage note draft (a line of it)
}

func classOutcome(t *testing.T, name string, data []byte, items []catalog.Item) Outcome {
	t.Helper()
	o := opts(items...)
	o.TempDir = t.TempDir()
	o.MaxRejectRatio = ratioPtr(0.05) // max_reject_ratio's default
	res, err := Convert(context.Background(), writeFile(t, name, data), o)
	if err != nil {
		t.Fatalf("%s: %s", name, ErrorText(i18n.EN, err))
	}
	defer res.Cleanup()
	out := outcome(res, i18n.ZH)
	// What --json prints is this document: read it back as a caller would.
	b, err := json.Marshal(map[string]any{"ok": true, "result": out})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Result Outcome }
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, m := range append(doc.Result.Rejected, doc.Result.Warnings...) {
		if m.Message == "" || strings.Contains(m.Message, "ingest.") || strings.Contains(m.Message, "{") {
			t.Errorf("%s: message not in words: %+v", name, m)
		}
	}
	return doc.Result
}

func checkClass(t *testing.T, out Outcome, w classWant) {
	t.Helper()
	if w.sheet != "" {
		if out.Sheet == nil || out.Sheet.Used != w.sheet {
			t.Errorf("sheet %+v, want %s", out.Sheet, w.sheet)
		} else {
			var sk []string
			for _, s := range out.Sheet.Skipped {
				sk = append(sk, s.Name+":"+string(s.Reason))
			}
			if strings.Join(sk, " ") != strings.Join(w.skipped, " ") {
				t.Errorf("skipped %v, want %v", sk, w.skipped)
			}
			if !strings.Contains(out.UsageNoteDraft, w.usage) {
				t.Errorf("usage note draft %q lacks %q", out.UsageNoteDraft, w.usage)
			}
		}
	}
	if out.RowsStored != w.stored {
		t.Errorf("stored %d, want %d", out.RowsStored, w.stored)
	}
	var rej []string
	for _, m := range out.Rejected {
		rej = append(rej, fmt.Sprintf("%s@%d:%s", m.Code, m.Row, m.Column))
	}
	if strings.Join(rej, " ") != strings.Join(w.rejected, " ") || out.RowsRejected != int64(len(w.rejected)) {
		t.Errorf("rejected %v (%d), want %v", rej, out.RowsRejected, w.rejected)
	}
	var cols, masked []string
	for _, c := range out.Columns {
		cols = append(cols, c.Name+":"+string(c.Type))
		if c.Personal && c.Open != "kept" {
			masked = append(masked, c.Name+":"+c.Detected+":"+c.DetectedBy)
		}
	}
	if strings.Join(cols, " ") != w.columns {
		t.Errorf("columns\n got %s\nwant %s", strings.Join(cols, " "), w.columns)
	}
	if strings.Join(masked, " ") != strings.Join(w.masked, " ") || len(out.Masked) != len(w.masked) {
		t.Errorf("masked %v (%v), want %v", masked, out.Masked, w.masked)
	}
	if got := flaggedOf(*out.Quality); strings.Join(got, " ") != strings.Join(w.flagged, " ") {
		t.Errorf("flagged\n got %v\nwant %v", got, w.flagged)
	}
	var warn []string
	for _, m := range out.Warnings {
		switch {
		case strings.HasPrefix(m.Code, "sheet_"), strings.HasPrefix(m.Code, "personal_detected"):
			continue // told by the sheet choice and the masked columns
		case m.Row == 0:
			warn = append(warn, m.Code+":"+m.Column)
		default:
			warn = append(warn, fmt.Sprintf("%s@%d", m.Code, m.Row))
		}
	}
	if strings.Join(warn, " ") != strings.Join(w.warnings, " ") {
		t.Errorf("warnings\n got %v\nwant %v", warn, w.warnings)
	}
}

// A workbook as departments export it: a note sheet first, two title rows,
// the table with names and mobiles, a text cell in a number column, a null
// marker, and a total row of formulas; a hidden sheet and a later table.
func TestClassWorkbook(t *testing.T) {
	rows := [][]string{{"2023 年各乡镇卫生院基本情况"}, {"填报单位：市卫生健康委"}, {"乡镇", "区划代码", "卫生院", "法定代表人", "联系电话", "床位数", "经度", "年份"}}
	beds := 0
	for i := 1; i <= 24; i++ {
		b := strconv.Itoa(10 + i)
		switch i {
		case 5:
			b = "未填报" // nothing to report: null, row kept
		case 9:
			b = "待核" // text in a number column: the row is rejected
		default:
			beds += 10 + i
		}
		lon := fmt.Sprintf("109.%04d", 4000+i)
		if i == 7 {
			lon = "10948.3003" // no longitude
		}
		rows = append(rows, []string{fmt.Sprintf("镇%02d", i), fmt.Sprintf("4228010%02d", i), fmt.Sprintf("镇%02d卫生院", i),
			[]string{"张伟", "李娜", "欧阳修远", "王芳"}[i%4], fmt.Sprintf("139%08d", 12345600+i), b, lon, "2023"})
	}
	rows = append(rows, []string{"合计", "", "", "", "", fmt.Sprintf("=SUM(F4:F27)|%d", beds), "", "2023"})
	var b bytes.Buffer
	if err := ingesttest.XLSX(&b,
		ingesttest.Sheet{Name: "填报说明", Rows: [][]string{{"填报说明"}, {"1. 每个乡镇卫生院一行。"}, {"2. 床位数按编制床位填报。"}}},
		ingesttest.Sheet{Name: "卫生院", Rows: rows},
		ingesttest.Sheet{Name: "旧表", Hidden: true, Rows: [][]string{{"a", "b"}, {"1", "2"}}},
		ingesttest.Sheet{Name: "附表", Rows: [][]string{{"乡镇", "面积"}, {"镇01", "12.5"}}},
	); err != nil {
		t.Fatal(err)
	}
	items := []catalog.Item{{Name: "乡镇", Type: "string"}, {Name: "区划代码", Type: "string", Pattern: `4228\d{5}`}, {Name: "卫生院", Type: "string"},
		{Name: "法定代表人", Type: "string"}, {Name: "联系电话", Type: "string"}, {Name: "床位数", Type: "int", Min: "0", Max: "30"}, {Name: "经度", Type: "decimal"}, {Name: "年份", Type: "int"}}
	out := classOutcome(t, "卫生院.xlsx", b.Bytes(), items)
	checkClass(t, out, classWant{
		sheet: "卫生院", skipped: []string{"填报说明:note", "旧表:hidden", "附表:other_table"}, usage: "床位数按编制床位填报",
		stored: 23, rejected: []string{"not_a_number@12:床位数"},
		columns:  "乡镇:string 区划代码:string 卫生院:string 法定代表人:string 联系电话:string 床位数:int 经度:decimal 年份:int",
		masked:   []string{"法定代表人:name:header", "联系电话:mobile:values"},
		flagged:  []string{"above_max@24:床位数=31", "above_max@25:床位数=32", "above_max@26:床位数=33", "above_max@27:床位数=34", "impossible_longitude@10:经度=10948.3003"},
		warnings: []string{"title_row_skipped@1", "title_row_skipped@2", "total_row_skipped@28"},
	})
	if q := out.Quality.Columns[5]; q.Nulls != 1 || fmt.Sprint(q.NullMarkers) != "[{未填报 1}]" {
		t.Errorf("床位数 nulls %d, markers %v", q.Nulls, q.NullMarkers)
	}
}

// A CSV of population by town whose total row carries an area code and
// the year; names of legal representatives, a future founding date and a
// negative count.
func TestClassCSVTotalWithCodeAndYear(t *testing.T) {
	var b strings.Builder
	b.WriteString("乡镇,区划代码,户籍人口,常住人口,负责人,成立日期,统计年度\n")
	var reg, res int
	for i := 1; i <= 30; i++ {
		r, s := 20000+i*37, 21000+i*41
		if i == 4 {
			s = -5 // a negative count
		}
		reg, res = reg+r, res+s
		founded := fmt.Sprintf("19%02d-0%d-1%d", 50+i, 1+i%9, i%10)
		if i == 11 {
			founded = "2031-05-01" // after today
		}
		fmt.Fprintf(&b, "镇%02d,4228010%02d,%d,%d,%s,%s,2023\n", i, i, r, s, []string{"张伟", "李娜", "王芳"}[i%3], founded)
	}
	fmt.Fprintf(&b, "合计,422801,%d,%d,,,2023\n", reg, res)
	out := classOutcome(t, "人口.csv", []byte(b.String()), nil)
	checkClass(t, out, classWant{
		stored:   30,
		columns:  "乡镇:string 区划代码:int 户籍人口:int 常住人口:int 负责人:string 成立日期:date 统计年度:int",
		masked:   []string{"负责人:name:header"},
		warnings: []string{"total_row_skipped@32", "suspicious_negative@5", "suspicious_future_date@12"},
	})
}

// JSON from a department's system: a key missing in one object, an extra
// key in two, a string in a number field, a mobile number column.
func TestClassJSONKeys(t *testing.T) {
	var recs []string
	for i := 1; i <= 25; i++ {
		aqi := strconv.Itoa(40 + i)
		if i == 6 {
			aqi = `"十五"` // a string in a number field
		}
		rec := fmt.Sprintf(`{"time":"2024-03-%02d 08:00:00","station":"站%02d","aqi":%s,"pm25":%d.5,"phone":"139%08d"`, i, i, aqi, 10+i, 22345600+i)
		if i == 3 {
			rec = fmt.Sprintf(`{"time":"2024-03-%02d 08:00:00","station":"站%02d","pm25":%d.5,"phone":"139%08d"`, i, i, 10+i, 22345600+i) // no aqi
		}
		if i == 10 || i == 20 {
			rec += `,"note":"仪器校准"` // a key few objects carry
		}
		recs = append(recs, rec+"}")
	}
	data := []byte("[" + strings.Join(recs, ",\n") + "]")
	items := []catalog.Item{{Name: "time", Type: "timestamp"}, {Name: "station", Type: "string"}, {Name: "aqi", Type: "int", Max: "60"},
		{Name: "pm25", Type: "decimal"}, {Name: "phone", Type: "string"}}
	out := classOutcome(t, "aqi.json", data, items)
	checkClass(t, out, classWant{
		stored: 24, rejected: []string{"not_a_number@6:aqi"},
		columns:  "time:timestamp station:string aqi:int pm25:decimal phone:string note:string",
		masked:   []string{"phone:mobile:values"},
		flagged:  []string{"above_max@21:aqi=61", "above_max@22:aqi=62", "above_max@23:aqi=63", "above_max@24:aqi=64", "above_max@25:aqi=65"},
		warnings: []string{"undeclared_column:note", "sparse_key@10"},
	})
	if q := out.Quality.Columns[2]; q.Nulls != 1 {
		t.Errorf("aqi: the missing key should be one null, got %d", q.Nulls)
	}
}
