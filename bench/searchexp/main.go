// Command searchexp times searches on an index built by bench/portal -index,
// before and after merging its segments (a tuning tool, not a benchmark of
// record).
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"time"

	"opendata/search"
)

func main() {
	idx, err := search.OpenBleve(os.Args[1])
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	qs := []string{"医疗 床位", "气象 预警", "统计 年报", "停车场", "图书馆", "恩施 景区", "学校", "站"}
	run := func(label string) {
		var lat []time.Duration
		for r := 0; r < 10; r++ {
			for _, q := range qs {
				start := time.Now()
				idx.Search(ctx, search.Query{Text: q})
				lat = append(lat, time.Since(start))
			}
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		fmt.Printf("%s: p50 %v p99 %v\n", label, lat[len(lat)/2], lat[len(lat)*99/100])
	}
	run("as built")
	start := time.Now()
	if err := idx.Optimize(ctx); err != nil {
		panic(err)
	}
	fmt.Printf("merged in %v\n", time.Since(start))
	run("merged")
}
