// Command records benchmarks the open API gateway on a real server:
//
//  1. the records API over HTTP on a large version (default 10,000,000
//     rows, ingested through the real pipeline): an equality filter, a
//     range filter, page 1 against cursor page 5,000, and a group_by —
//     p50/p99 of each next to the same query run on the engine directly
//     (Prepare + Write to io.Discard), in the same process;
//
//  2. gateway overhead: requests/s of a small key-authenticated,
//     rate-limited JSON answer (GET /api/v1/key) against a bare echo
//     handler returning the same bytes, with the same Go load generator on
//     loopback.
//
//     go run ./bench/records                     # 10M rows (about 3 minutes to ingest)
//     go run ./bench/records -rows 1000000 -n 50
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"opendata/app"
	"opendata/auth"
	"opendata/bench/fixture"
	"opendata/blob"
	"opendata/catalog"
	"opendata/config"
	"opendata/db"
	"opendata/query"
	"opendata/search"
	"opendata/server"
)

func main() {
	rows := flag.Int("rows", 10_000_000, "rows of the version the records API reads")
	n := flag.Int("n", 40, "runs of each query (after one warm-up)")
	conc := flag.Int("c", 8, "concurrent connections of the load generator")
	dur := flag.Duration("d", 5*time.Second, "duration of each load run")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the gateway load run here")
	skip := flag.Bool("gateway-only", false, "skip the records queries")
	flag.Parse()
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "bench-records-")
	defer os.RemoveAll(dir)
	cfg, _ := config.Load("", []string{"OPENDATA_DATA_DIR=" + dir, "OPENDATA_PARTNER_RATE=1000000-S", "OPENDATA_PARTNER_DAILY=0"})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := db.Open(ctx, "", filepath.Join(dir, "b.db"))
	check(err)
	check(d.Migrate(ctx))
	bs, err := blob.NewLocal(filepath.Join(dir, "blobs"))
	check(err)
	idx, err := search.OpenBleve("")
	check(err)
	a, err := app.New(cfg, log, d, bs, idx)
	check(err)
	defer a.Close()

	fmt.Printf("machine: 2 CPUs; ingesting %d rows…\n", *rows)
	r, admin, err := fixture.BusCards(ctx, a, dir, *rows)
	check(err)

	dev, err := a.Users.CreateUser(ctx, auth.NewUser{Username: "dev@example.cn", Password: "0123456789ab", Role: auth.RoleDeveloper, Email: "dev@example.cn"})
	check(err)
	k, key, err := a.Access.CreateKey(ctx, dev, "bench", 0)
	check(err)
	_, err = a.Access.SetTier(ctx, admin, k.ID, "partner")
	check(err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go server.New(a).Run(sctx, ln)
	base := fmt.Sprintf("http://%s/api/v1/resources/%d/records", ln.Addr(), r.ID)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	// Cursor page 5,000 of 100-row pages in the natural order: the cursor
	// the API hands out after row 499,999 (what walking 4,999 pages gives).
	page5000 := a.Cursors.Encode(query.Cursor{Resource: r.ID, Version: 1, Variant: "open", Row: 499_999})
	q := url.QueryEscape
	cases := []struct{ name, params string }{
		{"filter town eq, limit 100", "filter=" + q("站点 eq 舞阳坝站") + "&limit=100"},
		{"range filter (one day), limit 100", "filter=" + q("刷卡时间 ge '2025-03-01' and 刷卡时间 lt '2025-03-02'") + "&limit=100"},
		{"page 1, limit 100", "limit=100"},
		{"cursor page 5,000, limit 100", "limit=100&cursor=" + q(page5000)},
		{"offset 499,900 (for contrast)", "limit=100&offset=499900"},
		{"group_by line: count, avg", "group_by=" + q("线路") + "&agg=" + q("count,avg:金额")},
	}
	if *skip {
		cases = nil
	}
	fmt.Printf("\nrecords API on a %d-row version, %d runs each (p50 / p99, ms)\n", *rows, *n)
	fmt.Printf("%-36s %20s %20s %s\n", "query", "HTTP", "engine", "target: HTTP p50 ≤ 2×engine p50 + 5 ms")
	for _, c := range cases {
		params, _ := url.ParseQuery(c.params)
		engine := func() error {
			p, err := a.Records.Prepare(ctx, a.Cursors, query.Request{Resource: r.ID, Version: 1, Variant: "open",
				Key: catalog.VersionPrefix(r.ID, 1) + "open.parquet", Params: params})
			if err != nil {
				return err
			}
			_, err = p.Write(ctx, io.Discard, nil)
			return err
		}
		httpCall := func() error {
			req, _ := http.NewRequest("GET", base+"?"+c.params, nil)
			req.Header.Set("X-API-Key", key)
			res, err := client.Do(req)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			if _, err := io.Copy(io.Discard, res.Body); err != nil {
				return err
			}
			if res.StatusCode != 200 {
				return fmt.Errorf("%s: status %d", c.name, res.StatusCode)
			}
			return nil
		}
		check(engine())
		check(httpCall())
		var he, ee []time.Duration
		for i := 0; i < *n; i++ {
			t0 := time.Now()
			check(engine())
			ee = append(ee, time.Since(t0))
			t0 = time.Now()
			check(httpCall())
			he = append(he, time.Since(t0))
		}
		h50, h99 := percentiles(he)
		e50, e99 := percentiles(ee)
		ok := "met"
		if h50 > 2*e50+5*time.Millisecond {
			ok = "NOT met"
		}
		fmt.Printf("%-36s %9.2f / %8.2f %9.2f / %8.2f %s\n", c.name, ms(h50), ms(h99), ms(e50), ms(e99), ok)
	}

	// Gateway overhead.
	bare := echo.New()
	bare.HideBanner, bare.HidePort = true, true
	payload := map[string]any{"key": k, "limits": map[string]int64{"rate": 1000000, "period_seconds": 1, "daily": 0}}
	bare.GET("/api/v1/key", func(c echo.Context) error { return c.JSON(http.StatusOK, payload) })
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go http.Serve(bln, bare)
	fmt.Printf("\ngateway overhead: %d connections × %s on loopback\n", *conc, *dur)
	load(fmt.Sprintf("http://%s/api/v1/key", bln.Addr()), "", *conc, time.Second)
	rb := load(fmt.Sprintf("http://%s/api/v1/key", bln.Addr()), "", *conc, *dur)
	gw := fmt.Sprintf("http://%s/api/v1/key", ln.Addr())
	load(gw, key, *conc, time.Second)
	if *prof != "" {
		pf, err := os.Create(*prof)
		check(err)
		check(pprof.StartCPUProfile(pf))
	}
	rg := load(gw, key, *conc, *dur)
	if *prof != "" {
		pprof.StopCPUProfile()
	}
	fmt.Printf("bare echo handler:                              %8.0f req/s\n", rb)
	fmt.Printf("gateway (key auth + rate limit + headers + log): %8.0f req/s = %.0f%% of bare (target ≥ 60%%)\n", rg, 100*rg/rb)
}

// load runs conc keep-alive clients for d and returns requests per second.
func load(u, key string, conc int, d time.Duration) float64 {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	var count atomic.Int64
	var failed atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", u, nil)
				if key != "" {
					req.Header.Set("X-API-Key", key)
				}
				res, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					failed.Add(1)
					continue
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(os.Stderr, "%s: %d failed requests\n", u, f)
	}
	return float64(count.Load()) / d.Seconds()
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2], d[len(d)*99/100]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
