package ingest

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"opendata/catalog"
	"opendata/errs"
)

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func gbk(t *testing.T, s string) []byte {
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func opts(items ...catalog.Item) Options {
	return Options{Location: shanghai, Now: time.Date(2026, 11, 25, 12, 0, 0, 0, shanghai), Items: items}
}

// footerValue reads a key from the Parquet footer's key-value metadata.
func footerValue(t *testing.T, path, key string) string {
	t.Helper()
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	v := rdr.MetaData().KeyValueMetadata().FindValue(key)
	if v == nil {
		return ""
	}
	return *v
}

// readParquet returns the file's rows as strings (null → "<nil>") and its schema.
func readParquet(t *testing.T, path string) ([]map[string]string, *arrow.Schema) {
	t.Helper()
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	var out []map[string]string
	tr := array.NewTableReader(tbl, 1<<20)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		for r := 0; r < int(rec.NumRows()); r++ {
			m := map[string]string{}
			for c := 0; c < int(rec.NumCols()); c++ {
				col := rec.Column(c)
				if col.IsNull(r) {
					m[rec.ColumnName(c)] = "<nil>"
				} else {
					m[rec.ColumnName(c)] = col.ValueStr(r)
				}
			}
			out = append(out, m)
		}
	}
	return out, tbl.Schema()
}

// nothingLeft fails when a failed conversion left files in its temp dir.
func nothingLeft(t *testing.T, dir string) {
	t.Helper()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("left %d entries in %s, e.g. %s", len(left), dir, left[0].Name())
	}
}

func convertOK(t *testing.T, path string, o Options) *Result {
	t.Helper()
	if o.TempDir == "" {
		o.TempDir = t.TempDir()
	}
	res, err := Convert(context.Background(), path, o)
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	t.Cleanup(res.Cleanup)
	return res
}

func rejectedCodes(r Report) map[int64]string {
	m := map[int64]string{}
	for _, e := range r.Rejected {
		m[e.Row] = e.Code + ":" + e.Column
	}
	return m
}

const busStops = "站点编号,站点名称,线路数,日均客流,开通日期,负责人身份证,联系电话,经度\r\n" +
	"1,舞阳坝,3,\"1,200.50\",2019-05-01,11010519491231002X,13812345678,109.48\r\n" +
	"2,土桥坝,2,五十,2020/1/2,11010519491231002X,13912345678,109.47\r\n" +
	"3,人民广场,5,800,2021年3月4日,110105194912310021,13712345678,109.46\r\n" +
	"3,人民广场,5,800,2021年3月4日,110105194912310021,13712345678,109.46\r\n" +
	"4,\"火车站,北广场\r\n（临时）\",4,600,2099-02-03,11010519491231002X,13612345678,109.45\r\n" +
	"5,航空大道,1,,2023-01-01,,,\r\n"

func TestCSVGBKBusStops(t *testing.T) {
	items := []catalog.Item{
		{Name: "站点编号", Type: "int", Required: true},
		{Name: "站点名称", Type: "string", Description: "站点的中文名称"},
		{Name: "日均客流", Type: "decimal"},
		{Name: "开通日期", Type: "date", NotFuture: true},
		{Name: "负责人身份证", Type: "string", Personal: true, Check: "id_number"},
	}
	o := opts(items...)
	o.KeyColumns = []string{"站点编号"}
	res := convertOK(t, writeFile(t, "bus.csv", gbk(t, busStops)), o)
	rep := res.Report
	if res.Encoding != "gb18030" {
		t.Errorf("encoding %q", res.Encoding)
	}
	if rep.RowsRead != 6 || rep.RowsStored != 4 || rep.RowsRejected != 2 {
		t.Fatalf("read %d stored %d rejected %d: %+v", rep.RowsRead, rep.RowsStored, rep.RowsRejected, rep.Rejected)
	}
	rc := rejectedCodes(rep)
	if rc[3] != "not_a_number:日均客流" || rc[5] != "duplicate_row:" {
		t.Fatalf("rejected: %v", rc)
	}
	types := map[string]string{}
	open := map[string]string{}
	for _, c := range res.Columns {
		types[c.Name], open[c.Name] = string(c.Type), string(c.Open)
	}
	if types["线路数"] != "int" || types["经度"] != "decimal" || types["联系电话"] != "string" || types["开通日期"] != "date" {
		t.Errorf("types %v", types)
	}
	if open["负责人身份证"] != "masked" || open["联系电话"] != "masked" || open["站点名称"] != "kept" {
		t.Errorf("open actions %v", open)
	}
	cols := map[string]ColumnQuality{}
	for _, c := range rep.Columns {
		cols[c.Name] = c
	}
	if q := cols["负责人身份证"]; q.Invalid != 1 || q.InvalidSamples[0].Row != 4 || q.InvalidSamples[0].Code != "bad_id_number" {
		t.Errorf("id check: %+v", q)
	}
	if q := cols["开通日期"]; q.Invalid != 1 || q.InvalidSamples[0].Code != "in_future" || q.Min != "2019-05-01" || q.Max != "2099-02-03" {
		t.Errorf("date column: %+v", q)
	}
	if q := cols["日均客流"]; q.Nulls != 1 || q.Min != "600" || q.Max != "1200.5" {
		t.Errorf("decimal column: %+v", q)
	}

	full, schema := readParquet(t, res.Files["full.parquet"])
	if len(full) != 4 {
		t.Fatalf("full rows %d", len(full))
	}
	if full[0]["日均客流"] != "1200.5" || full[0]["负责人身份证"] != "11010519491231002X" || full[0]["开通日期"] != "2019-05-01" {
		t.Errorf("full row 0: %v", full[0])
	}
	if full[2]["站点名称"] != "火车站,北广场\n（临时）" {
		t.Errorf("quoted multi-line field: %q", full[2]["站点名称"])
	}
	f, _ := schema.FieldsByName("站点名称")
	if d, _ := f[0].Metadata.GetValue("description"); d != "站点的中文名称" {
		t.Errorf("description metadata %q", d)
	}
	openRows, _ := readParquet(t, res.Files["open.parquet"])
	if openRows[0]["负责人身份证"] != "110105********002X" || openRows[0]["联系电话"] != "138****5678" || openRows[0]["站点名称"] != "舞阳坝" {
		t.Errorf("open row 0: %v", openRows[0])
	}
	if v := footerValue(t, res.Files["open.parquet"], "opendata.columns"); !strings.Contains(v, `"open":"masked"`) || !strings.Contains(v, "站点的中文名称") {
		t.Errorf("schema metadata %q", v)
	}
	csvBytes, _ := os.ReadFile(res.Files["open.csv"])
	if !bytes.HasPrefix(csvBytes, []byte("\uFEFF站点编号,")) {
		t.Errorf("open.csv must start with a BOM and the header: %q", csvBytes[:30])
	}
	if bytes.Contains(csvBytes, []byte("11010519491231002X")) || bytes.Contains(csvBytes, []byte("13812345678")) {
		t.Error("open.csv leaks personal data")
	}
	if !bytes.Contains(csvBytes, []byte("1,舞阳坝,3,1200.50,2019-05-01,110105********002X,138****5678,109.48\r\n")) {
		t.Errorf("open.csv row: %s", csvBytes)
	}
	if rep.Score >= 100 || rep.Score < 50 {
		t.Errorf("score %v", rep.Score)
	}
}

func TestCSVUTF8BOMAndInferredRejection(t *testing.T) {
	var b strings.Builder
	b.WriteString("\uFEFF区县,人口,更新时间\n")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&b, "恩施%d,%d,2024-01-%02d 08:30:00\n", i, 1000+i, i%28+1)
	}
	b.WriteString("来凤,五十,2024-02-01 08:30:00\n")
	res := convertOK(t, writeFile(t, "pop.csv", []byte(b.String())), opts())
	if res.Encoding != "utf-8-bom" || res.Columns[0].Name != "区县" {
		t.Fatalf("encoding %q header %q", res.Encoding, res.Columns[0].Name)
	}
	if res.Columns[1].Type != "int" || res.Columns[2].Type != "timestamp" {
		t.Fatalf("types %+v", res.Columns)
	}
	if rc := rejectedCodes(res.Report); rc[32] != "not_a_number:人口" {
		t.Fatalf("rejected %v", rc)
	}
	rows, _ := readParquet(t, res.Files["full.parquet"])
	if rows[0]["更新时间"] != "2024-01-01T08:30:00+08:00" {
		t.Errorf("timestamp stored as %q", rows[0]["更新时间"])
	}
}

func makeXLSX(t *testing.T, fill func(f *excelize.File)) string {
	t.Helper()
	f := excelize.NewFile()
	fill(f)
	p := filepath.Join(t.TempDir(), "book.xlsx")
	if err := f.SaveAs(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestXLSXTitleDatesAndTotal(t *testing.T) {
	p := makeXLSX(t, func(f *excelize.File) {
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
	})
	res := convertOK(t, p, opts())
	rep := res.Report
	if res.HeaderRow != 3 || rep.RowsStored != 2 {
		t.Fatalf("header row %d stored %d: %+v", res.HeaderRow, rep.RowsStored, rep)
	}
	got := map[string]string{}
	for _, c := range res.Columns {
		got[c.Name] = string(c.Type)
	}
	if got["床位数"] != "int" || got["使用率"] != "decimal" || got["统计日期"] != "date" {
		t.Fatalf("types %v", got)
	}
	rows, _ := readParquet(t, res.Files["full.parquet"])
	if rows[0]["统计日期"] != "2024-01-01" || rows[0]["使用率"] != "0.91234" {
		t.Errorf("row: %v", rows[0])
	}
	codes := []string{}
	for _, w := range rep.Warnings {
		codes = append(codes, fmt.Sprintf("%s@%d", w.Code, w.Row))
	}
	if !strings.Contains(strings.Join(codes, " "), "total_row_skipped@6") {
		t.Errorf("warnings %v", codes)
	}
}

func TestXLSXTotalLabelThatIsNotATotal(t *testing.T) {
	p := makeXLSX(t, func(f *excelize.File) {
		f.SetSheetRow("Sheet1", "A1", &[]any{"项目", "金额"})
		f.SetSheetRow("Sheet1", "A2", &[]any{"采购", 100})
		f.SetSheetRow("Sheet1", "A3", &[]any{"合计", 999})
	})
	res := convertOK(t, p, opts())
	if res.Report.RowsStored != 2 {
		t.Fatalf("a 合计 row whose numbers are not totals is data: stored %d", res.Report.RowsStored)
	}
}

func TestXLSXPickSheetAndSerialDeclared(t *testing.T) {
	p := makeXLSX(t, func(f *excelize.File) {
		f.NewSheet("数据")
		f.SetSheetRow("数据", "A1", &[]any{"日期", "值"})
		f.SetSheetRow("数据", "A2", &[]any{45658, 1})
	})
	o := opts(catalog.Item{Name: "日期", Type: "date"})
	o.Sheet = "数据"
	res := convertOK(t, p, o)
	rows, _ := readParquet(t, res.Files["full.parquet"])
	if rows[0]["日期"] != "2025-01-01" {
		t.Fatalf("serial date: %v", rows[0])
	}
	o.Sheet = "没有"
	o.TempDir = t.TempDir()
	if _, err := Convert(context.Background(), p, o); err == nil || !strings.Contains(err.Error(), `no sheet "没有"`) {
		t.Fatalf("missing sheet: %v", err)
	}
}

func TestJSONAndNDJSON(t *testing.T) {
	js := `[{"code":"A1","name":"恩施","pop":1200,"ok":true,"tags":["x"]},{"code":"A2","name":"利川","pop":null,"extra":"e"}]`
	res := convertOK(t, writeFile(t, "d.json", []byte(js)), opts())
	rows, _ := readParquet(t, res.Files["full.parquet"])
	if len(rows) != 2 || rows[0]["tags"] != `["x"]` || rows[1]["pop"] != "<nil>" || rows[1]["extra"] != "e" {
		t.Fatalf("rows %v", rows)
	}
	nd := "{\"a\":1}\n\n{\"a\":2}\n[1,2]\n{\"a\":3}\n"
	res = convertOK(t, writeFile(t, "d.ndjson", []byte(nd)), opts())
	if res.Report.RowsStored != 3 || rejectedCodes(res.Report)[4] != "not_an_object:" {
		t.Fatalf("ndjson report %+v", res.Report)
	}
}

func TestBadInput(t *testing.T) {
	wide := "a,b\n1," + strings.Repeat("x", 10<<20) + "\n"
	cases := []struct {
		name string
		data []byte
		kind error
		want string
	}{
		{"empty.csv", nil, errs.Invalid, "empty"},
		{"blank.csv", []byte("\n\n  \n"), errs.Invalid, "empty"},
		{"header.csv", []byte("a,b,c\n"), errs.Invalid, "no data rows"},
		{"random.csv", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01"), errs.Invalid, "not text"},
		{"trunc.json", []byte(`[{"a":1},{"a":`), errs.Invalid, "record 2"},
		{"obj.json", []byte(`{"a":1}`), errs.Invalid, "array of objects"},
		{"huge.csv", []byte(wide), errs.TooLarge, "row 2 is over 4194304 bytes"},
		{"data.bin", []byte("a\n1\n"), errs.Invalid, "unknown file format"},
		{"fake.xlsx", []byte("not a zip"), errs.Invalid, "unreadable Excel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := opts()
			o.TempDir = t.TempDir()
			res, err := Convert(context.Background(), writeFile(t, c.name, c.data), o)
			if err == nil || !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
				t.Fatalf("got %v, want %v containing %q and the file name", err, c.kind, c.want)
			}
			if res != nil {
				t.Fatal("a failed conversion returned a result")
			}
			nothingLeft(t, o.TempDir)
		})
	}
}

func TestInconsistentColumnCounts(t *testing.T) {
	res := convertOK(t, writeFile(t, "c.csv", []byte("a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12,\n")), opts())
	rc := rejectedCodes(res.Report)
	if res.Report.RowsStored != 2 || rc[3] != "field_count:" || rc[4] != "field_count:" {
		t.Fatalf("stored %d rejected %v", res.Report.RowsStored, rc)
	}
	if res.Report.Rejected[0].Params["got"] != "2" || res.Report.Rejected[0].Params["want"] != "3" {
		t.Fatalf("params %v", res.Report.Rejected[0].Params)
	}
}

func TestEveryRowRejected(t *testing.T) {
	o := opts(catalog.Item{Name: "n", Type: "int"})
	o.TempDir = t.TempDir()
	res, err := Convert(context.Background(), writeFile(t, "x.csv", []byte("n\n五十\nabc\n")), o)
	if !errors.Is(err, ErrNoStorableRow) || res == nil || res.Report.RowsRejected != 2 {
		t.Fatalf("err %v res %+v", err, res)
	}
	res.Cleanup()
}

// A zip bomb: a small .xlsx whose sheet expands past the limit.
func TestXLSXZipBomb(t *testing.T) {
	p := makeXLSX(t, func(f *excelize.File) { f.SetCellValue("Sheet1", "A1", "x") })
	src, _ := zip.OpenReader(p)
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range src.File {
		w, _ := zw.Create(f.Name)
		if f.Name == "xl/worksheets/sheet1.xml" {
			w.Write([]byte(`<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`))
			row := []byte(`<row><c t="inlineStr"><is><t>` + strings.Repeat("A", 1000) + `</t></is></c></row>`)
			for i := 0; i < 40000; i++ { // ~40 MB uncompressed
				w.Write(row)
			}
			w.Write([]byte(`</sheetData></worksheet>`))
			continue
		}
		r, _ := f.Open()
		b := new(bytes.Buffer)
		b.ReadFrom(r)
		w.Write(b.Bytes())
	}
	zw.Close()
	src.Close()
	if out.Len() > 1<<20 {
		t.Fatalf("bomb is %d bytes compressed", out.Len())
	}
	o := opts()
	o.MaxUnzipBytes = 8 << 20
	o.TempDir = t.TempDir()
	_, err := Convert(context.Background(), writeFile(t, "bomb.xlsx", out.Bytes()), o)
	if !errors.Is(err, errs.TooLarge) || !strings.Contains(err.Error(), "inflates past 8 MiB") {
		t.Fatalf("got %v", err)
	}
}

func TestDuplicatesWithoutKeys(t *testing.T) {
	res := convertOK(t, writeFile(t, "d.csv", []byte("a,b\n1,x\n2,y\n1,x\n1, x \n")), opts())
	if d := res.Report.Duplicates; d.Count != 2 || !d.Complete || d.Rows[0] != 4 || d.Rows[1] != 5 {
		t.Fatalf("dups %+v", d)
	}
}

func TestKeyConflict(t *testing.T) {
	o := opts(catalog.Item{Name: "code", Type: "string"}, catalog.Item{Name: "name", Type: "string"})
	o.KeyColumns = []string{"code"}
	res := convertOK(t, writeFile(t, "k.csv", []byte("code,name\nA,恩施\nB,利川\nA,建始\n")), o)
	kc := res.Report.KeyConflicts
	if kc.Count != 1 || kc.Samples[0].Row != 4 || kc.Samples[0].FirstRow != 2 || kc.Samples[0].Key != "A" || res.Report.RowsStored != 3 {
		t.Fatalf("conflicts %+v", kc)
	}
}

func TestDropPersonal(t *testing.T) {
	o := opts(catalog.Item{Name: "姓名", Type: "string", Personal: true, PersonalAction: "drop"}, catalog.Item{Name: "年龄", Type: "int"})
	res := convertOK(t, writeFile(t, "p.csv", []byte("姓名,年龄\n张三,30\n")), o)
	rows, _ := readParquet(t, res.Files["open.parquet"])
	if _, ok := rows[0]["姓名"]; ok || rows[0]["年龄"] != "30" {
		t.Fatalf("open row %v", rows[0])
	}
	full, _ := readParquet(t, res.Files["full.parquet"])
	if full[0]["姓名"] != "张三" {
		t.Fatalf("full row %v", full[0])
	}
	csvb, _ := os.ReadFile(res.Files["open.csv"])
	if strings.Contains(string(csvb), "张") {
		t.Fatalf("dropped column in open.csv: %s", csvb)
	}
	q, _ := os.ReadFile(res.Files["quality.json"])
	var parsed Report
	if err := json.Unmarshal(q, &parsed); err != nil || parsed.RowsStored != 1 {
		t.Fatalf("quality.json: %v %s", err, q)
	}
}

func TestCancel(t *testing.T) {
	var b strings.Builder
	b.WriteString("a,b\n")
	for i := 0; i < 50000; i++ {
		fmt.Fprintf(&b, "%d,x%d\n", i, i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := opts()
	o.TempDir = t.TempDir()
	if _, err := Convert(ctx, writeFile(t, "c.csv", []byte(b.String())), o); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	nothingLeft(t, o.TempDir)
}

// With a tiny memory budget the check spills many sorted runs and still
// finds every duplicate and conflict, far apart in the file.
func TestDedupAcrossSpilledRuns(t *testing.T) {
	var b strings.Builder
	b.WriteString("code,name\n")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&b, "K%d,名称%d\n", i, i)
	}
	b.WriteString("K7,名称7\n")     // exact repeat of data row 8
	b.WriteString("K4000,别的名称\n") // same key, other content
	b.WriteString("K12, 名称12 \n") // repeat once trimmed
	o := opts(catalog.Item{Name: "code", Type: "string"}, catalog.Item{Name: "name", Type: "string"})
	o.KeyColumns = []string{"code"}
	o.DedupMemoryBytes = 24 * 1024 // 1024 records a run: five runs
	o.TempDir = t.TempDir()
	res := convertOK(t, writeFile(t, "big.csv", []byte(b.String())), o)
	d, k := res.Report.Duplicates, res.Report.KeyConflicts
	if d.Count != 2 || !d.Complete || d.Rows[0] != 5002 || d.Rows[1] != 5004 {
		t.Fatalf("duplicates %+v", d)
	}
	if k.Count != 1 || k.Samples[0].Row != 5003 || k.Samples[0].FirstRow != 4002 || k.Samples[0].Key != "K4000" {
		t.Fatalf("conflicts %+v", k)
	}
	rc := rejectedCodes(res.Report)
	if rc[5002] != "duplicate_row:" || res.Report.Rejected[0].Params["first"] != "9" {
		t.Fatalf("rejected %v %+v", rc, res.Report.Rejected[0])
	}
	if res.Report.RowsStored != 5001 {
		t.Fatalf("stored %d", res.Report.RowsStored)
	}
	if res.passes != 2 {
		t.Fatalf("passes %d: the budget is too small for the one-pass table", res.passes)
	}
	if left, _ := filepath.Glob(filepath.Join(o.TempDir, "dedup-*")); len(left) != 0 {
		t.Fatalf("runs left behind: %v", left)
	}
}
