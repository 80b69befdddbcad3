package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"opendata/catalog"
)

// outputsOf is everything a conversion produces, in comparable form.
func outputsOf(t *testing.T, res *Result) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range []string{"open.csv", "quality.json", "schema.json"} {
		b, err := os.ReadFile(res.Files[name])
		if err != nil {
			t.Fatal(err)
		}
		out[name] = string(b)
	}
	for _, name := range []string{"full.parquet", "open.parquet"} {
		rows, sch := readParquet(t, res.Files[name])
		b, _ := json.Marshal(rows)
		out[name] = sch.String() + "\n" + string(b)
	}
	return out
}

// A file of many rows with every kind of finding: duplicates, key
// conflicts, rejected cells, invalid check digits, blank lines, a title row
// and a total row.
func findingsFile(rows int) string {
	var b strings.Builder
	b.WriteString("站点客流统计表\n编号,名称,证件号,客流,日期\n")
	sum := 0 // of the stored rows' 客流, for a true total row
	for i := 1; i <= rows; i++ {
		switch {
		case i%997 == 0:
			b.WriteString("3,站点3,11010519491231002X,3,2021-03-04\n") // a repeat of data row 3
		case i%991 == 0:
			fmt.Fprintf(&b, "%d,别的名称,11010519491231002X,%d,2021-03-04\n", i-1, i) // the key of the row before
			sum += i
		case i%503 == 0:
			fmt.Fprintf(&b, "%d,站点%d,11010519491231002X,五十,2021-03-04\n", i, i) // rejected: not a number
		case i%211 == 0:
			fmt.Fprintf(&b, "%d,站点%d,110105194912310021,1,2099-03-04\n", i, i) // flagged: check digit, future date
			sum++
		case i%499 == 0:
			b.WriteString("\n")
		default:
			fmt.Fprintf(&b, "%d,站点%d,11010519491231002X,%d,2021-03-%02d\n", i, i, i%700, 1+i%28)
			sum += i % 700
		}
	}
	fmt.Fprintf(&b, "合计,,,%d,\n", sum)
	return b.String()
}

var findingsItems = []catalog.Item{
	{Name: "编号", Type: "int"}, {Name: "名称", Type: "string"},
	{Name: "证件号", Type: "string", Check: "id_number"}, {Name: "客流", Type: "int"}, {Name: "日期", Type: "date", NotFuture: true},
}

// The one-pass conversion gives exactly what the scan-then-convert one
// gives, on a file with every kind of finding.
func TestOnePassMatchesTwoPasses(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		keys []string
	}{
		{"findings", findingsFile(20000), []string{"编号"}},
		{"findings without keys", findingsFile(3000), nil},
		{"bus stops", busStops, nil},
		{"register with personal data", registerFile(6000), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, "f.csv", []byte(tc.data))
			items := findingsItems
			if tc.name == "bus stops" {
				items = []catalog.Item{{Name: "站点编号", Type: "int"}, {Name: "站点名称", Type: "string"}, {Name: "线路数", Type: "int"},
					{Name: "日均客流", Type: "decimal"}, {Name: "开通日期", Type: "date", NotFuture: true}, {Name: "负责人身份证", Type: "string"},
					{Name: "联系电话", Type: "string"}, {Name: "经度", Type: "decimal"}}
			}
			if strings.HasPrefix(tc.name, "register") {
				items = registerItems
			}
			one := opts(items...)
			one.KeyColumns = tc.keys
			two := one
			two.DedupMemoryBytes = 1024 // too little for a table: scan and sort
			r1, r2 := convertOK(t, p, one), convertOK(t, p, two)
			if r1.passes != 1 || r2.passes != 2 {
				t.Fatalf("passes %d and %d, want 1 and 2", r1.passes, r2.passes)
			}
			o1, o2 := outputsOf(t, r1), outputsOf(t, r2)
			for k := range o2 {
				if o1[k] != o2[k] {
					t.Errorf("%s differs:\none pass:   %.600s\ntwo passes: %.600s", k, o1[k], o2[k])
				}
			}
			if tc.name == "findings" {
				rep := r1.Report
				if rep.Duplicates.Count == 0 || rep.KeyConflicts.Count == 0 || rep.RejectedByCode["not_a_number"] == 0 || rep.Columns[2].Invalid == 0 || rep.Columns[4].Invalid == 0 {
					t.Fatalf("the file should have every finding: %+v", rep)
				}
				if len(rep.Warnings) == 0 || rep.Warnings[len(rep.Warnings)-1].Code != "total_row_skipped" {
					t.Fatalf("warnings %+v", rep.Warnings)
				}
			}
		})
	}
}

// lateFile is a file of 30,000 rows whose 备注 holds plain remarks in the
// first sampleRows rows and late(i) after them.
func lateFile(t *testing.T, late func(i int) string) string {
	var b strings.Builder
	b.WriteString("编号,备注\n")
	for i := 1; i <= 30000; i++ {
		if i <= sampleRows {
			fmt.Fprintf(&b, "%d,备注%d\n", i, i)
		} else {
			fmt.Fprintf(&b, "%d,%s\n", i, late(i))
		}
	}
	return writeFile(t, "late.csv", []byte(b.String()))
}

// Personal data that the first rows do not show is still found: the one
// pass notices that every row disagrees with its sample and the file is
// converted again with a scan, so nothing leaves unmasked.
func TestOnePassDetectionDisagreementFallsBack(t *testing.T) {
	res := convertOK(t, lateFile(t, func(int) string { return "11010519491231002X" }), opts(catalog.Item{Name: "编号", Type: "int"}, catalog.Item{Name: "备注", Type: "string"}))
	if res.passes != 2 {
		t.Fatalf("passes %d, want 2", res.passes)
	}
	if res.Columns[1].Open != "masked" || res.Columns[1].Detected != "id_number" {
		t.Fatalf("column %+v", res.Columns[1])
	}
	csvb, _ := os.ReadFile(res.Files["open.csv"])
	if bytes.Contains(csvb, []byte("11010519491231002X")) || !bytes.Contains(csvb, []byte("110105********002X")) {
		t.Fatal("the late ID numbers are not masked in open.csv")
	}
}

// When the first rows are much longer than the rest, the row estimate is
// low; the table outgrows its budget and the file is converted with the
// sort instead, still finding the duplicate at the end.
func TestOnePassTableOverflowFallsBack(t *testing.T) {
	var b strings.Builder
	b.WriteString("编号,说明\n")
	long := strings.Repeat("很长的说明文字", 60)
	for i := 1; i <= 40000; i++ {
		if i <= sampleRows {
			fmt.Fprintf(&b, "%d,%s\n", i, long)
		} else {
			fmt.Fprintf(&b, "%d,短\n", i)
		}
	}
	b.WriteString("40000,短\n")
	o := opts(catalog.Item{Name: "编号", Type: "int"}, catalog.Item{Name: "说明", Type: "string"})
	o.DedupMemoryBytes = 256 << 10
	res := convertOK(t, writeFile(t, "skew.csv", []byte(b.String())), o)
	if res.passes != 2 {
		t.Fatalf("passes %d, want 2", res.passes)
	}
	if d := res.Report.Duplicates; d.Count != 1 || d.Rows[0] != 40002 {
		t.Fatalf("duplicates %+v", d)
	}
}

// Columns without a declared type are inferred from every row: two passes.
func TestUndeclaredColumnsTakeTwoPasses(t *testing.T) {
	res := convertOK(t, writeFile(t, "u.csv", []byte("a,b\n1,x\n2,y\n")), opts(catalog.Item{Name: "a", Type: "int"}))
	if res.passes != 2 {
		t.Fatalf("passes %d, want 2", res.passes)
	}
	all := convertOK(t, writeFile(t, "u.csv", []byte("a,b\n1,x\n2,y\n")), opts(catalog.Item{Name: "a", Type: "int"}, catalog.Item{Name: "b", Type: "string"}))
	if all.passes != 1 || !reflect.DeepEqual(all.Report.RowsStored, int64(2)) {
		t.Fatalf("passes %d stored %d", all.passes, all.Report.RowsStored)
	}
}

func TestDedupTable(t *testing.T) {
	tb, ok := newDedupTable(10, 1<<20, true, 42)
	if !ok {
		t.Fatal("no table")
	}
	for i := uint64(1); i <= 5000; i++ { // grows past its first size
		if v, _, fits := tb.check(i, i*7, uint32(i)); v != 0 || !fits {
			t.Fatalf("new key %d: verdict %d fits %v", i, v, fits)
		}
	}
	if v, first, _ := tb.check(17, 17*7, 9000); v != ddDup || first != 17 {
		t.Fatalf("repeat: %d %d", v, first)
	}
	if v, first, _ := tb.check(17, 1, 9001); v != ddConflict || first != 17 {
		t.Fatalf("conflict: %d %d", v, first)
	}
	zero, _ := newDedupTable(10, 1<<20, false, 7)
	if v, _, _ := zero.check(0, 0, 1); v != 0 {
		t.Fatalf("zero key, first time: %d", v)
	}
	if v, first, _ := zero.check(0, 0, 2); v != ddDup || first != 1 { // a zero hash is a key like any other
		t.Fatalf("zero key again: %d %d", v, first)
	}
	small, _ := newDedupTable(10, 20*1500, true, 1)
	fits := true
	for i := uint64(1); fits && i < 10000; i++ {
		_, _, fits = small.check(i, i, uint32(i))
	}
	if fits {
		t.Fatal("a table past its budget must say so")
	}
	if _, ok := newDedupTable(1_000_000, 1<<20, false, 1); ok {
		t.Fatal("a million rows do not fit in 1 MiB")
	}
}

// The outputs and the report do not depend on how many workers convert
// the batches or how small the batches are.
func TestPipelineIndependentOfWorkersAndBatches(t *testing.T) {
	p := writeFile(t, "f.csv", []byte(findingsFile(12000)))
	convertWith := func(procs, batch int) map[string]string {
		old := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(old)
		o := opts(findingsItems...)
		o.KeyColumns = []string{"编号"}
		o.BatchRows = batch
		return outputsOf(t, convertOK(t, p, o))
	}
	want := convertWith(1, 1<<20) // one worker, one batch
	for _, tc := range []struct{ procs, batch int }{{2, 8192}, {4, 100}, {3, 7}} {
		got := convertWith(tc.procs, tc.batch)
		for k := range want {
			if got[k] != want[k] {
				t.Errorf("%d workers, batches of %d: %s differs:\n got  %.400s\n want %.400s", tc.procs, tc.batch, k, got[k], want[k])
			}
		}
	}
}

// Cancelling while the pipeline runs stops it and leaves nothing behind.
func TestCancelDuringConversion(t *testing.T) {
	p := writeFile(t, "f.csv", []byte(findingsFile(60000)))
	for _, budget := range []int64{32 << 20, 1024} { // one pass, two passes
		ctx, cancel := context.WithCancel(context.Background())
		o := opts(findingsItems...)
		o.TempDir = t.TempDir()
		o.DedupMemoryBytes = budget
		o.BatchRows = 512
		o.Progress = func(pr Progress) {
			if pr.Phase == "convert" {
				cancel()
			}
		}
		before := runtime.NumGoroutine()
		if _, err := Convert(ctx, p, o); !errors.Is(err, context.Canceled) {
			t.Fatalf("budget %d: got %v", budget, err)
		}
		nothingLeft(t, o.TempDir)
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			t.Fatalf("budget %d: %d goroutines left running (was %d)", budget, n, before)
		}
		cancel()
	}
}

// A file that turns bad after the first rows fails with the line, and
// publishes nothing, in the one-pass mode too.
func TestOnePassBadInputAfterTheHead(t *testing.T) {
	data := []byte(findingsFile(10000))
	cut := bytes.Index(data, []byte("\n9000,"))
	bad := append(append(append([]byte{}, data[:cut+1]...), 0xff, 0xfe, ','), data[cut+1:]...)
	o := opts(findingsItems...)
	o.TempDir = t.TempDir()
	_, err := Convert(context.Background(), writeFile(t, "bad.csv", bad), o)
	if !errors.Is(err, ErrMixedEncoding) || !strings.Contains(err.Error(), "line 9") {
		t.Fatalf("got %v", err)
	}
	nothingLeft(t, o.TempDir)
}

// The row estimate that decides between one read and two holds for GBK
// files too, whose decoded text is larger than the file.
func TestEstimateRows(t *testing.T) {
	var b strings.Builder
	b.WriteString("编号,名称\n")
	for i := 1; i <= 50000; i++ {
		fmt.Fprintf(&b, "%d,恩施市舞阳坝街道办事处居民委员会第%d网格\n", i, i%97)
	}
	text := b.String()
	for name, data := range map[string][]byte{"utf-8": []byte(text), "gbk": gbk(t, text)} {
		p := writeFile(t, "f.csv", data)
		o := opts(catalog.Item{Name: "编号", Type: "int"}, catalog.Item{Name: "名称", Type: "string"})
		o.defaults()
		cr, err := openCSV(p, o)
		if err != nil {
			t.Fatal(err)
		}
		sr, err := scanHead(context.Background(), &recorder{inner: cr}, "csv", o, fileSize(p))
		if err != nil {
			t.Fatal(err)
		}
		got := estimateRows(sr, cr)
		cr.Close()
		if got < 50000 || got > 50000*13/10 {
			t.Errorf("%s (%s): estimated %d rows for about 50,000", name, sr.encoding, got)
		}
	}
}

// A panic while converting (here in the progress callback, which the
// dispatcher calls) becomes an error; nothing is left behind and the
// process lives on.
func TestPanicBecomesError(t *testing.T) {
	p := writeFile(t, "f.csv", []byte(findingsFile(3000)))
	for _, budget := range []int64{32 << 20, 1024} {
		o := opts(findingsItems...)
		o.TempDir = t.TempDir()
		o.DedupMemoryBytes = budget
		o.Progress = func(pr Progress) {
			if pr.Phase == "convert" {
				panic("boom")
			}
		}
		res, err := Convert(context.Background(), p, o)
		if err == nil || res != nil || !strings.Contains(err.Error(), "internal error while converting: boom") {
			t.Fatalf("budget %d: res %v err %v", budget, res, err)
		}
		nothingLeft(t, o.TempDir)
	}
}
