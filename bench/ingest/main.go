// Command ingest benchmarks the ingest pipeline on generated, realistic
// government data (IDs, names, Chinese text, decimals, dates) and, in the
// same run, the same file converted by raw arrow-go (CSV → Parquet, nothing
// else), so the pipeline's overhead is a ratio.
//
//	go run ./bench/ingest -rows 1000000          # throughput
//	go run ./bench/ingest -size 1024 -only pipeline  # peak RSS on a ~1 GB file
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"opendata/catalog"
	"opendata/demo"
	"opendata/ingest"
)

func main() {
	rows := flag.Int("rows", 1_000_000, "rows to generate (ignored with -size)")
	sizeMB := flag.Int("size", 0, "generate about this many MB instead of -rows")
	only := flag.String("only", "", "run only 'pipeline' or 'arrow'")
	keep := flag.String("file", "", "reuse/keep the generated CSV at this path")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the pipeline")
	memprofile := flag.String("memprofile", "", "write an allocation profile at the end")
	flag.Parse()
	if *memprofile != "" {
		runtime.MemProfileRate = 64 << 10
		defer func() {
			if pf, err := os.Create(*memprofile); err == nil {
				pprof.Lookup("allocs").WriteTo(pf, 0)
				pf.Close()
			}
		}()
	}
	if *cpuprofile != "" {
		pf, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		pprof.StartCPUProfile(pf)
		defer pprof.StopCPUProfile()
	}

	dir, _ := os.MkdirTemp("", "bench-ingest-")
	defer os.RemoveAll(dir)
	path := *keep
	if path == "" {
		path = filepath.Join(dir, "data.csv")
	}
	if _, err := os.Stat(path); err != nil {
		n, err := generate(path, *rows, int64(*sizeMB)<<20)
		if err != nil {
			fail(err)
		}
		*rows = n
	}
	st, _ := os.Stat(path)
	mb := float64(st.Size()) / (1 << 20)
	fmt.Printf("input: %s, %.1f MB, %d columns\n", filepath.Base(path), mb, 10)
	fmt.Printf("machine: %d CPUs, %s\n", runtime.NumCPU(), runtime.Version())

	if *only != "arrow" {
		loc, _ := time.LoadLocation("Asia/Shanghai")
		start := time.Now()
		res, err := ingest.Convert(context.Background(), path, ingest.Options{TempDir: dir, Location: loc, Items: items, KeyColumns: []string{"登记编号"},
			DedupMemoryBytes: 32 << 20})
		if err != nil {
			fail(err)
		}
		d := time.Since(start)
		r := res.Report
		fmt.Printf("pipeline: %d rows in %.2fs = %.0f rows/s, %.1f MB/s (stored %d, rejected %d, masked %v, dedup complete %v)\n",
			r.RowsRead, d.Seconds(), float64(r.RowsRead)/d.Seconds(), mb/d.Seconds(), r.RowsStored, r.RowsRejected, masked(res), r.Duplicates.Complete && r.KeyConflicts.Complete)
		var sizes []string
		for _, name := range []string{"full.parquet", "open.parquet", "open.csv"} {
			if st, err := os.Stat(res.Files[name]); err == nil {
				sizes = append(sizes, fmt.Sprintf("%s %.1f MB", name, float64(st.Size())/(1<<20)))
			}
		}
		fmt.Printf("outputs: %s\n", strings.Join(sizes, ", "))
		res.Cleanup()
		pipe := d
		if *only == "" {
			start = time.Now()
			n, err := rawArrow(path, filepath.Join(dir, "raw.parquet"))
			if err != nil {
				fail(err)
			}
			a := time.Since(start)
			fmt.Printf("raw arrow-go: %d rows in %.2fs = %.0f rows/s, %.1f MB/s\n", n, a.Seconds(), float64(n)/a.Seconds(), mb/a.Seconds())
			fmt.Printf("pipeline / raw arrow-go time: %.2fx\n", pipe.Seconds()/a.Seconds())
		}
	} else {
		start := time.Now()
		n, err := rawArrow(path, filepath.Join(dir, "raw.parquet"))
		if err != nil {
			fail(err)
		}
		a := time.Since(start)
		fmt.Printf("raw arrow-go: %d rows in %.2fs = %.0f rows/s\n", n, a.Seconds(), float64(n)/a.Seconds())
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("peak RSS: %.0f MB\n", float64(ru.Maxrss)/1024)
}

func masked(res *ingest.Result) []string {
	var out []string
	for _, c := range res.Columns {
		if c.Open != catalog.TreatKept {
			out = append(out, c.Name)
		}
	}
	return out
}

var items = []catalog.Item{
	{Name: "登记编号", Type: "int"},
	{Name: "统一社会信用代码", Type: "string", Check: "credit_code"},
	{Name: "姓名", Type: "string", Personal: true},
	{Name: "身份证号", Type: "string", Personal: true, Check: "id_number"},
	{Name: "联系电话", Type: "string", Personal: true, Check: "mobile"},
	{Name: "地址", Type: "string"},
	{Name: "类别", Type: "string", Enum: []string{"个体工商户", "有限责任公司", "股份有限公司", "农民专业合作社"}},
	{Name: "注册资本", Type: "decimal"},
	{Name: "登记日期", Type: "date", NotFuture: true},
	{Name: "更新时间", Type: "timestamp"},
}

var streets = []string{"施州大道", "航空大道", "舞阳大街", "民族路", "学院路", "金桂大道", "土桥大道", "清江路", "沿江路", "耀华路"}
var surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗向谭田")
var given = []string{"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英"}
var kinds = []string{"个体工商户", "有限责任公司", "股份有限公司", "农民专业合作社"}

func generate(path string, rows int, size int64) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	w.WriteString("登记编号,统一社会信用代码,姓名,身份证号,联系电话,地址,类别,注册资本,登记日期,更新时间\n")
	var written int64
	n := 0
	for i := 1; ; i++ {
		if size > 0 && written >= size || size == 0 && i > rows {
			break
		}
		line := fmt.Sprintf("%d,%s,%c%s,%s,1%d%09d,恩施市%s%d号,%s,\"%s\",%d-%02d-%02d,2025-%02d-%02d %02d:%02d:%02d\n",
			i, demo.CreditCode(rng), surnames[rng.IntN(len(surnames))], given[rng.IntN(len(given))], demo.IDNumber(rng, "422801"),
			3+rng.IntN(7), rng.IntN(1e9), streets[rng.IntN(len(streets))], 1+rng.IntN(999), kinds[rng.IntN(len(kinds))],
			thousands(rng.IntN(100000000)), 1990+rng.IntN(35), 1+rng.IntN(12), 1+rng.IntN(28), 1+rng.IntN(10), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60))
		k, _ := w.WriteString(line)
		written += int64(k)
		n++
	}
	return n, w.Flush()
}

func thousands(cents int) string {
	yuan := cents / 100
	s := fmt.Sprint(yuan)
	out := ""
	for len(s) > 3 {
		out = "," + s[len(s)-3:] + out
		s = s[:len(s)-3]
	}
	return fmt.Sprintf("%s%s.%02d", s, out, cents%100)
}

// rawArrow is the baseline: arrow-go's CSV reader with type inference
// straight into a Parquet writer.
func rawArrow(in, out string) (int64, error) {
	f, err := os.Open(in)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := csv.NewInferringReader(f, csv.WithHeader(true), csv.WithChunk(64<<10), csv.WithNullReader(true, ""),
		csv.WithColumnTypes(map[string]arrow.DataType{"身份证号": arrow.BinaryTypes.String, "联系电话": arrow.BinaryTypes.String}))
	defer r.Release()
	o, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	defer o.Close()
	var fw *pqarrow.FileWriter
	var n int64
	for r.Next() {
		rec := r.RecordBatch()
		if fw == nil {
			fw, err = pqarrow.NewFileWriter(rec.Schema(), o, parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy)),
				pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(memory.DefaultAllocator)))
			if err != nil {
				return 0, err
			}
		}
		if err := fw.Write(rec); err != nil {
			return 0, err
		}
		n += rec.NumRows()
	}
	if err := r.Err(); err != nil && err != io.EOF {
		return n, err
	}
	if fw != nil {
		return n, fw.Close()
	}
	return n, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
