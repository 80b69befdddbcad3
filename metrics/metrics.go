// Package metrics is the platform's Prometheus instrumentation: one
// registry per process with the request, ingest, rate-limit, search,
// query-cache, job-queue, audit and backend-health series. The server
// exposes it at /metrics (behind a token, or on a separate listen address).
package metrics

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds the series one process updates.
type Metrics struct {
	Registry *prometheus.Registry
	// Requests is answered requests by route pattern, method and status,
	// with their latency.
	Requests *prometheus.HistogramVec
	// IngestRows and IngestBytes count what succeeded ingests stored and read.
	IngestRows  prometheus.Counter
	IngestBytes prometheus.Counter
	// IngestJobs counts finished ingest jobs by outcome (succeeded, failed).
	IngestJobs *prometheus.CounterVec
	// RateLimited counts calls refused by a rate or quota, by whose
	// allowance (key, account, address) they spent.
	RateLimited *prometheus.CounterVec
	// LimitStoreErrors counts calls the counter store could not decide, by
	// what was done with them (allowed, refused).
	LimitStoreErrors *prometheus.CounterVec
	// SearchSeconds is the latency of catalog searches, by outcome.
	SearchSeconds *prometheus.HistogramVec
	// Backend is 1 when a backend answered its last check, 0 when not.
	Backend *prometheus.GaugeVec
}

// New makes a registry with the process and Go runtime collectors and the
// platform's series.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "opendata_http_request_duration_seconds", Help: "HTTP requests by route pattern, method and status, with their latency.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method", "status"}),
		IngestRows:  prometheus.NewCounter(prometheus.CounterOpts{Name: "opendata_ingest_rows_total", Help: "Rows stored by succeeded ingests."}),
		IngestBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "opendata_ingest_bytes_total", Help: "Bytes of uploaded files read by succeeded ingests."}),
		IngestJobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "opendata_ingest_jobs_total", Help: "Ingest jobs finished on this instance, by outcome."},
			[]string{"outcome"}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "opendata_ratelimit_refusals_total", Help: "Calls refused by a rate limit or quota, by whose allowance they spent."},
			[]string{"scope"}),
		LimitStoreErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "opendata_ratelimit_store_errors_total", Help: "Calls the rate-limit store could not count, by what was done (allowed: public portal; refused: API keys)."},
			[]string{"decision"}),
		SearchSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "opendata_search_duration_seconds", Help: "Catalog search latency, by outcome (ok, error).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"outcome"}),
		Backend: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "opendata_backend_up", Help: "1 when the backend answered its last check, 0 when it did not (database is required; the others degrade)."},
			[]string{"backend"}),
	}
	m.Registry.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector(),
		m.Requests, m.IngestRows, m.IngestBytes, m.IngestJobs, m.RateLimited, m.LimitStoreErrors, m.SearchSeconds, m.Backend)
	return m
}

// ObserveRequest records one answered request.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched" // a 404 has no pattern: never one series per path
	}
	m.Requests.WithLabelValues(route, method, strconv.Itoa(status)).Observe(d.Seconds())
}

// SetBackends records the outcome of a round of backend checks.
func (m *Metrics) SetBackends(checks map[string]error) {
	for name, err := range checks {
		v := 1.0
		if err != nil {
			v = 0
		}
		m.Backend.WithLabelValues(name).Set(v)
	}
}

// Func is a value read when /metrics is scraped.
type Func struct {
	Name, Help string
	Counter    bool // a total that only grows
	Read       func(ctx context.Context) (float64, error)
}

// AddFuncs registers values read at scrape time (queue depth from the
// database, cache counters from the query engine). A value that cannot be
// read is left out of that scrape.
func (m *Metrics) AddFuncs(fs ...Func) {
	for _, f := range fs {
		m.Registry.MustRegister(&funcCollector{f: f, desc: prometheus.NewDesc(f.Name, f.Help, nil, nil)})
	}
}

type funcCollector struct {
	f    Func
	desc *prometheus.Desc
}

func (c *funcCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *funcCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := c.f.Read(ctx)
	if err != nil {
		return
	}
	t := prometheus.GaugeValue
	if c.f.Counter {
		t = prometheus.CounterValue
	}
	ch <- prometheus.MustNewConstMetric(c.desc, t, v)
}
