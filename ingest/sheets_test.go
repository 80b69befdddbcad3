package ingest

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"opendata/catalog"
	"opendata/i18n"
	"opendata/ingest/ingesttest"
)

// A department's workbook as exported: a note sheet first (说明), then the
// data under a title row, with a total row of formulas and a text cell in
// a number column, then a hidden sheet and a second table.
func noteFirstWorkbook(t *testing.T) string {
	var b bytes.Buffer
	err := ingesttest.XLSX(&b,
		ingesttest.Sheet{Name: "说明", Rows: [][]string{
			{"填报说明"},
			{"1. 本表按乡镇填报常住人口。"},
			{"2. 数据截至 2023 年末，单位：人。"},
			{"3. 未填报的乡镇请留空。"},
		}},
		ingesttest.Sheet{Name: "数据", Rows: [][]string{
			{"2023 年各乡镇常住人口"},
			{"乡镇", "区划代码", "人口", "年份"},
			{"城关镇", "422801001", "52310", "2023"},
			{"龙凤镇", "422801002", "未填报", "2023"},
			{"白杨坪镇", "422801003", "31877", "2023"},
			{"合计", "", "=SUM(C3:C5)|84187", "2023"},
		}},
		ingesttest.Sheet{Name: "旧表", Hidden: true, Rows: [][]string{{"a", "b"}, {"1", "2"}}},
		ingesttest.Sheet{Name: "附表", Rows: [][]string{{"乡镇", "面积"}, {"城关镇", "12.5"}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "population.xlsx", b.Bytes())
}

func TestXLSXSheetChoice(t *testing.T) {
	path := noteFirstWorkbook(t)
	cases := []struct {
		name    string
		items   []catalog.Item
		sheet   string
		used    string
		reason  SheetReason
		skipped map[string]SheetReason
	}{
		{"first table", nil, "", "数据", SheetFirstTable,
			map[string]SheetReason{"说明": SheetNote, "旧表": SheetHidden, "附表": SheetLater}},
		{"declared items", []catalog.Item{{Name: "乡镇", Type: "string"}, {Name: "面积", Type: "number"}}, "", "附表", SheetDeclared,
			map[string]SheetReason{"说明": SheetNote, "旧表": SheetHidden, "数据": SheetOtherTable}},
		{"named", nil, "说明", "说明", SheetNamed, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := opts(c.items...)
			o.Sheet = c.sheet
			o.TempDir = t.TempDir()
			res := convertOK(t, path, o)
			defer res.Cleanup()
			ch := res.Sheet
			if ch == nil || ch.Used != c.used || ch.Reason != c.reason {
				t.Fatalf("choice %+v", ch)
			}
			got := map[string]SheetReason{}
			for _, s := range ch.Skipped {
				got[s.Name] = s.Reason
			}
			if len(got) != len(c.skipped) {
				t.Fatalf("skipped %v, want %v", got, c.skipped)
			}
			for k, v := range c.skipped {
				if got[k] != v {
					t.Fatalf("skipped %v, want %v", got, c.skipped)
				}
			}
			// The choice is in quality.json and in the result's messages.
			q, _ := os.ReadFile(res.Files["quality.json"])
			var rep Report
			if err := json.Unmarshal(q, &rep); err != nil || rep.Sheet == nil || rep.Sheet.Used != c.used {
				t.Fatalf("quality.json sheet: %v %+v", err, rep.Sheet)
			}
			if c.reason == SheetNamed {
				return
			}
			if !strings.Contains(ch.UsageNoteDraft, "填报说明\n1. 本表按乡镇填报常住人口。\n2. 数据截至 2023 年末，单位：人。") {
				t.Errorf("usage note draft %q", ch.UsageNoteDraft)
			}
			out := outcome(res, i18n.ZH)
			if out.UsageNoteDraft != ch.UsageNoteDraft || out.Sheet != ch {
				t.Errorf("outcome: %q", out.UsageNoteDraft)
			}
			var msgs []string
			for _, w := range out.Warnings {
				msgs = append(msgs, w.Message)
			}
			all := strings.Join(msgs, "\n")
			for _, want := range []string{"读取了工作表“" + c.used + "”", "跳过工作表“说明”：是说明文字，不是数据表", "跳过工作表“旧表”：隐藏的工作表"} {
				if !strings.Contains(all, want) {
					t.Errorf("warnings lack %q:\n%s", want, all)
				}
			}
		})
	}
}

// The data sheet is read right: title row skipped, the header found, the
// rows below it.
func TestXLSXNoteFirstWorkbookRows(t *testing.T) {
	o := opts()
	o.TempDir = t.TempDir()
	res := convertOK(t, noteFirstWorkbook(t), o)
	defer res.Cleanup()
	var names []string
	for _, c := range res.Columns {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "乡镇,区划代码,人口,年份" || res.HeaderRow != 2 {
		t.Fatalf("columns %v, header row %d", names, res.HeaderRow)
	}
	rows, _ := readParquet(t, res.Files["full.parquet"])
	if len(rows) == 0 || rows[0]["乡镇"] != "城关镇" {
		t.Fatalf("rows %v", rows)
	}
	t.Logf("stored %d, rejected %d, warnings %v", res.Report.RowsStored, res.Report.RowsRejected, res.Report.Warnings)
}

// A register of text only (names and addresses, no number or date) after a
// note sheet is still the table read; the note is not.
func TestXLSXTextOnlyTableAfterNote(t *testing.T) {
	var b bytes.Buffer
	err := ingesttest.XLSX(&b,
		ingesttest.Sheet{Name: "封面", Rows: [][]string{{"恩施市个体工商户名录"}, {"市场监督管理局编制"}}},
		ingesttest.Sheet{Name: "名录", Rows: [][]string{{"字号", "经营者", "住所"}, {"张记面馆", "张三", "舞阳坝街道"}, {"李家超市", "李四", "小渡船街道"}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	o := opts()
	o.TempDir = t.TempDir()
	res := convertOK(t, writeFile(t, "register.xlsx", b.Bytes()), o)
	defer res.Cleanup()
	if res.Sheet.Used != "名录" || res.Sheet.Reason != SheetFirstTable || res.Report.RowsStored != 2 ||
		len(res.Sheet.Skipped) != 1 || res.Sheet.Skipped[0].Reason != SheetNote || res.Sheet.UsageNoteDraft != "恩施市个体工商户名录\n市场监督管理局编制" {
		t.Fatalf("%+v, %d rows", res.Sheet, res.Report.RowsStored)
	}
}
