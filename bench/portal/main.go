// Command portal benchmarks the public side over HTTP on a real server:
// catalog search with 100,000 entries on the embedded index (20 realistic
// Chinese queries), and the dataset page of a 1,000,000-row version.
//
//	go run ./bench/portal                 # both
//	go run ./bench/portal -entries 100000 -rows 1000000
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
	rows := flag.Int("rows", 1_000_000, "rows of the dataset whose page is rendered")
	keepIndex := flag.String("index", "", "build the search index at this path and keep it")
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

	fmt.Printf("machine: 2 CPUs; indexing %d catalog entries…\n", *entries)
	start := time.Now()
	all := docs(*entries)
	if n, _ := idx.Count(ctx); n < len(all) {
		for i := 0; i < len(all); i += 5000 {
			check(idx.Index(ctx, all[i:min(i+5000, len(all))]...))
		}
	}
	fmt.Printf("indexed in %.1fs\n", time.Since(start).Seconds())

	if *rows == 0 {
		searchOnly(a, idx)
		return
	}
	// One real dataset with a large version, published.
	r, _, err := fixture.BusCards(ctx, a, dir, *rows)
	check(err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	sctx, stop := context.WithCancel(ctx)
	go server.New(a).Run(sctx, ln)
	defer stop()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}

	var urls []string
	for _, q := range queries {
		urls = append(urls, base+"/api/v1/resources?q="+url.QueryEscape(q))
	}
	cold, err := measure(client, urls, 1) // first time: facet counts not cached yet
	check(err)
	c50, c99 := percentiles(cold)
	fmt.Printf("search API, first run of each query (cold facet cache): p50 %.2f ms, max %.2f ms\n", ms(c50), ms(c99))
	lat, err := measure(client, urls, 25)
	check(err)
	p50, p99 := percentiles(lat)
	fmt.Printf("search API, %d entries, 20 queries × 25: p50 %.2f ms, p99 %.2f ms (target p99 < 20 ms)\n", *entries, ms(p50), ms(p99))
	var purls []string
	for _, q := range queries {
		purls = append(purls, base+"/search?q="+url.QueryEscape(q))
	}
	measure(client, purls, 1)
	lat, err = measure(client, purls, 25)
	check(err)
	p50, p99 = percentiles(lat)
	fmt.Printf("search page (HTML), same queries: p50 %.2f ms, p99 %.2f ms\n", ms(p50), ms(p99))

	page := []string{fmt.Sprintf("%s/datasets/%d", base, r.ID)}
	measure(client, page, 1)
	lat, err = measure(client, page, 500)
	check(err)
	p50, p99 = percentiles(lat)
	fmt.Printf("dataset page, %d-row version, 500 requests: p50 %.2f ms, p99 %.2f ms (target p99 < 50 ms)\n", *rows, ms(p50), ms(p99))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func searchOnly(a *app.App, idx search.Index) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	sctx, stop := context.WithCancel(context.Background())
	defer stop()
	go server.New(a).Run(sctx, ln)
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var urls []string
	for _, q := range queries {
		urls = append(urls, base+"/api/v1/resources?q="+url.QueryEscape(q))
	}
	measure(client, urls, 1)
	for _, u := range urls {
		lat, _ := measure(client, []string{u}, 5)
		p50, _ := percentiles(lat)
		q, _ := url.QueryUnescape(u[len(base)+len("/api/v1/resources?q="):])
		fmt.Printf("  %-12s p50 %.2f ms\n", q, ms(p50))
	}
	lat, err := measure(client, urls, 25)
	check(err)
	p50, p99 := percentiles(lat)
	fmt.Printf("search API: p50 %.2f ms, p99 %.2f ms\n", ms(p50), ms(p99))
}
