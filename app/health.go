package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"opendata/metrics"
	"opendata/notify"
	"opendata/search"
)

// Backend names in readiness reports and the opendata_backend_up series.
const (
	BackendDatabase  = "database"
	BackendBlobs     = "blobs"
	BackendSearch    = "search"
	BackendRateLimit = "ratelimit"
	BackendSMTP      = "smtp"
)

// Required reports whether an instance cannot serve without the backend:
// only the metadata database. Without object storage, search, the shared
// rate-limit store or the mail server the platform runs degraded (pages
// from the database, downloads and mail fail with a clear message), so
// a load balancer must not take every instance out for them.
func Required(backend string) bool { return backend == BackendDatabase }

// Ready checks every configured backend (the /readyz probe) and records
// the outcome in the opendata_backend_up series.
func (a *App) Ready(ctx context.Context) map[string]error {
	checks := map[string]error{
		BackendDatabase:  a.DB.Ping(ctx),
		BackendBlobs:     a.Blobs.Ping(ctx),
		BackendSearch:    a.Index.Ping(ctx),
		BackendRateLimit: a.Limits.Ping(ctx),
	}
	if a.Config.SMTPAddr != "" {
		checks[BackendSMTP] = dialCheck(ctx, a.Config.SMTPAddr)
		if checks[BackendSMTP] == nil {
			checks[BackendSMTP] = a.Notify.Sender.Health()
		}
	}
	if a.Metrics != nil {
		a.Metrics.SetBackends(checks)
	}
	return checks
}

// ReadyErr joins the failures of the backends the instance needs.
func (a *App) ReadyErr(ctx context.Context) error {
	var all []error
	for name, err := range a.Ready(ctx) {
		if err != nil && Required(name) {
			all = append(all, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(all...)
}

// dialCheck is whether a TCP server answers at addr.
func dialCheck(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// Search runs a catalog search and records its latency.
func (a *App) Search(ctx context.Context, q search.Query) (search.Result, error) {
	start := time.Now()
	res, err := a.Index.Search(ctx, q)
	if a.Metrics != nil {
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		a.Metrics.SearchSeconds.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	}
	return res, err
}

// instrument registers the series read from the backends at scrape time.
func (a *App) instrument() {
	m := a.Metrics
	m.AddFuncs(
		metrics.Func{Name: "opendata_jobs_queued", Help: "Background jobs waiting for a worker (all instances).",
			Read: func(ctx context.Context) (float64, error) {
				n, _, err := a.Jobs.Backlog(ctx)
				return float64(n), err
			}},
		metrics.Func{Name: "opendata_jobs_oldest_queued_seconds", Help: "How long the oldest waiting job has waited (0 when none waits).",
			Read: func(ctx context.Context) (float64, error) {
				n, oldest, err := a.Jobs.Backlog(ctx)
				if err != nil || n == 0 {
					return 0, err
				}
				return max(0, time.Since(oldest).Seconds()), nil
			}},
		metrics.Func{Name: "opendata_audit_events_total", Help: "Events appended to the audit log (all instances).", Counter: true,
			Read: func(ctx context.Context) (float64, error) {
				var n int64
				err := a.DB.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) FROM audit_events").Scan(&n)
				return float64(n), err
			}},
		metrics.Func{Name: "opendata_mail_outbox_waiting", Help: "E-mails queued and not yet delivered (all instances).",
			Read: func(ctx context.Context) (float64, error) {
				n, _, err := notify.Counts(ctx, a.DB)
				return float64(n), err
			}},
		metrics.Func{Name: "opendata_mail_outbox_failed", Help: "E-mails given up after smtp_max_attempts (all instances).",
			Read: func(ctx context.Context) (float64, error) {
				_, n, err := notify.Counts(ctx, a.DB)
				return float64(n), err
			}},
		metrics.Func{Name: "opendata_query_cache_hits_total", Help: "Records queries whose Parquet file was in the local DuckDB cache.", Counter: true,
			Read: func(context.Context) (float64, error) {
				h, _ := a.Records.CacheStats()
				return float64(h), nil
			}},
		metrics.Func{Name: "opendata_query_cache_misses_total", Help: "Records queries that fetched their Parquet file from object storage.", Counter: true,
			Read: func(context.Context) (float64, error) {
				_, m := a.Records.CacheStats()
				return float64(m), nil
			}},
		metrics.Func{Name: "opendata_query_cache_bytes", Help: "Size of the local DuckDB cache of Parquet files.",
			Read: func(context.Context) (float64, error) { return float64(a.Records.CachedBytes()), nil }},
	)
}
