package ingest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"opendata/errs"
	"opendata/i18n"
	"opendata/ingest/ingesttest"
)

// A 10 MB string and deep nesting in JSON and NDJSON, and a 10 MB CSV line,
// are refused as they are read, with the record, the field and the limit,
// in little memory.
func TestHostileJSONAndLinesRefused(t *testing.T) {
	long := ingesttest.LongJSONString(10 << 20)
	deep := ingesttest.DeepJSON(100_000)
	ndLong := append(append([]byte(`{"名称":"甲"}`+"\n"), long[1:len(long)-1]...), '\n')
	ndDeep := append(deep[1:len(deep)-1], '\n')
	cases := []struct {
		name   string
		data   []byte
		code   string
		zh, en string
	}{
		{"long.json", long, "json_record_too_large", "第 1 条记录超过 4194304 字节（配置项 max_field_kb 的四倍），读到字段“说明”的值时停止", `record 1 is over 4194304 bytes (four times option max_field_kb), stopped in the value of field "说明"`},
		{"deep.json", deep, "json_too_deep", "第 1 条记录的字段“说明”嵌套超过 32 层", `record 1, field "说明": nested deeper than 32 levels`},
		{"long.ndjson", ndLong, "ndjson_line_too_large", "第 2 行超过 4194304 字节", "line 2 is over 4194304 bytes"},
		{"deep.ndjson", ndDeep, "json_too_deep", "第 1 条记录的字段“说明”嵌套超过 32 层", "nested deeper than 32 levels"},
		{"long.csv", []byte("名称,说明\n甲," + strings.Repeat("a", 10<<20) + "\n"), "record_too_large", "第 2 行起的一条记录超过 4194304 字节", "the record starting at row 2 is over 4194304 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := opts()
			o.TempDir = t.TempDir()
			path := writeFile(t, c.name, c.data)
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
			if n > 64<<20 {
				t.Errorf("refusing %s allocated %d MB", c.name, n>>20)
			}
			nothingLeft(t, o.TempDir)
		})
	}
}

// Nested values keep the file's order and exact text; a string past
// max_field_kb but within the record limit rejects its row only.
func TestJSONValuesAsWritten(t *testing.T) {
	js := `[{"a":"x","b":{"z":1,"y":[true,null,"q\"\n"]}},{"a":"` + strings.Repeat("b", 2<<20) + `","b":1},{"a":"y","b":2}]`
	o := opts()
	o.TempDir = t.TempDir()
	res := convertOK(t, writeFile(t, "n.json", []byte(js)), o)
	defer res.Cleanup()
	rows, _ := readParquet(t, res.Files["full.parquet"])
	if len(rows) != 2 || rows[0]["b"] != `{"z":1,"y":[true,null,"q\"\n"]}` {
		t.Fatalf("%v", rows)
	}
	if rejectedCodes(res.Report)[2] != "field_too_large:a" {
		t.Fatalf("%v", rejectedCodes(res.Report))
	}
}
