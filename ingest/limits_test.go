package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"opendata/errs"
	"opendata/i18n"
	"opendata/ingest/ingesttest"
)

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A file past the column or header limit is refused with a message naming
// the file, what is wrong and the limit, before anything is sized by it.
func TestWideAndLongHeaderFilesRefused(t *testing.T) {
	wide := ingesttest.WideCSV(200_000)
	if len(wide) < 1<<20 || len(wide) > 2<<20 {
		t.Fatalf("wide file is %d bytes", len(wide))
	}
	long := ingesttest.LongHeaderCSV(3 << 20)
	cases := []struct {
		name      string
		data      []byte
		code      string
		zh, en    string
		allocated uint64
	}{
		{"wide.csv", wide, "too_many_columns", "第 1 行有 200000 列，超过 2000 列的上限（配置项 max_columns）", "row 1 has 200000 columns, over the limit of 2000 (option max_columns)", 64 << 20},
		{"header.csv", long, "header_too_large", "表头（第 1 行）有", "the header (row 1) is 3", 64 << 20},
		{"wide.json", []byte("[{" + ingesttest.JSONKeys(3000) + "}]"), "too_many_columns", "第 1 行有 3000 列", "row 1 has 3000 columns, over the limit of 2000", 64 << 20},
		{"wide.ndjson", []byte("{" + ingesttest.JSONKeys(3000) + "}\n"), "too_many_columns", "第 1 行有 3000 列", "row 1 has 3000 columns", 64 << 20},
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
			if n > c.allocated {
				t.Errorf("refusing %s allocated %d MB", c.name, n>>20)
			}
			nothingLeft(t, o.TempDir)
		})
	}
}

// A file as wide as the limit converts, and its batches are sized by what
// was read: the memory it takes does not grow with rows × columns.
func TestWideFileAtTheLimitConverts(t *testing.T) {
	var b bytes.Buffer
	b.Write(ingesttest.WideCSV(2000)[:bytes.IndexByte(ingesttest.WideCSV(2000), '\n')+1])
	row := bytes.Repeat([]byte("7,"), 1999)
	for i := 0; i < 300; i++ {
		b.Write(row)
		fmt.Fprintf(&b, "%d\n", i)
	}
	o := opts()
	o.TempDir = t.TempDir()
	var res *Result
	n := allocated(func() { res = convertOK(t, writeFile(t, "wide2000.csv", b.Bytes()), o) })
	defer res.Cleanup()
	if len(res.Columns) != 2000 || res.Report.RowsStored != 300 {
		t.Fatalf("%d columns, %d rows", len(res.Columns), res.Report.RowsStored)
	}
	t.Logf("a 2,000-column file of 300 rows allocated %d MB", n>>20)
	if n > 1<<30 {
		t.Errorf("a 2,000-column file of 300 rows allocated %d MB", n>>20)
	}
}

// A quotation mark left open makes one record of many short lines: the
// record limit stops it as it is read (a limit on lines alone did not).
func TestOpenQuoteRecordRefused(t *testing.T) {
	data := "a,b\n1,\"" + strings.Repeat("x\n", 40_000) + "\n2,y\n"
	o := opts()
	o.TempDir = t.TempDir()
	o.MaxFieldBytes = 16 << 10
	_, err := Convert(context.Background(), writeFile(t, "quote.csv", []byte(data)), o)
	var p *Problem
	if !errors.As(err, &p) || p.Code != "record_too_large" || p.Params["row"] != "2" || p.Params["limit"] != "65536" {
		t.Fatalf("got %v", err)
	}
	if zh := ErrorText(i18n.ZH, err); !strings.Contains(zh, "quote.csv: 第 2 行起的一条记录超过 65536 字节") {
		t.Errorf("zh: %s", zh)
	}
	nothingLeft(t, o.TempDir)
}

// Failures of our own are told as such, never with their Go text.
func TestErrorTextHidesInternalCauses(t *testing.T) {
	err := &FileError{File: "a.csv", Err: errors.New("open /var/lib/opendata/tmp/x: permission denied")}
	text, internal := Explain(i18n.EN, err)
	if !internal || strings.Contains(text, "/var/lib") || !strings.Contains(text, "internal error") {
		t.Fatalf("%v %q", internal, text)
	}
	if text, internal := Explain(i18n.ZH, panicError("boom")); !internal || strings.Contains(text, "boom") {
		t.Fatalf("%v %q", internal, text)
	}
}
