// Package server is the HTTP side of opendata: the echo router, middleware
// (security headers, logging, authentication, CSRF) and handlers by area.
// Handlers parse, call a domain service, and render — nothing else.
package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"opendata/app"
	"opendata/frontend"
	"opendata/ingest"
	"opendata/jobs"
	"opendata/logs"
	"opendata/openapi"
	"opendata/publish"
)

// Server is the HTTP server and its background workers.
type Server struct {
	app    *app.App
	echo   *echo.Echo
	log    *slog.Logger
	runner *jobs.Runner
	// uploads stores uploads, queues their jobs and runs them.
	uploads *ingest.Uploads
	pages   *frontend.Renderer
	cache   versionCache
	review  *publish.Reviewer
}

// New builds the router.
func New(a *app.App) *Server {
	pages, err := frontend.New()
	if err != nil {
		panic(err) // templates are embedded: a parse error is a build defect
	}
	s := &Server{app: a, log: a.Log, echo: echo.New(), pages: pages,
		review: &publish.Reviewer{Service: a.Publish, Blobs: a.Blobs, Engine: a.Records, Audit: a.Audit}}
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	// The client address is the connection's unless a proxy we run says otherwise.
	e.IPExtractor = echo.ExtractIPDirect()
	if a.Config.TrustProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	}
	e.Use(s.requestID)
	e.Use(s.logRequests)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
		s.log.ErrorContext(c.Request().Context(), "panic", "err", err, "path", c.Request().URL.Path, "stack", string(stack))
		return err
	}}))
	e.Use(s.securityHeaders)
	e.Use(s.limitBodies)
	e.Use(s.authenticate)
	e.Use(s.limitCalls)
	e.Use(ensureCSRFCookie)
	e.Use(csrfForCookies)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if a.Config.MetricsToken != "" {
		e.GET("/metrics", s.metrics)
	}
	v1 := e.Group("/api/v1")
	v1.GET("/openapi.yaml", func(c echo.Context) error { return c.Blob(http.StatusOK, "application/yaml", openapi.Spec) })
	s.bindAuth(v1)
	s.bindCatalog(v1)
	s.bindIngest(v1)
	s.bindPublish(v1)
	s.bindPublic(v1)
	s.bindAudit(v1)
	s.bindSharing(v1)
	s.bindSupervision(v1)
	s.bindGateway(v1)
	s.bindSearchAdmin(v1)
	s.bindDrafts(v1)
	s.bindPortal(e)

	host, _ := os.Hostname()
	s.uploads = &ingest.Uploads{Ingest: a.Ingest, Jobs: a.Jobs, Users: a.Users, Done: s.ingestDone}
	s.runner = &jobs.Runner{
		Queue: a.Jobs, Workers: a.Config.IngestWorkers, Poll: 2 * time.Second, Name: host, Log: a.Log,
		Handlers:  map[string]jobs.Handler{ingest.JobKind: withJobLog(s.uploads.Run)},
		ErrorText: jobErrorText,
	}
	s.runner.Init()
	s.uploads.Wake = s.runner.Wake
	return s
}

// withJobLog makes every line a job's work logs name the job.
func withJobLog(h jobs.Handler) jobs.Handler {
	return func(ctx context.Context, j jobs.Job, report func(string, int64, int64, int64)) (any, error) {
		return h(logs.With(ctx, slog.String("job", j.ID)), j, report)
	}
}

// Routes lists method and path of every route (the spec test uses it).
func (s *Server) Routes() [][2]string {
	var out [][2]string
	for _, r := range s.echo.Routes() {
		out = append(out, [2]string{r.Method, r.Path})
	}
	return out
}

// Handler exposes the router (tests use it with httptest).
func (s *Server) Handler() http.Handler { return s.echo }

// Run serves on ln until ctx ends, then shuts down gracefully: it stops
// accepting, lets in-flight requests finish within the timeout, and stops
// the workers (an unfinished job goes back to the queue).
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.echo, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	wctx, stopWorkers := context.WithCancel(context.Background())
	workersDone := make(chan struct{})
	go func() {
		s.housekeeping(wctx)
		close(workersDone)
	}()
	go func() {
		s.runner.Run(wctx)
	}()
	if m := s.app.Notify.Sender; m != nil {
		go m.Run(wctx) // e-mail leaves through the outbox, never from a request
	}
	go s.app.Versions.Run(wctx)
	go func() {
		if err := s.app.Follower.Start(wctx); err != nil && wctx.Err() == nil {
			s.log.Error("search index: catching up with the change log", "err", err)
		}
		s.app.Follower.Run(wctx)
	}()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if addr := s.app.Config.MetricsListen; addr != "" {
		mln, err := net.Listen("tcp", addr)
		if err != nil {
			stopWorkers()
			return fmt.Errorf("metrics_listen %s: %w", addr, err)
		}
		msrv := &http.Server{Handler: s.metricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		defer msrv.Close()
		go func() {
			if err := msrv.Serve(mln); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		s.log.Info("serving metrics", "addr", mln.Addr().String())
	}
	s.log.Info("serving", "addr", ln.Addr().String(), "base_url", s.app.Config.BaseURL)
	select {
	case err := <-errc:
		stopWorkers()
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), s.app.Config.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	stopWorkers()
	<-workersDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// flushUsage adds the buffered API usage counts to the database (also
// before a usage page is shown, so it includes the last calls).
func (s *Server) flushUsage(ctx context.Context) {
	if err := s.app.Access.Usage.Flush(ctx, s.app.DB); err != nil {
		s.log.Warn("flush API usage", "err", err)
	}
}

// flushCounts writes view and download counts and refreshes the search
// documents whose download counts changed ("most used" sorting).
func (s *Server) flushCounts(ctx context.Context) {
	changed, err := s.app.Counter.Flush(ctx, s.app.DB)
	if err != nil {
		s.log.Warn("flush usage counts", "err", err)
	}
	s.flushUsage(ctx)
	if err := s.app.Misses.Flush(ctx, s.app.DB); err != nil {
		s.log.Warn("flush zero-result searches", "err", err)
	}
	for _, id := range changed {
		if err := s.app.Publish.RefreshCounts(ctx, id); err != nil {
			s.log.Warn("refresh search counts", "resource", id, "err", err)
		}
	}
}

// housekeeping flushes usage counts every few seconds; once a minute it
// requeues jobs of crashed instances and removes versions left pending by a
// crash. (The search follower drops withdrawn resources from the index when
// their notice ends.)
func (s *Server) housekeeping(ctx context.Context) {
	flush := time.NewTicker(10 * time.Second)
	defer flush.Stop()
	defer s.flushCounts(context.Background())
	minute := time.NewTicker(time.Minute)
	defer minute.Stop()
	for {
		s.requeueJobs(ctx)
		if n, err := s.app.Sharing.RemindDue(ctx); err != nil {
			s.log.Error("housekeeping: share request reminders failed", "err", err)
		} else if n > 0 {
			s.log.Info("reminded providers of share requests due within a working day", "count", n)
		}
		if n, err := s.app.Sharing.RemindDisputes(ctx); err != nil {
			s.log.Error("housekeeping: dispute reminders failed", "err", err)
		} else if n > 0 {
			s.log.Info("dispute reminders sent", "count", n)
		}
		if n, err := s.app.Access.RemindApplications(ctx); err != nil {
			s.log.Error("housekeeping: application reminders failed", "err", err)
		} else if n > 0 {
			s.log.Info("application reminders and overdue notices sent", "count", n)
		}
		if n, err := s.app.Sharing.EscalateOverdue(ctx); err != nil {
			s.log.Error("housekeeping: escalation of overdue share requests failed", "err", err)
		} else if n > 0 {
			s.log.Warn("overdue share requests escalated to the leading-group office", "count", n)
		}
		if _, err := publish.PruneChanges(ctx, s.app.DB, 7*24*time.Hour); err != nil {
			s.log.Warn("prune the search change log", "err", err)
		}
		if n, err := s.app.Ingest.CleanStale(ctx, time.Hour); err != nil {
			s.log.Error("housekeeping: cleanup of versions left pending failed", "err", err)
		} else if n > 0 {
			s.log.Warn("removed versions left pending by a crash", "count", n)
		}
		if _, err := s.app.Audit.CheckpointIfDue(ctx, s.app.Config.AuditCheckpointInt); err != nil {
			s.log.Error("audit checkpoint not written", "err", err)
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case <-flush.C:
				s.flushCounts(ctx)
			case <-minute.C:
				break wait
			}
		}
	}
}

// requeueJobs is the crash janitor: jobs whose worker stopped beating go
// back to the queue, or fail once they have been started job_max_attempts
// times (a file that takes a worker down must not take every instance down
// in turn).
func (s *Server) requeueJobs(ctx context.Context) {
	n, failed, err := s.app.Jobs.Requeue(ctx, s.runner.StaleAfter())
	if err != nil {
		s.log.Error("requeue jobs", "err", err)
		return
	}
	if n > 0 {
		s.log.Warn("requeued jobs of a silent worker", "count", n)
		s.runner.Wake()
	}
	for _, j := range failed {
		s.log.Error("job failed: its worker stopped every time it ran", "job", j.ID, "kind", j.Kind, "attempts", j.Attempts)
		if j.Kind == ingest.JobKind {
			if err := s.uploads.Abandon(ctx, j); err != nil {
				s.log.Warn("remove the upload of an abandoned job", "job", j.ID, "err", err)
			}
		}
	}
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 503 only when the instance cannot serve at all (the
// metadata database is gone); a backend it can run without is reported
// as degraded in the body (and in opendata_backend_up) while it answers
// 200, so a search or Redis outage does not take every instance out of
// the load balancer.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	checks := map[string]string{}
	degraded := []string{}
	status := http.StatusOK
	for name, err := range s.app.Ready(ctx) {
		checks[name] = "ok"
		if err == nil {
			continue
		}
		s.log.WarnContext(ctx, "readiness check failed", "backend", name, "err", err)
		checks[name] = "unavailable"
		if app.Required(name) {
			status = http.StatusServiceUnavailable
		} else {
			degraded = append(degraded, name)
		}
	}
	sort.Strings(degraded)
	if status != http.StatusOK {
		c.Response().Header().Set("Retry-After", "2")
	}
	return c.JSON(status, map[string]any{"ready": status == http.StatusOK, "degraded": degraded, "checks": checks})
}

// metricsHandler serves the Prometheus registry.
func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.app.Metrics.Registry, promhttp.HandlerOpts{})
}

// metrics serves /metrics on the main address to a caller with the
// metrics_token (compared in constant time); without a configured token
// the route does not exist there.
func (s *Server) metrics(c echo.Context) error {
	got := strings.TrimPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(got), []byte(s.app.Config.MetricsToken)) != 1 {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
		return c.NoContent(http.StatusUnauthorized)
	}
	s.metricsHandler().ServeHTTP(c.Response(), c.Request())
	return nil
}
