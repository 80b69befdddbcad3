// Command relevance measures the catalog search on the judged set in
// search/testdata/relevance: it loads the catalog through the real indexing
// path (catalog entries, versions, review, publication) into a fresh
// database and index, runs every judged query and prints nDCG@10, MRR and
// recall@10, overall and by class of query.
//
//	go run ./bench/relevance            # scores
//	go run ./bench/relevance -v         # and every query's first ten results
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"opendata/auth"
	"opendata/catalog"
	"opendata/db"
	"opendata/publish"
	"opendata/search"
	"opendata/search/relevance"
	"opendata/synonyms"
)

func main() {
	dir := flag.String("set", "search/testdata/relevance", "directory of the judged set")
	verbose := flag.Bool("v", false, "print every query's ranking")
	flag.Parse()
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "bench-relevance-")
	check(err)
	defer os.RemoveAll(tmp)
	cat, qs, err := relevance.Load(*dir)
	check(err)
	d, err := db.Open(ctx, "", filepath.Join(tmp, "r.db"))
	check(err)
	defer d.Close()
	check(d.Migrate(ctx))
	idx, err := search.OpenBleve(filepath.Join(tmp, "index"))
	check(err)
	defer idx.Close()
	store := &synonyms.Store{DB: d}
	check(store.SeedIfEmpty(ctx))
	dict, err := store.Dictionary(ctx)
	check(err)
	check(idx.SetSynonyms(ctx, dict))
	svc := &publish.Service{DB: d, Catalog: &catalog.Store{DB: d}, Index: idx, Approver: "dept_admin"}
	start := time.Now()
	check(relevance.Build(ctx, svc, &auth.Store{DB: d}, cat))
	fmt.Printf("judged set: %d entries, %d queries, %d synonym entries; loaded through the publication path in %.1fs\n",
		len(cat.Entries), len(qs), dict.Len(), time.Since(start).Seconds())
	rep, err := relevance.Evaluate(ctx, idx, qs)
	check(err)
	if *verbose {
		for _, r := range rep.Queries {
			var marks []string
			for _, c := range r.Ranked {
				marks = append(marks, fmt.Sprintf("%s(%d)", c, r.Relevant[c]))
			}
			fmt.Printf("%-12s %-16s nDCG %.3f  %s\n", r.Class, r.Q, r.NDCG, strings.Join(marks, " "))
		}
	}
	fmt.Printf("\n%-12s %8s %8s %10s %8s\n", "class", "queries", "nDCG@10", "recall@10", "MRR")
	n := map[string]int{}
	for _, r := range rep.Queries {
		n[r.Class]++
	}
	for _, c := range relevance.Classes {
		s := rep.ByClass[c]
		fmt.Printf("%-12s %8d %8.3f %10.3f %8.3f\n", c, n[c], s.NDCG, s.Recall, s.MRR)
	}
	fmt.Printf("%-12s %8d %8.3f %10.3f %8.3f\n", "all", len(rep.Queries), rep.Overall.NDCG, rep.Overall.Recall, rep.Overall.MRR)
	fmt.Println("\ntargets: nDCG@10 ≥ 0.90 overall, no class below 0.80")
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "relevance:", err)
		os.Exit(1)
	}
}
