package ingest

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"opendata/catalog"
	"opendata/csvsafe"
	"opendata/ingest/ingesttest"
)

// readCSVExact parses open.csv without changing a byte of a value
// (encoding/csv's Reader turns \r\n inside quotes into \n, which would hide
// the very change this checks): the header and the records.
func readCSVExact(t *testing.T, data []byte) [][]string {
	t.Helper()
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	var out [][]string
	var rec []string
	var field []byte
	for i := 0; i < len(data); {
		switch c := data[i]; {
		case c == '"' && len(field) == 0:
			i++
			for {
				if i >= len(data) {
					t.Fatalf("open quote at the end of open.csv")
				}
				if data[i] == '"' {
					if i+1 < len(data) && data[i+1] == '"' {
						field, i = append(field, '"'), i+2
						continue
					}
					i++
					break
				}
				field, i = append(field, data[i]), i+1
			}
		case c == ',':
			rec, field, i = append(rec, string(field)), field[:0], i+1
		case c == '\r' && i+1 < len(data) && data[i+1] == '\n':
			out, rec, field, i = append(out, append(rec, string(field))), nil, field[:0], i+2
		default:
			field, i = append(field, c), i+1
		}
	}
	return out
}

// Every output holds the value read from the file: for each fixture, each
// text cell of open.csv (read back exactly, the spreadsheet apostrophe
// removed with csvsafe.Unescape) equals open.parquet's and the source's —
// line breaks (\n, \r\n, a lone \r), quotes, tabs and formula-like text
// included (issue 11 item 9).
func TestOutputsHoldTheValuesRead(t *testing.T) {
	src := [][]string{
		{"名称", "说明", "数量"},
		{"火车站,北广场", "第一行\n第二行", "3"},
		{"引号\"在内", "回车\r\n换行", "4"},
		{"=1+1", "单独\r回车", "5"},
		{"制表\t在中", "@备注 -1", "6"},
	}
	csvText := func(eol string) []byte {
		var out []byte
		for _, r := range src {
			var line []byte
			for i, v := range r {
				if i > 0 {
					line = append(line, ',')
				}
				if strings.ContainsAny(v, ",\"\r\n") {
					v = `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
				}
				line = append(line, v...)
			}
			out = append(append(out, line...), eol...)
		}
		return out
	}
	var js, nd bytes.Buffer
	js.WriteString("[")
	for i, r := range src[1:] {
		obj := map[string]string{}
		for c, name := range src[0] {
			obj[name] = r[c]
		}
		b, _ := json.Marshal(obj)
		if i > 0 {
			js.WriteString(",")
		}
		js.Write(b)
		nd.Write(append(b, '\n'))
	}
	js.WriteString("]")
	var xl bytes.Buffer
	if err := ingesttest.XLSX(&xl, ingesttest.Sheet{Name: "数据", Rows: src}); err != nil {
		t.Fatal(err)
	}
	fixtures := []struct {
		name string
		data []byte
		// The CSV reader gives \r\n inside quotes as \n (RFC 4180 line
		// breaks); that is the value read, and what every output must hold.
		crlfRead string
	}{
		{"lf.csv", csvText("\n"), "\n"},
		{"crlf.csv", csvText("\r\n"), "\n"},
		{"d.json", js.Bytes(), "\r\n"},
		{"d.ndjson", nd.Bytes(), "\r\n"},
		{"d.xlsx", xl.Bytes(), "\r\n"},
	}
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			o := opts()
			o.TempDir = t.TempDir()
			res := convertOK(t, writeFile(t, f.name, f.data), o)
			csvData, err := os.ReadFile(res.Files["open.csv"])
			if err != nil {
				t.Fatal(err)
			}
			back := readCSVExact(t, csvData)
			pq, _ := readParquet(t, res.Files["open.parquet"])
			if len(back) != len(src) || len(pq) != len(src)-1 {
				t.Fatalf("open.csv %d records, open.parquet %d rows: %q", len(back), len(pq), back)
			}
			at := map[string]int{}
			for i, name := range back[0] {
				at[name] = i
			}
			types := map[string]string{}
			for _, c := range res.Columns {
				types[c.Name] = string(c.Type)
			}
			for i, want := range src[1:] {
				for c, name := range src[0] {
					if types[name] != string(catalog.ColString) {
						continue
					}
					w := strings.ReplaceAll(want[c], "\r\n", f.crlfRead)
					got := csvsafe.Unescape(back[i+1][at[name]])
					if got != w || pq[i][name] != w {
						t.Errorf("row %d %s: source %q, open.csv %q, open.parquet %q", i+1, name, w, got, pq[i][name])
					}
				}
			}
		})
	}
}
