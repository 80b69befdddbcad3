package ingest

import (
	"bytes"
	"encoding/csv"
	"testing"

	"opendata/csvsafe"
)

// refCSV is encoding/csv's Writer on one record (line breaks inside quotes
// as they are: UseCRLF false) ended by CRLF, as open.csv's records end.
func refCSV(t *testing.T, rec []string) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(csvsafe.Record(append([]string(nil), rec...))); err != nil {
		return nil, err
	}
	w.Flush()
	return append(bytes.TrimSuffix(b.Bytes(), []byte("\n")), '\r', '\n'), nil
}

func TestAppendCSVRecordMatchesEncodingCSV(t *testing.T) {
	recs := [][]string{
		{"a", "b", ""},
		{"逗号,在内", `引号"在内`, "多\n行", "回车\r\n换行", "\r"},
		{" 前导空格", "\t制表", "\u3000全角空格", "\u00a0nbsp", `\.`, `\.x`},
		{"", "", ""},
		{"普通中文", "123.45", "2025-01-01 08:00:00"},
		{"=1+1", "-12.5", "@x", "'引号", "+3", "-"},
	}
	var want, got []byte
	for _, r := range recs {
		ref, err := refCSV(t, r)
		if err != nil {
			t.Fatal(err)
		}
		want, got = append(want, ref...), appendCSVRecord(got, r)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	if !bytes.Contains(got, []byte("\"多\n行\",\"回车\r\n换行\",\"'\r\"")) {
		t.Fatalf("line breaks inside quotes changed: %q", got)
	}
}

func FuzzAppendCSVRecord(f *testing.F) {
	f.Add("a", "b,c", "\"d\"\r\n")
	f.Add(" x", "\u3000y", `\.`)
	f.Fuzz(func(t *testing.T, a, b, c string) {
		want, err := refCSV(t, []string{a, b, c})
		if err != nil {
			t.Skip() // encoding/csv refuses some inputs (invalid delimiters); so never would we
		}
		if got := appendCSVRecord(nil, []string{a, b, c}); !bytes.Equal(got, want) {
			t.Fatalf("got %q want %q", got, want)
		}
	})
}

func BenchmarkCSVNeedsQuotes(b *testing.B) {
	fields := []string{"9142280173B1KQ2X8M", "王伟", "422801199001011234", "13800000000", "恩施市学院路254号", "有限责任公司", "313583.74", "2012-12-23", "2025-01-04 01:08:15"}
	for i := 0; i < b.N; i++ {
		for _, f := range fields {
			csvNeedsQuotes(f)
		}
	}
}
