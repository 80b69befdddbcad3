package ingest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"opendata/errs"
	"opendata/i18n"
	"opendata/ingest/ingesttest"
)

// An XLSX zip bomb under max_unzip_mb — one value that inflates to 64 MB
// in a file of a few hundred KiB — is refused as the value is read, with
// the sheet, the cell and the limit named, and without the memory the value
// would take (excelize held each XML token whole, several times over: a
// 1 GB cell took 10 GB).
func TestXLSXBombsRefusedWhileRead(t *testing.T) {
	cases := []struct {
		name   string
		kind   ingesttest.Bomb
		size   int64
		code   string
		zh, en string
	}{
		{"inline.xlsx", ingesttest.InlineCell, 64 << 20, "xlsx_cell_too_large", "工作表“Sheet1”单元格 B2：值超过 4194304 字节（配置项 max_field_kb 的四倍）", `sheet "Sheet1", cell B2: the value is over 4194304 bytes`},
		{"shared.xlsx", ingesttest.SharedCell, 48 << 20, "xlsx_cell_too_large", "工作表“Sheet1”单元格 B2：值超过 4194304 字节", `sheet "Sheet1", cell B2`},
		{"row.xlsx", ingesttest.SharedRow, 3 << 20, "xlsx_row_too_large", "工作表“Sheet1”第 2 行合计超过 4194304 字节", `sheet "Sheet1", row 2: the row holds over 4194304 bytes`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := ingesttest.XLSXBomb(&b, c.kind, c.size); err != nil {
				t.Fatal(err)
			}
			if b.Len() > 1<<20 {
				t.Fatalf("the bomb is %d bytes", b.Len())
			}
			o := opts()
			o.TempDir = t.TempDir()
			path := writeFile(t, c.name, b.Bytes())
			var err error
			n := allocated(func() { _, err = Convert(context.Background(), path, o) })
			var p *Problem
			if !errors.As(err, &p) || p.Code != c.code || !errors.Is(err, errs.TooLarge) {
				t.Fatalf("got %v, want %s", err, c.code)
			}
			if zh := ErrorText(i18n.ZH, err); !strings.HasPrefix(zh, c.name+": ") || !strings.Contains(zh, c.zh) {
				t.Errorf("zh: %s", zh)
			}
			if en := ErrorText(i18n.EN, err); !strings.Contains(en, c.en) {
				t.Errorf("en: %s", en)
			}
			if n > 32<<20 {
				t.Errorf("refusing %s allocated %d MB", c.name, n>>20)
			}
			nothingLeft(t, o.TempDir)
		})
	}
}

// max_unzip_mb holds for the bytes actually inflated, and its default is
// below what one worker can hold.
func TestXLSXUnzipLimit(t *testing.T) {
	var o Options
	o.defaults()
	if o.MaxUnzipBytes > 256<<20 {
		t.Errorf("default max_unzip_mb is %d MiB", o.MaxUnzipBytes>>20)
	}
	var b bytes.Buffer
	if err := ingesttest.XLSXBomb(&b, ingesttest.InlineCell, 20<<20); err != nil {
		t.Fatal(err)
	}
	o = opts()
	o.MaxUnzipBytes = 16 << 20
	o.TempDir = t.TempDir()
	_, err := Convert(context.Background(), writeFile(t, "big.xlsx", b.Bytes()), o)
	var p *Problem
	if !errors.As(err, &p) || p.Code != "xlsx_unzip_too_large" {
		t.Fatalf("got %v", err)
	}
	if zh := ErrorText(i18n.ZH, err); !strings.Contains(zh, "工作簿解压后超过 16 MiB（配置项 max_unzip_mb）") {
		t.Errorf("zh: %s", zh)
	}
	// The budget reader stops at the limit whatever the parts declared.
	budget := &inflateBudget{left: 10}
	r := budgetReader{r: strings.NewReader(strings.Repeat("x", 100)), b: budget}
	var got bytes.Buffer
	if _, err := got.ReadFrom(r); !errors.Is(err, errInflateBudget) || got.Len() > 11 {
		t.Errorf("read %d bytes, err %v", got.Len(), err)
	}
}

// A workbook within the limits is read as before: shared strings, inline
// strings, numbers.
func TestXLSXWithinLimitsConverts(t *testing.T) {
	var b bytes.Buffer
	err := ingesttest.XLSX(&b, ingesttest.Sheet{Name: "数据", Rows: [][]string{
		{"名称", "数量"}, {"甲", "1"}, {"乙<&>", "2.5"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	o := opts()
	o.TempDir = t.TempDir()
	res := convertOK(t, writeFile(t, "ok.xlsx", b.Bytes()), o)
	defer res.Cleanup()
	rows, _ := readParquet(t, res.Files["open.parquet"])
	if len(rows) != 2 || rows[1]["名称"] != "乙<&>" || rows[1]["数量"] != "2.5" {
		t.Fatalf("%v", rows)
	}
}
