package query_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"opendata/blob"
	"opendata/csvsafe"
	"opendata/errs"
	"opendata/query"
)

func TestParquetCSV(t *testing.T) {
	bs, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	putSQL(t, bs, "v1/full.parquet", `SELECT * FROM (VALUES
		(1, '张三', '=HYPERLINK("x")', TIMESTAMP '2025-03-01 02:30:00'),
		(2, NULL, '普通', NULL)) AS t(id, 姓名, 备注, 登记时间)`)
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	p := query.ParquetCSV{Blobs: bs, TempDir: t.TempDir(), Location: sh}
	for _, c := range []struct {
		name string
		cols []string
		want string
	}{
		{"every column", nil, "id,姓名,备注,登记时间\n" +
			"1,张三,\"" + strings.ReplaceAll(csvsafe.Cell(`=HYPERLINK("x")`), `"`, `""`) + "\",2025-03-01 10:30:00\n" + "2,,普通,\n"},
		{"the columns granted, in their order", []string{"登记时间", "id", "不存在"}, "登记时间,id\n2025-03-01 10:30:00,1\n,2\n"},
	} {
		var b bytes.Buffer
		if err := p.Write(context.Background(), &b, "v1/full.parquet", c.cols); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := b.String()
		if want := "\uFEFF" + c.want; got != want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, want)
		}
	}
	var b bytes.Buffer
	if err := p.Write(context.Background(), &b, "v1/missing.parquet", nil); !errors.Is(err, errs.NotFound) || b.Len() != 0 {
		t.Fatalf("missing object: %v, wrote %q", err, b.String())
	}
}
