// Command load drives a real server with many concurrent clients for a
// fixed time and prints, per kind of request, throughput, p50/p99 latency
// and error counts, and the server's peak memory.
//
// The server is this program re-run as a child process (-serve): the demo
// city on SQLite and local disk in a temporary directory, listening on
// 127.0.0.1 only, with the anonymous and sign-in rate limits lifted (every
// client comes from one address). The load is bounded: -c clients, each
// with one request in flight, for -d; the kinds are mixed in fixed shares:
//
//	home      GET /                                    portal home page
//	dataset   GET /datasets/{id}                       dataset page
//	search    GET /search?q=… and /api/v1/resources?q=…  portal and API search
//	records   GET /api/v1/resources/{id}/records?…     records API (page, filter, sort)
//	download  GET /api/v1/resources/{id}/download/open.csv
//
// Any 5xx, or a server peak RSS above -max-rss-mb, is a failure: the
// command exits 1.
//
//	go run ./bench/load                 # 32 clients for 30 s
//	go run ./bench/load -c 64 -d 60s
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"opendata/app"
	"opendata/config"
	"opendata/demo"
	"opendata/server"
)

func main() {
	serve := flag.Bool("serve", false, "run the server (the child process)")
	dir := flag.String("dir", "", "with -serve: the data directory")
	demoOnly := flag.Bool("demo-only", false, "with -serve: load the demo city and exit")
	conc := flag.Int("c", 32, "concurrent clients (each with one request in flight)")
	dur := flag.Duration("d", 30*time.Second, "how long the load runs")
	maxRSS := flag.Int64("max-rss-mb", 1024, "fail when the server's peak RSS exceeds this (MB)")
	flag.Parse()
	if *serve {
		check(runServer(*dir, *demoOnly))
		return
	}
	if *conc < 1 || *conc > 1024 || *dur <= 0 || *dur > 10*time.Minute {
		check(fmt.Errorf("-c must be 1–1024 and -d at most 10m"))
	}
	check(drive(*conc, *dur, *maxRSS))
}

// runServer is the child: demo city (in a process of its own, so the
// server's peak memory is the serving's), loopback listener, address on
// stdout.
func runServer(dir string, demoOnly bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cfg, err := config.Load("", []string{"OPENDATA_DATA_DIR=" + dir, "OPENDATA_LOG_LEVEL=error",
		"OPENDATA_ANON_RATE=100000000-M", "OPENDATA_ANON_DAILY=0", "OPENDATA_LOGIN_IP_RATE=100000000-M"})
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	if demoOnly {
		_, err := demo.LoadIfEmpty(ctx, a, io.Discard)
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	return server.New(a).Run(ctx, ln)
}

type kind struct {
	name  string
	share int // of every 100 requests
	paths func(i int) string
}

type sample struct {
	lat    []time.Duration
	errs   int // non-2xx below 500 and transport failures
	server int // 5xx
	bytes  int64
}

func drive(conc int, dur time.Duration, maxRSSMB int64) error {
	dir, err := os.MkdirTemp("", "bench-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Println("loading the demo city…")
	load := exec.Command(self, "-serve", "-demo-only", "-dir", dir)
	load.Stdout, load.Stderr = os.Stderr, os.Stderr
	if err := load.Run(); err != nil {
		return fmt.Errorf("demo city: %v", err)
	}
	child := exec.Command(self, "-serve", "-dir", dir)
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { child.Process.Signal(syscall.SIGTERM); child.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("the server did not start: %v", err)
	}
	base := "http://" + strings.TrimSpace(strings.TrimPrefix(line, "listening "))

	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ids, open, err := datasets(client, base)
	if err != nil {
		return err
	}
	queries := []string{"公交", "医疗机构", "学校", "空气质量", "企业 登记", "气象", "养老", "许可", "人口", "旅游景区"}
	records := []string{"limit=100", "limit=20&offset=40", "limit=10"}
	kinds := []kind{
		{"home", 10, func(int) string { return "/" }},
		{"dataset", 25, func(i int) string { return fmt.Sprintf("/datasets/%d", ids[i%len(ids)]) }},
		{"search", 25, func(i int) string {
			q := url.QueryEscape(queries[i%len(queries)])
			if i%2 == 0 {
				return "/search?q=" + q
			}
			return "/api/v1/resources?q=" + q
		}},
		{"records", 25, func(i int) string {
			return fmt.Sprintf("/api/v1/resources/%d/records?%s", open[i%len(open)], records[i%len(records)])
		}},
		{"download", 15, func(i int) string { return fmt.Sprintf("/api/v1/resources/%d/download/open.csv", open[i%len(open)]) }},
	}
	var mix []int
	for k, kd := range kinds {
		for range kd.share {
			mix = append(mix, k)
		}
	}

	fmt.Printf("%d published datasets (%d open to all: records, downloads); %d clients for %s on loopback\n", len(ids), len(open), conc, dur)
	results := make([][]sample, conc)
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for c := range conc {
		results[c] = make([]sample, len(kinds))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c * 7; time.Now().Before(deadline); i++ {
				k := mix[i%len(mix)]
				s := &results[c][k]
				t0 := time.Now()
				res, err := client.Get(base + kinds[k].paths(i/len(mix)+c))
				if err != nil {
					s.errs++
					continue
				}
				n, _ := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				s.lat = append(s.lat, time.Since(t0))
				s.bytes += n
				switch {
				case res.StatusCode >= 500:
					s.server++
				case res.StatusCode >= 300:
					s.errs++
				}
			}
		}()
	}
	idle := vmHWM(child.Process.Pid)
	peak := peakRSS(child.Process.Pid, deadline)
	wg.Wait()
	if p := vmHWM(child.Process.Pid); p > peak {
		peak = p
	}

	fmt.Printf("\n%-9s %9s %9s %9s %9s %9s %7s %5s\n", "kind", "requests", "req/s", "p50 ms", "p99 ms", "MB/s", "errors", "5xx")
	var total, total5xx, totalErr int
	for k, kd := range kinds {
		var all sample
		for c := range conc {
			s := results[c][k]
			all.lat = append(all.lat, s.lat...)
			all.errs += s.errs
			all.server += s.server
			all.bytes += s.bytes
		}
		p50, p99 := percentiles(all.lat)
		fmt.Printf("%-9s %9d %9.0f %9.2f %9.2f %9.2f %7d %5d\n", kd.name, len(all.lat), float64(len(all.lat))/dur.Seconds(),
			ms(p50), ms(p99), float64(all.bytes)/dur.Seconds()/1e6, all.errs, all.server)
		total += len(all.lat)
		total5xx += all.server
		totalErr += all.errs
	}
	fmt.Printf("%-9s %9d %9.0f %49d %5d\n", "all", total, float64(total)/dur.Seconds(), totalErr, total5xx)
	fmt.Printf("server peak RSS (VmHWM): %.0f MB under load, %.0f MB before it\n", float64(peak)/1024, float64(idle)/1024)
	if total5xx > 0 {
		return fmt.Errorf("%d answers were 5xx", total5xx)
	}
	if peak/1024 > maxRSSMB {
		return fmt.Errorf("the server's peak RSS %d MB exceeds %d MB", peak/1024, maxRSSMB)
	}
	return nil
}

// datasets lists the published datasets through the public API, and
// those anyone may read without a key (the records and downloads).
func datasets(client *http.Client, base string) (all, open []int64, err error) {
	res, err := client.Get(base + "/api/v1/resources?per_page=100")
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	var body struct {
		Hits []struct {
			ID       string `json:"id"`
			OpenType string `json:"open_type"`
		} `json:"hits"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return nil, nil, fmt.Errorf("dataset list: %v", err)
	}
	for _, h := range body.Hits {
		id, err := strconv.ParseInt(h.ID, 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("dataset list: id %q", h.ID)
		}
		all = append(all, id)
		if h.OpenType == "unconditional" {
			open = append(open, id)
		}
	}
	if len(open) == 0 {
		return nil, nil, fmt.Errorf("no published open dataset")
	}
	return all, open, nil
}

// peakRSS samples the child's high-water mark until the deadline.
func peakRSS(pid int, until time.Time) int64 {
	var peak int64
	for time.Now().Before(until) {
		if p := vmHWM(pid); p > peak {
			peak = p
		}
		time.Sleep(200 * time.Millisecond)
	}
	return peak
}

// vmHWM is a process's peak resident set in KiB (/proc/PID/status).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2], d[len(d)*99/100]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}
