// Command searchexp times parts of a catalog search on an index built by
// bench/portal -index (a tool for tuning, not a benchmark of record).
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/blevesearch/bleve/v2"

	"opendata/search"
)

func main() {
	idx, err := search.OpenBleve(os.Args[1])
	if err != nil {
		panic(err)
	}
	raw := search.RawIndex(idx)
	t := func(name string, req *bleve.SearchRequest) {
		raw.Search(req)
		start := time.Now()
		var res *bleve.SearchResult
		for i := 0; i < 10; i++ {
			res, _ = raw.Search(req)
		}
		fmt.Printf("%-44s %6.1f ms  total %d\n", name, float64(time.Since(start).Microseconds())/10000, res.Total)
	}
	for _, q := range os.Args[2:] {
		full := search.TextQueryForBench(q)
		t(q+": query only", bleve.NewSearchRequest(full))
		r := bleve.NewSearchRequest(full)
		r.AddFacet("facet", bleve.NewFacetRequest("facet", 10000))
		t(q+": + facet", r)
		r = bleve.NewSearchRequest(full)
		r.Fields = []string{"*"}
		t(q+": + stored fields", r)
		r = bleve.NewSearchRequest(full)
		r.Size = 0
		t(q+": count only", r)
	}
	start := time.Now()
	res, _ := idx.Search(context.Background(), search.Query{Text: "学校"})
	fmt.Printf("full Search(学校): %.1f ms, total %d\n", float64(time.Since(start).Microseconds())/1000, res.Total)
}
