package ingest

import (
	"context"
	"fmt"
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
