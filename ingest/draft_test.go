package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"opendata/i18n"
	"opendata/ingest/ingesttest"

	"opendata/catalog"
)

// testIDNumber is a valid resident ID number (GB 11643) for seq.
func testIDNumber(seq int) string {
	body := fmt.Sprintf("42280119%02d0%d%02d%03d", 80+seq%20, 1+seq%9, 10+seq%18, seq%1000)
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(body[i]-'0') * w[i]
	}
	return body + string("10X98765432"[sum%11])
}

// testCreditCode is a valid unified social credit code (GB 32100) for seq.
func testCreditCode(seq int) string {
	body := fmt.Sprintf("91422801MA%07d", seq)
	w := [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(creditValue[body[i]]) * w[i]
	}
	return body + string(creditAlphabet[(31-sum%31)%31])
}

// registerCSV is a market-entity register as a department exports it:
// row 9 and row 32 share a credit code with different content (a "one
// data, one source" conflict), rows 20 and 21 are the same row twice.
func registerCSV(t *testing.T) string {
	var b strings.Builder
	b.WriteString("统一社会信用代码,企业名称,法定代表人,登记状态,注册资本（万元）,成立日期,联系电话,负责人身份证\n")
	states := []string{"存续", "在业", "注销"}
	surnames := "张王李赵刘陈杨黄周吴"
	for i := 0; i < 40; i++ {
		code := testCreditCode(i)
		switch i {
		case 30:
			code = testCreditCode(7)
		case 19:
			code = testCreditCode(18)
		}
		name := fmt.Sprintf("恩施市第%d商贸有限公司", i)
		person := string([]rune(surnames)[i%10]) + "建国"
		if i == 19 {
			name, person = "恩施市第18商贸有限公司", string([]rune(surnames)[18%10])+"建国"
		}
		seq := i
		if i == 19 {
			seq = 18
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s,%d.5,2010-01-%02d,1380000%04d,%s\n", code, name, person, states[seq%3], 100+seq, 1+seq%28, seq, testIDNumber(seq))
	}
	return writeFile(t, "register.csv", []byte(b.String()))
}

func TestDraftFile(t *testing.T) {
	type want struct {
		names    []string
		types    map[string]catalog.ColumnType
		personal map[string]string // name → detected kind of the columns proposed personal
		checks   map[string]string
		enums    map[string][]string
		key      []string
		repeats  []KeyRepeat
		rows     int64
		sheet    string
	}
	var xlsx bytes.Buffer
	if err := ingesttest.XLSX(&xlsx,
		ingesttest.Sheet{Name: "说明", Rows: [][]string{{"填报说明"}, {"1. 本表按乡镇填报常住人口。"}, {"2. 单位：人。"}}},
		ingesttest.Sheet{Name: "数据", Rows: [][]string{
			{"2023 年各乡镇常住人口"},
			{"乡镇", "区划代码", "人口", "年份"},
			{"城关镇", "422801001", "52310", "2023"},
			{"龙凤镇", "422801002", "未填报", "2023"},
			{"白杨坪镇", "422801003", "31877", "2023"},
			{"合计", "", "=SUM(C3:C5)|84187", "2023"},
		}},
	); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, file string
		want       want
	}{
		{"register CSV", registerCSV(t), want{
			names: []string{"统一社会信用代码", "企业名称", "法定代表人", "登记状态", "注册资本（万元）", "成立日期", "联系电话", "负责人身份证"},
			types: map[string]catalog.ColumnType{"统一社会信用代码": catalog.ColString, "企业名称": catalog.ColString, "法定代表人": catalog.ColString, "登记状态": catalog.ColString,
				"注册资本（万元）": catalog.ColDecimal, "成立日期": catalog.ColDate, "联系电话": catalog.ColString, "负责人身份证": catalog.ColString},
			personal: map[string]string{"法定代表人": KindName, "联系电话": KindMobile, "负责人身份证": KindIDNumber},
			checks:   map[string]string{"统一社会信用代码": KindCreditCode, "联系电话": KindMobile, "负责人身份证": KindIDNumber},
			enums:    map[string][]string{"登记状态": {"存续", "在业", "注销"}},
			key:      []string{"统一社会信用代码"},
			repeats:  []KeyRepeat{{Value: testCreditCode(7), Rows: []int64{9, 32}}, {Value: testCreditCode(18), Rows: []int64{20, 21}, Same: true}},
			rows:     40,
		}},
		{"JSON in key order", writeFile(t, "stations.json", []byte(`[
			{"站点编号": "S01", "站点": "城关", "aqi": 35, "等级": "优"},
			{"站点编号": "S02", "站点": "龙凤", "aqi": 60, "等级": "良"},
			{"站点编号": "S03", "站点": "白杨坪", "aqi": 41, "等级": "优"},
			{"站点编号": "S04", "站点": "芭蕉", "aqi": 75, "等级": "良"},
			{"站点编号": "S05", "站点": "盛家坝", "aqi": 30, "等级": "优"},
			{"站点编号": "S06", "站点": "三岔", "aqi": 52, "等级": "良"},
			{"站点编号": "S07", "站点": "沙地", "aqi": 44, "等级": "优"},
			{"站点编号": "S08", "站点": "红土", "aqi": 90, "等级": "良"},
			{"站点编号": "S09", "站点": "新塘", "aqi": 20, "等级": "优"},
			{"站点编号": "S10", "站点": "屯堡", "aqi": 101, "等级": "轻度污染"}
		]`)), want{
			names: []string{"站点编号", "站点", "aqi", "等级"},
			types: map[string]catalog.ColumnType{"站点编号": catalog.ColString, "站点": catalog.ColString, "aqi": catalog.ColInt, "等级": catalog.ColString},
			enums: map[string][]string{"等级": {"优", "良", "轻度污染"}},
			key:   []string{"站点编号"}, repeats: []KeyRepeat{}, rows: 10,
		}},
		{"workbook with a note sheet first", writeFile(t, "population.xlsx", xlsx.Bytes()), want{
			names: []string{"乡镇", "区划代码", "人口", "年份"},
			types: map[string]catalog.ColumnType{"乡镇": catalog.ColString, "人口": catalog.ColInt, "年份": catalog.ColInt},
			key:   []string{"区划代码"}, repeats: []KeyRepeat{}, rows: 3, sheet: "数据",
		}},
		{"no column is a key", writeFile(t, "visits.csv", []byte("日期,人次\n2024-01-01,5\n2024-01-01,7\n2024-01-02,5\n2024-01-02,9\n")), want{
			names: []string{"日期", "人次"}, types: map[string]catalog.ColumnType{"日期": catalog.ColDate, "人次": catalog.ColInt}, key: []string{}, rows: 4,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := DraftFile(context.Background(), c.file, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			personal, checks, enums := map[string]string{}, map[string]string{}, map[string][]string{}
			for _, it := range d.Items {
				names = append(names, it.Name)
				if want, ok := c.want.types[it.Name]; ok && it.Type != want {
					t.Errorf("%s: type %s, want %s", it.Name, it.Type, want)
				}
				if it.Personal {
					personal[it.Name] = it.Detected
					if len(it.Reasons) == 0 || strings.HasPrefix(it.Reasons[0], i18n.Missing) {
						t.Errorf("%s: personal without a reason: %q", it.Name, it.Reasons)
					}
					for _, ex := range it.Examples {
						if !strings.Contains(ex, "*") {
							t.Errorf("%s: example %q of personal data not masked", it.Name, ex)
						}
					}
				}
				if it.Check != "" {
					checks[it.Name] = it.Check
				}
				if it.Enum != nil {
					enums[it.Name] = it.Enum
				}
				for _, r := range it.Reasons {
					if strings.Contains(r, i18n.Missing) || strings.Contains(r, "{") {
						t.Errorf("%s: reason %q has a missing message or placeholder", it.Name, r)
					}
				}
			}
			if !reflect.DeepEqual(names, c.want.names) {
				t.Errorf("names %q, want %q", names, c.want.names)
			}
			eq := func(what string, got, want any) {
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: %v, want %v", what, got, want)
				}
			}
			if c.want.personal == nil {
				c.want.personal = map[string]string{}
			}
			if c.want.checks == nil {
				c.want.checks = map[string]string{}
			}
			if c.want.enums == nil {
				c.want.enums = map[string][]string{}
			}
			eq("personal", personal, c.want.personal)
			eq("checks", checks, c.want.checks)
			eq("enums", enums, c.want.enums)
			eq("key", d.KeyColumns, c.want.key)
			eq("rows", d.Rows, c.want.rows)
			if len(c.want.key) > 0 {
				if d.Key == nil || d.Key.Reason == "" {
					t.Fatalf("key without its reason: %+v", d.Key)
				}
				eq("repeats", d.Key.Repeats, c.want.repeats)
			} else if d.Key != nil {
				t.Errorf("key %+v proposed", d.Key)
			}
			if c.want.sheet != "" && (d.Sheet == nil || d.Sheet.Used != c.want.sheet) {
				t.Errorf("sheet %+v, want %s", d.Sheet, c.want.sheet)
			}
			// The proposal is a valid declaration of the entry's items.
			for _, it := range d.ItemsOf() {
				if it.Name == "" || it.Type == "" {
					t.Errorf("item %+v incomplete", it)
				}
			}
		})
	}
}

// The reasons follow the reader's language; English says no Chinese
// template words.
func TestDraftLocalize(t *testing.T) {
	d, err := DraftFile(context.Background(), registerCSV(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	zh := d.Items[2].Reasons[0]
	d.Localize(i18n.EN)
	en := d.Items[2].Reasons[0]
	if zh == en || !strings.Contains(en, "法定代表人") || !strings.Contains(en, "personal") {
		t.Errorf("zh %q, en %q", zh, en)
	}
	if !strings.Contains(d.Key.Reason, "rows") {
		t.Errorf("key reason in English: %q", d.Key.Reason)
	}
}

func TestDraftRefusals(t *testing.T) {
	big := writeFile(t, "big.csv", nil)
	if err := os.Truncate(big, DraftMaxBytes+1); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, file, format, code string
	}{
		{"unknown format", writeFile(t, "notes.pdf", []byte("a,b\n1,2\n")), "", "draft_unknown_format"},
		{"empty", writeFile(t, "empty.csv", nil), "", "draft_empty"},
		{"header only", writeFile(t, "head.csv", []byte("名称,数量\n")), "", "draft_no_rows"},
		{"not JSON", writeFile(t, "bad.json", []byte("{\"a\": 1}")), "", "draft_bad_json"},
		{"binary", writeFile(t, "bin.csv", []byte("a,b\n\x00\x01\x02,\x03\n")), "", "draft_binary"},
		{"too large", big, "", "draft_too_large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DraftFile(context.Background(), c.file, Options{Format: c.format})
			var p *Problem
			if !errors.As(err, &p) || p.Code != c.code {
				t.Fatalf("error %v, want problem %s", err, c.code)
			}
			text := ErrorText(i18n.ZH, err)
			if strings.Contains(text, i18n.Missing) || !strings.Contains(text, ": ") {
				t.Errorf("text %q", text)
			}
		})
	}
}
