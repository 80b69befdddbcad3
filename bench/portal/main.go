// Command portal benchmarks the public side over HTTP on a real server:
// catalog search with 100,000 entries on the embedded index (20 realistic
// Chinese queries), and the dataset page of a 1,000,000-row version.
//
//	go run ./bench/portal                 # both
//	go run ./bench/portal -entries 100000 -rows 1000000
//	go run ./bench/portal -rows 0 -cpuprofile search.prof   # search only, profiled
//
// Search is timed three ways: the first run of each query (nothing cached:
// the facet counts are computed), the same queries with the facet cache
// cleared before every round (every request uncached), and repeated rounds
// (facet counts cached, as a portal serves popular searches).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"time"

	"opendata/app"
	"opendata/bench/fixture"
	"opendata/blob"
	"opendata/config"
	"opendata/db"
	"opendata/search"
	"opendata/server"
	"opendata/synonyms"
)

var queries = []string{"公交站点", "医疗 床位", "养老机构", "空气质量", "学校", "企业 信用", "旅游景区", "农产品价格", "气象 预警", "停车场",
	"统计 年报", "行政处罚", "食品经营许可", "交通", "卫生", "站", "恩施 景区", "地质灾害", "图书馆", "PM2.5"}

var words = []string{"公交", "站点", "线路", "医疗", "机构", "床位", "养老", "服务", "空气", "质量", "监测", "学校", "幼儿园", "企业", "信用", "登记",
	"旅游", "景区", "农产品", "价格", "气象", "预警", "停车场", "统计", "年报", "行政", "处罚", "食品", "经营", "许可", "地质", "灾害", "图书馆",
	"文物", "水质", "排污", "社会组织", "婚姻", "出租车", "道路", "运输", "专业合作社", "耕地", "消费", "指数", "人口", "地名", "不动产"}
var depts = []string{"JTJ", "WJW", "SCJ", "MZJ", "JYJ", "STJ", "WLJ", "NYJ", "TJJ", "QXJ", "ZRJ"}
var domains = []string{"transport", "medical", "health", "credit", "education", "environment", "tourism", "agriculture", "statistics", "meteorology", "geography", "elderly_care", "other"}
var periods = []string{"realtime", "daily", "weekly", "monthly", "quarterly", "yearly", "on_change"}
var towns = []string{"舞阳坝", "六角亭", "小渡船", "龙凤", "崔家坝", "板桥", "白杨坪", "三岔", "沙地", "红土", "太阳河", "屯堡", "新塘", "盛家坝", "芭蕉"}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func docs(n int) []search.Doc {
	r := rand.New(rand.NewPCG(7, 11))
	out := make([]search.Doc, n)
	for i := range out {
		title := pick(r, towns) + pick(r, words) + pick(r, words) + "信息"
		out[i] = search.Doc{ID: strconv.Itoa(i + 1), Code: fmt.Sprintf("%s-%05d", pick(r, depts), i), Title: title,
			Summary:  fmt.Sprintf("%s提供的%s%s数据，包含%s与%s。", pick(r, towns), pick(r, words), pick(r, words), pick(r, words), pick(r, words)),
			Keywords: []string{pick(r, words), pick(r, words)}, Items: []string{pick(r, words) + "名称", pick(r, words) + "编号", "地址", "更新日期"},
			DepartmentName: "市" + pick(r, words) + "局", Department: pick(r, depts), Domain: pick(r, domains), Format: []string{"csv", "parquet"},
			OpenType: []string{"unconditional", "unconditional", "on_application"}[r.IntN(3)], UpdatePeriod: pick(r, periods),
			Published: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(2000*24)) * time.Hour), Downloads: int64(r.IntN(10000))}
	}
	return out
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2], d[len(d)*99/100]
}

func measure(client *http.Client, urls []string, rounds int) ([]time.Duration, error) {
	var lat []time.Duration
	for r := 0; r < rounds; r++ {
		for _, u := range urls {
			start := time.Now()
			res, err := client.Get(u)
			if err != nil {
				return nil, err
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				return nil, fmt.Errorf("%s: %d", u, res.StatusCode)
			}
			lat = append(lat, time.Since(start))
		}
	}
	return lat, nil
}

func main() {
	entries := flag.Int("entries", 100_000, "catalog entries in the search index")
	rows := flag.Int("rows", 1_000_000, "rows of the dataset whose page is rendered (0: search only)")
	rounds := flag.Int("rounds", 25, "measured rounds of the 20 queries")
	keepIndex := flag.String("index", "", "build the search index at this path and keep it (later runs reuse it)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the search measurements to this file")
	flag.Parse()
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "bench-portal-")
	defer os.RemoveAll(dir)
	cfg, _ := config.Load("", []string{"OPENDATA_DATA_DIR=" + dir, "OPENDATA_ANON_RATE=1000000-S", "OPENDATA_ANON_DAILY=0"}) // measure pages, not limits
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := db.Open(ctx, "", filepath.Join(dir, "b.db"))
	check(err)
	check(d.Migrate(ctx))
	bs, err := blob.NewLocal(filepath.Join(dir, "blobs"))
	check(err)
	indexPath := filepath.Join(dir, "index.bleve")
	if *keepIndex != "" {
		indexPath = *keepIndex
	}
	idx, err := search.OpenBleve(indexPath)
	check(err)
	a, err := app.New(cfg, log, d, bs, idx)
	check(err)

	fmt.Printf("indexing %d catalog entries…\n", *entries)
	start := time.Now()
	all := docs(*entries)
	if n, _ := idx.Count(ctx); n < len(all) {
		for i := 0; i < len(all); i += 5000 {
			check(idx.Index(ctx, all[i:min(i+5000, len(all))]...))
		}
		check(idx.Optimize(ctx)) // as reindex does after a bulk load
	}
	fmt.Printf("indexed in %.1fs\n", time.Since(start).Seconds())
	// The server's follower would find an index without a change-log
	// position and rebuild it while the requests are timed: give it the
	// position of the (empty) log, and the seeded synonym dictionary the
	// follower loads, before the server starts.
	check(idx.SetPosition(0))
	dict, err := (&synonyms.Store{DB: d}).Dictionary(ctx)
	check(err)
	check(idx.SetSynonyms(ctx, dict))
	fmt.Printf("synonym dictionary: %d entries\n", dict.Len())

	var pageURL string
	if *rows > 0 {
		// One real dataset with a large version, published.
		r, _, err := fixture.BusCards(ctx, a, dir, *rows)
		check(err)
		pageURL = fmt.Sprintf("/datasets/%d", r.ID)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go server.New(a).Run(sctx, ln)
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for { // the server is up and its follower has started
		if res, err := client.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	var urls []string
	for _, q := range queries {
		urls = append(urls, base+"/api/v1/resources?q="+url.QueryEscape(q))
	}
	clear := func() { check(idx.SetSynonyms(ctx, dict)) } // empties the facet cache
	cold, err := measure(client, urls, 1)
	check(err)
	fmt.Printf("search API, first run of each query (nothing cached): p50 %.2f ms, max %.2f ms\n", ms(median(cold)), ms(slices.Max(cold)))
	var uncached []time.Duration
	for range *rounds {
		clear()
		lat, err := measure(client, urls, 1)
		check(err)
		uncached = append(uncached, lat...)
	}
	p50, p99 := percentiles(uncached)
	fmt.Printf("search API, facet cache cleared before every round, 20 queries × %d: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", *rounds, ms(p50), ms(p99), ms(slices.Max(uncached)))
	lat, err := measure(client, urls, *rounds)
	check(err)
	p50, p99 = percentiles(lat)
	fmt.Printf("search API, %d entries, 20 queries × %d (facet counts cached): p50 %.2f ms, p99 %.2f ms (target p99 < 20 ms)\n", *entries, *rounds, ms(p50), ms(p99))
	if *rows == 0 {
		for _, u := range urls {
			clear()
			first, _ := measure(client, []string{u}, 1)
			lat, _ := measure(client, []string{u}, 5)
			q, _ := url.QueryUnescape(u[len(base)+len("/api/v1/resources?q="):])
			fmt.Printf("  %-12s uncached %6.2f ms, cached p50 %6.2f ms\n", q, ms(first[0]), ms(median(lat)))
		}
	}
	var purls []string
	for _, q := range queries {
		purls = append(purls, base+"/search?q="+url.QueryEscape(q))
	}
	measure(client, purls, 1)
	lat, err = measure(client, purls, *rounds)
	check(err)
	p50, p99 = percentiles(lat)
	fmt.Printf("search page (HTML), same queries: p50 %.2f ms, p99 %.2f ms\n", ms(p50), ms(p99))
	if pageURL == "" {
		return
	}
	page := []string{base + pageURL}
	measure(client, page, 1)
	lat, err = measure(client, page, 500)
	check(err)
	p50, p99 = percentiles(lat)
	fmt.Printf("dataset page, %d-row version, 500 requests: p50 %.2f ms, p99 %.2f ms (target p99 < 50 ms)\n", *rows, ms(p50), ms(p99))
}

func median(d []time.Duration) time.Duration {
	p50, _ := percentiles(append([]time.Duration{}, d...))
	return p50
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
