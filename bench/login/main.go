// Command login floods the sign-in of a real server on loopback and prints
// what it costs: peak RSS, the answers, and the latency of other requests
// meanwhile.
//
//	go run ./bench/login                         # defaults: 200 workers, 10 s, then 200 MB bodies
//	go run ./bench/login -slots 256 -wait 60s    # about the old unbounded hashing, for comparison
//
// Phase 1 sends wrong-password logins from -workers goroutines for -for
// (with login_ip_rate raised, as an attacker with many addresses would be
// unthrottled by it); phase 2 sends -bodies concurrent 200 MB JSON password
// bodies, announced and chunked. A prober calls GET /api/v1/resources every
// 100 ms throughout.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"opendata/app"
	"opendata/auth"
	"opendata/blob"
	"opendata/config"
	"opendata/db"
	"opendata/search"
	"opendata/server"
)

func main() {
	workers := flag.Int("workers", 200, "concurrent login attempts")
	dur := flag.Duration("for", 10*time.Second, "how long the login flood lasts")
	bodies := flag.Int("bodies", 4, "concurrent 200 MB password bodies in phase 2")
	bodyMB := flag.Int64("body-mb", 200, "size of each large body, MB")
	slots := flag.Int("slots", 0, "password_hash_concurrency (0: the default)")
	wait := flag.Duration("wait", 0, "password_hash_wait (0: the default)")
	ipRate := flag.String("ip-rate", "100000000-M", "login_ip_rate during the flood")
	flag.Parse()

	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "bench-login-")
	defer os.RemoveAll(dir)
	env := []string{"OPENDATA_DATA_DIR=" + dir, "OPENDATA_ANON_RATE=100000000-M", "OPENDATA_ANON_DAILY=0", "OPENDATA_LOGIN_IP_RATE=" + *ipRate}
	if *slots > 0 {
		env = append(env, "OPENDATA_PASSWORD_HASH_CONCURRENCY="+strconv.Itoa(*slots))
	}
	if *wait > 0 {
		env = append(env, "OPENDATA_PASSWORD_HASH_WAIT="+wait.String())
	}
	cfg, err := config.Load("", env)
	check(err)
	d, err := db.Open(ctx, "", filepath.Join(dir, "b.db"))
	check(err)
	check(d.Migrate(ctx))
	bs, err := blob.NewLocal(filepath.Join(dir, "blobs"))
	check(err)
	idx, err := search.OpenBleve("")
	check(err)
	a, err := app.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), d, bs, idx)
	check(err)
	_, err = a.Users.CreateUser(ctx, auth.NewUser{Username: "admin", Password: "bureau-secret-1", Role: auth.RoleBureauAdmin})
	check(err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- server.New(a).Run(sctx, ln) }()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: *workers + 16, MaxIdleConnsPerHost: *workers + 16}, Timeout: 2 * time.Minute}

	fmt.Printf("machine: %d CPUs; password_hash_concurrency=%d, password_hash_wait=%s, login_ip_rate=%s\n",
		cpus(), cfg.HashConcurrency, cfg.HashWait, cfg.LoginIPRate)
	idle := probe(client, base, 20)
	fmt.Printf("idle: RSS %s, GET /api/v1/resources p50 %s p99 %s\n", mb(rss()), ms(pct(idle, 50)), ms(pct(idle, 99)))

	// Phase 1: the login flood.
	peak := watchRSS()
	probes := startProber(client, base)
	var mu sync.Mutex
	counts := map[int]int{}
	var lat []time.Duration
	var n atomic.Int64
	end := time.Now().Add(*dur)
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for time.Now().Before(end) {
				i := n.Add(1)
				body := fmt.Sprintf(`{"username":"user%d","password":"guess-password-%d"}`, i%5000, i)
				start := time.Now()
				res, err := client.Post(base+"/api/v1/auth/login", "application/json", strings.NewReader(body))
				code := 0
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					code = res.StatusCode
				}
				mu.Lock()
				counts[code]++
				lat = append(lat, time.Since(start))
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	during := probes.stop()
	fmt.Printf("login flood: %d workers for %s: %d attempts, answers %s, attempt latency p50 %s p99 %s\n",
		*workers, *dur, n.Load(), answers(counts), ms(pct(lat, 50)), ms(pct(lat, 99)))
	fmt.Printf("  meanwhile GET /api/v1/resources: %d calls, p50 %s p99 %s max %s; peak RSS %s\n",
		len(during), ms(pct(during, 50)), ms(pct(during, 99)), ms(pct(during, 100)), mb(peak.stop()))

	// Phase 2: 200 MB password bodies, announced and chunked.
	peak = watchRSS()
	probes = startProber(client, base)
	counts = map[int]int{}
	var slowest time.Duration
	var sent atomic.Int64
	end = time.Now().Add(3 * time.Second)
	for i := 0; i < *bodies; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for time.Now().Before(end) {
				sendBody(client, base, i, *bodyMB<<20, &mu, counts, &slowest)
				sent.Add(1)
			}
		}(i)
	}
	wg.Wait()
	during = probes.stop()
	fmt.Printf("%d senders × %d MB password bodies for 3 s: %d bodies, answers %s (0 = connection closed after the refusal), slowest answer %s\n", *bodies, *bodyMB, sent.Load(), answers(counts), ms(slowest))
	fmt.Printf("  meanwhile GET /api/v1/resources: %d calls, p50 %s p99 %s; peak RSS %s\n", len(during), ms(pct(during, 50)), ms(pct(during, 99)), mb(peak.stop()))
	after := probe(client, base, 20)
	fmt.Printf("after: RSS %s, GET /api/v1/resources p50 %s; process peak RSS (VmHWM) %s\n", mb(rss()), ms(pct(after, 50)), mb(hwm()))
	stop()
	<-done
}

// sendBody posts one huge password body, announced (even i) or chunked.
func sendBody(client *http.Client, base string, i int, size int64, mu *sync.Mutex, counts map[int]int, slowest *time.Duration) {
	const prefix = `{"username":"admin","password":"`
	body := io.MultiReader(strings.NewReader(prefix), io.LimitReader(filler{}, size))
	req, _ := http.NewRequest("POST", base+"/api/v1/auth/login", body)
	req.Header.Set("Content-Type", "application/json")
	if i%2 == 0 {
		req.ContentLength = int64(len(prefix)) + size
	} else {
		req.ContentLength = -1 // chunked: the server cuts it at the limit
	}
	start := time.Now()
	res, err := client.Do(req)
	code := 0
	if err == nil {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		code = res.StatusCode
	}
	mu.Lock()
	counts[code]++
	*slowest = max(*slowest, time.Since(start))
	mu.Unlock()
}

type filler struct{}

func (filler) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

type prober struct {
	quit chan struct{}
	done chan []time.Duration
}

func startProber(client *http.Client, base string) prober {
	p := prober{make(chan struct{}), make(chan []time.Duration)}
	go func() {
		var lat []time.Duration
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				p.done <- lat
				return
			case <-t.C:
				lat = append(lat, probe(client, base, 1)...)
			}
		}
	}()
	return p
}

func (p prober) stop() []time.Duration { close(p.quit); return <-p.done }

func probe(client *http.Client, base string, n int) []time.Duration {
	var out []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		res, err := client.Get(base + "/api/v1/resources")
		if err != nil || res.StatusCode != 200 {
			fmt.Fprintln(os.Stderr, "probe failed:", err, res)
			os.Exit(1)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		out = append(out, time.Since(start))
	}
	return out
}

type rssWatch struct {
	quit chan struct{}
	peak chan int64
}

// watchRSS samples the resident set every 20 ms until stopped.
func watchRSS() rssWatch {
	w := rssWatch{make(chan struct{}), make(chan int64)}
	go func() {
		var peak int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, rss())
			select {
			case <-w.quit:
				w.peak <- peak
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w rssWatch) stop() int64 { close(w.quit); return <-w.peak }

func status(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func rss() int64 { return status("VmRSS") }
func hwm() int64 { return status("VmHWM") }

func cpus() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, len(s)*p/100)]
}

func answers(m map[int]int) string {
	var keys []int
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d×%d", m[k], k))
	}
	return strings.Join(parts, ", ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }
func mb(b int64) string         { return fmt.Sprintf("%d MB", b>>20) }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
