package server_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"opendata/blob"
	"opendata/config"
	"opendata/db/dbtest"
	"opendata/ratelimit"
	"opendata/ratelimit/ratelimittest"
)

func TestPublicAPIRateLimit(t *testing.T) {
	bs, _ := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
	e := start(t, dbtest.SQLite(t), bs, nil)
	e.app.AnonTier, _ = ratelimit.ParseTier("3-M", 0)
	for i := 0; i < 3; i++ {
		r := e.do("GET", "/api/v1/resources", "", nil, nil)
		if r.status != 200 || r.header.Get("RateLimit-Limit") != "3" || r.header.Get("RateLimit-Remaining") != fmt.Sprint(2-i) || r.header.Get("RateLimit-Reset") == "" {
			t.Fatalf("call %d: %d %v", i, r.status, r.header)
		}
	}
	r := e.do("GET", "/api/v1/resources", "", nil, nil)
	if r.status != 429 || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), `"code":"rate_limited"`) || !strings.Contains(string(r.body), "请求过于频繁") {
		t.Fatalf("limited call: %d %v %s", r.status, r.header, r.body)
	}
	// Staff routes and portal pages are not counted against the public tier.
	if r := e.do("GET", "/", "", nil, nil); r.status != 200 {
		t.Fatalf("home page limited: %d", r.status)
	}
	// A spoofed X-Forwarded-For does not buy a fresh allowance.
	if r := e.do("GET", "/api/v1/resources", "", nil, map[string]string{"X-Forwarded-For": "203.0.113.9"}); r.status != 429 {
		t.Fatalf("spoofed header: %d", r.status)
	}
}

// Two server instances on one Redis share one count, exactly, under
// concurrent load.
func TestRateLimitSharedAcrossInstances(t *testing.T) {
	url := ratelimittest.RedisURL(t)
	prefix := fmt.Sprintf("test:shared:%d:", time.Now().UnixNano())
	tier, _ := ratelimit.ParseTier("100-H", 0)
	var envs []*env
	for i := 0; i < 2; i++ {
		bs, _ := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
		e := start(t, dbtest.SQLite(t), bs, func(c *config.Config) {})
		l, err := ratelimit.NewRedis(context.Background(), url, prefix)
		if err != nil {
			t.Fatal(err)
		}
		e.app.Limits, e.app.AnonTier = l, tier
		envs = append(envs, e)
	}
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for i := 0; i < 160; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, err := client.Get(envs[i%2].url + "/api/v1/resources")
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			mu.Lock()
			counts[res.StatusCode]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if counts[200] != 100 || counts[429] != 60 {
		t.Fatalf("combined count: %v (want exactly 100 allowed, 60 refused)", counts)
	}
}
