package server_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"opendata/blob"
	"opendata/config"
	"opendata/db/dbtest"
	"opendata/notify/notifytest"
)

func localBlobs(t *testing.T) blob.Store {
	t.Helper()
	bs, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

// metricValue is the value of one series in a Prometheus text page, or -1.
func metricValue(page, series string) float64 {
	re := regexp.MustCompile("(?m)^" + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)$`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func scrape(t *testing.T, u, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// /readyz fails only without the metadata database; search and mail
// outages are reported in its body and in opendata_backend_up while the
// instance stays in the load balancer.
func TestReadyDegradedBackends(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close() // nothing answers here: the "mail server" is down
	e := start(t, dbtest.SQLite(t), localBlobs(t), func(c *config.Config) { c.MetricsToken = "scrape-secret"; c.SMTPAddr = closed })
	r := e.do("GET", "/readyz", "", nil, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"degraded":["smtp"]`) || !strings.Contains(string(r.body), `"database":"ok"`) {
		t.Fatalf("smtp down: %d %s", r.status, r.body)
	}
	e.app.Index.Close()
	r = e.do("GET", "/readyz", "", nil, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"degraded":["search","smtp"]`) || !strings.Contains(string(r.body), `"ready":true`) {
		t.Fatalf("search and smtp down: %d %s", r.status, r.body)
	}
	_, page := scrape(t, e.url+"/metrics", "scrape-secret")
	for series, want := range map[string]float64{
		`opendata_backend_up{backend="search"}`: 0, `opendata_backend_up{backend="smtp"}`: 0,
		`opendata_backend_up{backend="database"}`: 1, `opendata_backend_up{backend="blobs"}`: 1,
	} {
		if got := metricValue(page, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if r := e.do("GET", "/healthz", "", nil, nil); r.status != 200 {
		t.Fatalf("healthz: %d", r.status)
	}
}

// /metrics: refused without the token on the main address, absent when
// no token is configured, open on metrics_listen; the series move with
// requests, ingests, records reads, searches and refusals.
func TestMetrics(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	metricsAddr := ln.Addr().String()
	ln.Close()
	e := start(t, dbtest.SQLite(t), localBlobs(t), func(c *config.Config) {
		c.MetricsToken, c.MetricsListen, c.AnonRate = "scrape-secret", metricsAddr, "12-M"
	})
	for _, tok := range []string{"", "wrong", "scrape-secre"} {
		if code, body := scrape(t, e.url+"/metrics", tok); code != 401 || strings.Contains(body, "opendata_") {
			t.Fatalf("token %q: %d %.200s", tok, code, body)
		}
	}
	id := publishBusStops(t, e)
	for range 2 {
		if r := e.do("GET", fmt.Sprintf("/api/v1/resources/%d/records", id), "", nil, nil); r.status != 200 {
			t.Fatalf("records: %d %s", r.status, r.body)
		}
	}
	if r := e.do("GET", "/api/v1/resources?q="+url.QueryEscape("公交"), "", nil, nil); r.status != 200 {
		t.Fatalf("search: %d", r.status)
	}
	refused := false
	for range 20 {
		if r := e.do("GET", "/api/v1/resources", "", nil, nil); r.status == 429 {
			refused = true
			break
		}
	}
	if !refused {
		t.Fatal("the anonymous rate was never reached")
	}
	var page string
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, p := scrape(t, "http://"+metricsAddr+"/metrics", "")
		if code != 200 {
			t.Fatalf("metrics_listen: %d", code)
		}
		page = p
		if metricValue(page, `opendata_jobs_queued`) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, viaToken := scrape(t, e.url+"/metrics", "scrape-secret")
	if code != 200 || !strings.Contains(viaToken, "opendata_http_request_duration_seconds_bucket") {
		t.Fatalf("metrics with the token: %d", code)
	}
	atLeast := map[string]float64{
		`opendata_http_request_duration_seconds_count{method="GET",route="/api/v1/resources/:id/records",status="200"}`: 2,
		`opendata_http_request_duration_seconds_count{method="POST",route="/api/v1/catalog/resources",status="201"}`:    1,
		`opendata_ingest_rows_total`:                           1,
		`opendata_ingest_bytes_total`:                          1,
		`opendata_ingest_jobs_total{outcome="succeeded"}`:      1,
		`opendata_query_cache_hits_total`:                      1,
		`opendata_query_cache_misses_total`:                    1,
		`opendata_search_duration_seconds_count{outcome="ok"}`: 1,
		`opendata_ratelimit_refusals_total{scope="ip"}`:        1,
		`opendata_audit_events_total`:                          1,
		`opendata_jobs_queued`:                                 0,
		`opendata_jobs_oldest_queued_seconds`:                  0,
		`process_resident_memory_bytes`:                        1,
	}
	for series, min := range atLeast {
		if got := metricValue(page, series); got < min {
			t.Errorf("%s = %v, want ≥ %v", series, got, min)
		}
	}
	// A 404 has no route pattern: one series for all of them, never one per path.
	e.do("GET", "/no/such/page/"+strconv.Itoa(int(time.Now().UnixNano())), "", nil, nil)
	_, page = scrape(t, "http://"+metricsAddr+"/metrics", "")
	if strings.Contains(page, "/no/such/page") {
		t.Error("an unmatched path became a label")
	}

	// Without a token the route does not exist on the main address.
	plain := start(t, dbtest.SQLite(t), localBlobs(t), nil)
	if code, body := scrape(t, plain.url+"/metrics", ""); code != 404 || strings.Contains(body, "opendata_") {
		t.Fatalf("no token configured: %d %.200s", code, body)
	}
}

// A mail server that accepts and then stalls: a sign-up (which mails a
// link) answers at once, the message waits in the outbox, and once the
// delivery times out /readyz and the metrics say mail is degraded.
func TestMailServerHangs(t *testing.T) {
	addr := notifytest.HangingSMTP(t)
	e := start(t, dbtest.SQLite(t), localBlobs(t), func(c *config.Config) {
		c.MetricsToken, c.SMTPAddr, c.SMTPTimeout = "scrape-secret", addr, 2*time.Second
	})
	answered := make(chan resp, 1)
	go func() {
		answered <- e.do("POST", "/api/v1/account/signup", "", map[string]string{"email": "lab@example.cn", "password": "developer-pass-1", "display_name": "王研究"}, nil)
	}()
	select {
	case r := <-answered:
		if r.status != 202 {
			t.Fatalf("signup: %d %s", r.status, r.body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the sign-up waited for the silent mail server")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := e.do("GET", "/readyz", "", nil, nil)
		if r.status != 200 {
			t.Fatalf("readyz: %d %s", r.status, r.body)
		}
		if strings.Contains(string(r.body), `"degraded":["smtp"]`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a stalled delivery is not reported: %s", r.body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, page := scrape(t, e.url+"/metrics", "scrape-secret")
	if got := metricValue(page, `opendata_backend_up{backend="smtp"}`); got != 0 {
		t.Errorf("smtp up = %v", got)
	}
	if got := metricValue(page, "opendata_mail_outbox_waiting"); got != 1 {
		t.Errorf("outbox waiting = %v, want 1", got)
	}
}
