// Command searchcpu times the CPU cost of the embedded search in process on
// an index kept by bench/portal (-index DIR), uncached (facet counts
// computed) and cached, per query: on a shared machine CPU time is steadier
// than wall-clock latency.
//
//	go run ./bench/portal -rows 0 -index /tmp/idx100k   # once, builds the index
//	go run ./bench/searchcpu -index /tmp/idx100k
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"syscall"
	"time"

	"opendata/search"
	"opendata/synonyms"
)

var queries = []string{"公交站点", "医疗 床位", "养老机构", "空气质量", "学校", "企业 信用", "旅游景区", "农产品价格", "气象 预警", "停车场",
	"统计 年报", "行政处罚", "食品经营许可", "交通", "卫生", "站", "恩施 景区", "地质灾害", "图书馆", "PM2.5"}

func cpu() time.Duration {
	var r syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

func main() {
	dir := flag.String("index", "", "index directory kept by bench/portal -index")
	prof := flag.String("cpuprofile", "", "write a CPU profile to this file")
	mode := flag.String("mode", "both", "cold, warm or both")
	n := flag.Int("n", 3, "runs of each query (the median is printed)")
	flag.Parse()
	ctx := context.Background()
	idx, err := search.OpenBleve(*dir)
	if err != nil {
		panic(err)
	}
	f, err := os.Open("synonyms/seed.csv") // run from the repository root
	if err != nil {
		panic(err)
	}
	entries, err := synonyms.ParseCSV(f)
	if err != nil {
		panic(err)
	}
	dict := search.NewDictionary(entries)
	idx.SetSynonyms(ctx, dict)
	for _, q := range queries { // warm up the OS cache
		idx.Search(ctx, search.Query{Text: q})
	}
	if *prof != "" {
		pf, _ := os.Create(*prof)
		pprof.StartCPUProfile(pf)
		defer pprof.StopCPUProfile()
	}
	var coldAll, warmAll []time.Duration
	for _, q := range queries {
		var cold, warm []time.Duration
		var total int
		for range *n {
			if *mode != "warm" {
				idx.SetSynonyms(ctx, dict)
				c := cpu()
				r, err := idx.Search(ctx, search.Query{Text: q})
				if err != nil {
					panic(err)
				}
				total = r.Total
				cold = append(cold, cpu()-c)
			}
			if *mode != "cold" {
				c := cpu()
				idx.Search(ctx, search.Query{Text: q})
				warm = append(warm, cpu()-c)
			}
		}
		coldAll = append(coldAll, cold...)
		warmAll = append(warmAll, warm...)
		fmt.Printf("%-10s total %6d  cold cpu %7.2f ms  warm cpu %7.2f ms\n", q, total, ms(med(cold)), ms(med(warm)))
	}
	fmt.Printf("ALL cold med %.2f max %.2f; warm med %.2f max %.2f (CPU ms)\n", ms(med(coldAll)), ms(mx(coldAll)), ms(med(warmAll)), ms(mx(warmAll)))
}

func med(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration{}, d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
func mx(d []time.Duration) time.Duration {
	var m time.Duration
	for _, x := range d {
		m = max(m, x)
	}
	return m
}
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
