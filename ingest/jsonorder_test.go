package ingest

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"opendata/i18n"
)

// JSON and NDJSON columns come in the order their keys first appear; a
// key few objects carry comes after, with a warning; the same file gives
// the same schema byte for byte, every run (map iteration made it vary).
func TestJSONColumnOrderStable(t *testing.T) {
	var js, nd strings.Builder
	js.WriteString("[")
	for i := 0; i < 40; i++ {
		extra := ""
		if i == 6 || i == 20 {
			extra = `,"备注":"补报"`
		}
		missing := fmt.Sprintf(`,"o3":%d`, i)
		if i == 3 {
			missing = "" // a missing key: still a regular column
		}
		rec := fmt.Sprintf(`{"time":"2024-01-01 %02d:00:00","aqi":%d%s,"level":"良","station":"站%d"%s,"pm25":%d}`, i%24, 50+i, missing, i%5, extra, i)
		if i > 0 {
			js.WriteString(",")
		}
		js.WriteString(rec)
		nd.WriteString(rec + "\n")
	}
	js.WriteString("]")
	want := []string{"time", "aqi", "o3", "level", "station", "pm25", "备注"}
	for _, f := range []struct{ name, data string }{{"air.json", js.String()}, {"air.ndjson", nd.String()}} {
		var first []byte
		for run := 0; run < 5; run++ {
			o := opts()
			o.TempDir = t.TempDir()
			res := convertOK(t, writeFile(t, f.name, []byte(f.data)), o)
			var got []string
			for _, c := range res.Columns {
				got = append(got, c.Name)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s run %d: columns %v, want %v", f.name, run, got, want)
			}
			schema, err := os.ReadFile(res.Files["schema.json"])
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = schema
			} else if !bytes.Equal(first, schema) {
				t.Fatalf("%s run %d: schema.json differs from the first run", f.name, run)
			}
			var warned []string
			for _, w := range res.Report.Warnings {
				if w.Code == "sparse_key" {
					warned = append(warned, Describe(i18n.ZH, w), Describe(i18n.EN, w))
				}
			}
			if len(warned) != 2 || warned[0] != "字段“备注”只有 2 条记录（共 40 条）有，首次出现在第 7 条记录，已排在其他列之后" ||
				warned[1] != `field "备注" is in only 2 of 40 records, first in record 7; it comes after the other columns` {
				t.Fatalf("%s: warnings %q", f.name, warned)
			}
			rows, _ := readParquet(t, res.Files["full.parquet"])
			if rows[6]["备注"] != "补报" || rows[6]["pm25"] != "6" || rows[3]["o3"] != "<nil>" {
				t.Fatalf("%s: row 7 %v, row 4 %v", f.name, rows[6], rows[3])
			}
			res.Cleanup()
		}
	}
}

// Keys that the header cleans (white space around them, empty, the same
// name twice once trimmed) are read in the conversion as in the scan (the
// conversion looked the cleaned names up and failed the file).
func TestJSONKeysCleanedInTheHeader(t *testing.T) {
	o := opts()
	o.TempDir = t.TempDir()
	res := convertOK(t, writeFile(t, "k.json", []byte(`[{" a ":1,"":"x","a":2},{" a ":3,"":"y","a":4}]`)), o)
	var names []string
	for _, c := range res.Columns {
		names = append(names, c.Name)
	}
	rows, _ := readParquet(t, res.Files["full.parquet"])
	if strings.Join(names, ",") != "a,column_2,a_2" || res.Report.RowsStored != 2 || rows[1]["a"] != "3" || rows[1]["a_2"] != "4" || rows[1]["column_2"] != "y" {
		t.Fatalf("columns %v, rows %v", names, rows)
	}
}
