// Package app opens the configured backends and builds the services on top
// of them. The server and the headless CLI commands share it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"opendata/access"
	"opendata/audit"
	"opendata/auth"
	"opendata/blob"
	"opendata/calendar"
	"opendata/catalog"
	"opendata/config"
	"opendata/db"
	"opendata/errs"
	"opendata/ingest"
	"opendata/jobs"
	"opendata/logs"
	"opendata/metrics"
	"opendata/notify"
	"opendata/publish"
	"opendata/query"
	"opendata/ratelimit"
	"opendata/refcache"
	"opendata/search"
	"opendata/sharing"
	"opendata/synonyms"
)

// App holds the backends and services.
type App struct {
	Config  config.Config
	Log     *slog.Logger
	DB      *db.DB
	Blobs   blob.Store
	Catalog *catalog.Store
	Users   *auth.Store
	Jobs    *jobs.Queue
	Ingest  *ingest.Service
	Index   search.Index
	Publish *publish.Service
	// Follower applies the search change log to Index (serve runs it).
	Follower *publish.Follower
	// Synonyms is the bureau's search dictionary; Misses counts the
	// searches that found nothing.
	Synonyms *synonyms.Store
	Misses   *synonyms.Misses
	Counter  *publish.Counter
	Audit    *audit.Log
	// Versions reloads cached reference data (the calendar, the key
	// cache) when another instance or the CLI changed it (serve runs it).
	Versions *refcache.Watcher
	// Calendar counts working days for every deadline.
	Calendar *calendar.Calendar
	Sharing  *sharing.Service
	Notify   *notify.Notifier
	CalStore *calendar.Store
	// Limits counts public API calls; AnonTier is the per-IP allowance.
	Limits   *ratelimit.Limits
	AnonTier ratelimit.Tier
	// Tiers are the limits of API keys by tier (registered, partner).
	Tiers map[string]ratelimit.Tier
	// Access runs developer accounts, API keys, applications and usage.
	Access *access.Service
	// Records is the query engine of the records API.
	Records *query.Engine
	// Cursors signs records API cursors with a secret shared through the database.
	Cursors query.Signer
	// Metrics is this process's Prometheus registry and series.
	Metrics *metrics.Metrics
}

// NewLogger builds the structured logger the config asks for.
func NewLogger(cfg config.Config) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// Open connects every backend and migrates the database.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	return open(ctx, cfg, log, true)
}

// OpenHeadless is Open without the search index, for command-line tools
// that run beside a server: the embedded index is held by the server, and
// every change they make reaches it through the search change log.
func OpenHeadless(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	return open(ctx, cfg, log, false)
}

// OpenBlobs connects the configured object store.
func OpenBlobs(ctx context.Context, cfg config.Config) (blob.Store, error) {
	if cfg.BlobBackend == "minio" {
		return blob.NewMinIO(ctx, blob.MinIOConfig{Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
			Bucket: cfg.S3Bucket, Region: cfg.S3Region, UseSSL: cfg.S3UseSSL})
	}
	return blob.NewLocal(filepath.Join(cfg.DataDir, "blobs"))
}

// BlevePath is where the embedded index lives.
func BlevePath(cfg config.Config) string {
	return filepath.Join(cfg.DataDir, "search", "catalog.bleve")
}

func open(ctx context.Context, cfg config.Config, log *slog.Logger, withIndex bool) (*App, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	d, err := db.Open(ctx, cfg.DatabaseURL, cfg.SQLitePath())
	if err != nil {
		return nil, err
	}
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	bs, err := OpenBlobs(ctx, cfg)
	if err != nil {
		d.Close()
		return nil, err
	}
	var idx search.Index
	switch {
	case !withIndex:
		err = errNoIndex
	case cfg.SearchBackend == "meilisearch":
		idx, err = search.OpenMeili(ctx, cfg.MeiliURL, cfg.MeiliKey, cfg.MeiliIndex)
	default:
		idx, err = search.OpenBleve(BlevePath(cfg))
	}
	if errors.Is(err, search.ErrLocked) {
		d.Close()
		return nil, fmt.Errorf("%w: is another opendata serve running on data directory %s? Each instance needs its own data_dir", err, cfg.DataDir)
	}
	if !withIndex {
		idx = unavailableIndex{err}
	} else if err != nil {
		// The platform still runs without search: the portal lists from the
		// database and says search is degraded.
		log.Error("search backend unavailable; continuing degraded", "backend", cfg.SearchBackend, "err", err)
		idx = unavailableIndex{err}
	}
	a, err := New(cfg, log, d, bs, idx)
	if err != nil {
		d.Close()
		return nil, err
	}
	if !withIndex {
		a.Publish.Index = nil // changes go to the change log only
	}
	if cfg.LimitStore == "redis" {
		if a.Limits, err = ratelimit.NewRedis(ctx, cfg.RedisURL, "opendata:rl:"); err != nil {
			d.Close()
			return nil, err
		}
		a.Users.Throttle.Limits = a.Limits
	}
	return a, nil
}

// New builds the services on backends the caller opened (tests use it to
// run the whole app on a PostgreSQL test database and MinIO).
func New(cfg config.Config, log *slog.Logger, d *db.DB, bs blob.Store, idx search.Index) (*App, error) {
	log = slog.New(logs.Handler(log.Handler())) // request and job ids in every line
	tmp := filepath.Join(cfg.DataDir, "tmp")
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return nil, err
	}
	cat := &catalog.Store{DB: d}
	a := &App{
		Config: cfg, Log: log, DB: d, Blobs: bs, Catalog: cat, Users: &auth.Store{DB: d}, Jobs: &jobs.Queue{DB: d, MaxAttempts: cfg.JobMaxAttempts},
		Ingest: &ingest.Service{Catalog: cat, Blobs: bs, Log: log, Limits: ingest.Limits{
			TempDir: tmp, MaxFileBytes: int64(cfg.MaxUploadMB) << 20, MaxFieldBytes: cfg.MaxFieldKB << 10,
			MaxColumns: cfg.MaxColumns, MaxHeaderBytes: cfg.MaxHeaderKB << 10,
			MaxUnzipBytes: int64(cfg.MaxUnzipMB) << 20, DedupMemoryBytes: int64(cfg.DedupMemoryMB) << 20, Location: cfg.Location(),
			MaxRejectRatio: cfg.MaxRejectRatio, NullMarkers: cfg.NullMarkers,
		}},
	}
	a.Index = idx
	a.Publish = &publish.Service{DB: d, Catalog: cat, Index: idx, Log: log, Approver: cfg.Approver,
		MinNotice: time.Duration(cfg.MinNoticeDays) * 24 * time.Hour}
	a.Synonyms, a.Misses = &synonyms.Store{DB: d}, &synonyms.Misses{}
	a.Publish.Missed, a.Publish.Searcher = a.Misses.Add, a.Search
	if err := a.Synonyms.SeedIfEmpty(context.Background()); err != nil {
		return nil, fmt.Errorf("seed the synonym dictionary: %w", err)
	}
	host, _ := os.Hostname()
	a.Follower = &publish.Follower{Service: a.Publish, Index: idx, Log: log, Shared: cfg.SearchBackend == "meilisearch",
		Cursor: "meilisearch:" + cfg.MeiliIndex, Instance: fmt.Sprintf("%s-%d-%d", host, os.Getpid(), time.Now().UnixNano()),
		Synonyms: a.Synonyms.Dictionary}
	a.Counter = publish.NewCounter(cfg.Location())
	keys, kerr := audit.LoadKeyFile(cfg.AuditKeyFile, true)
	if kerr != nil {
		return nil, kerr
	}
	a.Audit = &audit.Log{DB: d, Keys: keys, Checkpoints: bs}
	a.Publish.Audit = a.Audit
	a.Ingest.Audit = a.Audit
	cal := &calendar.Store{DB: d}
	year := time.Now().In(cfg.Location()).Year()
	if _, err := cal.Seed(context.Background(), year-3, year+1); err != nil {
		return nil, fmt.Errorf("seed the working-day calendar: %w", err)
	}
	// The versions are read before the copies they describe, so a change
	// committed in between is reloaded once more rather than missed.
	a.Versions = &refcache.Watcher{DB: d, Log: log}
	if err := a.Versions.Prime(context.Background()); err != nil {
		return nil, fmt.Errorf("reference data versions: %w", err)
	}
	var err error
	if a.Calendar, err = cal.Load(context.Background(), cfg.Location()); err != nil {
		return nil, err
	}
	a.Versions.On(refcache.Calendar, func(ctx context.Context) error { return cal.Reload(ctx, a.Calendar) })
	a.Notify = &notify.Notifier{DB: d, Log: log}
	if cfg.SMTPAddr != "" {
		a.Notify.Sender = &notify.Sender{DB: d, Log: log, MaxAttempts: cfg.SMTPMaxAttempts,
			Mail: &notify.Mailer{Addr: cfg.SMTPAddr, From: cfg.SMTPFrom, User: cfg.SMTPUser, Password: cfg.SMTPPassword, Timeout: cfg.SMTPTimeout}}
	}
	a.CalStore = cal
	a.Limits = ratelimit.NewMemory("opendata:rl:")
	loginIP, _ := ratelimit.ParseTier(cfg.LoginIPRate, 0)
	a.Users.Hasher = auth.NewHasher(cfg.HashConcurrency, 8*cfg.HashConcurrency, cfg.HashWait)
	a.Users.Throttle = &auth.Throttle{Limits: a.Limits, PerIP: loginIP, MaxFailures: cfg.LoginFailures, Window: time.Hour,
		Lockout: cfg.LoginLockout, MaxLockout: cfg.LoginMaxLockout, Log: log}
	a.Users.OnLock = a.lockNotice
	a.AnonTier, _ = ratelimit.ParseTier(cfg.AnonRate, int64(cfg.AnonDaily)) // validated with the config
	a.Sharing = &sharing.Service{DB: d, Catalog: cat, Audit: a.Audit, Calendar: a.Calendar, Log: log, Notify: a.Notify}
	reg, _ := ratelimit.ParseTier(cfg.RegisteredRate, int64(cfg.RegisteredDaily))
	partner, _ := ratelimit.ParseTier(cfg.PartnerRate, int64(cfg.PartnerDaily))
	a.Tiers = map[string]ratelimit.Tier{access.TierRegistered: reg, access.TierPartner: partner}
	a.Access = &access.Service{DB: d, Users: a.Users, Catalog: cat, Audit: a.Audit, Notify: a.Notify, Calendar: a.Calendar, Log: log,
		KeyMaxDays: cfg.KeyMaxDays, KeyCacheTTL: cfg.KeyCacheTTL, ApplicationDays: cfg.ApplicationDays, VerifyByEmail: cfg.SMTPAddr != "" && cfg.SignupApproval == "auto",
		Usage: &access.Usage{Location: cfg.Location()}}
	a.Sharing.OpenGrants = a.Access // on-application grants in the read matrix
	a.Versions.On(refcache.Keys, func(context.Context) error { a.Access.ForgetKeys(); return nil })
	secret, err := db.Secret(context.Background(), d, "cursor_key")
	if err != nil {
		return nil, fmt.Errorf("cursor secret: %w", err)
	}
	a.Cursors = query.Signer{Secret: secret}
	if a.Records, err = query.Open(bs, query.Options{CacheDir: queryCacheDir(cfg.DataDir), CacheBytes: int64(cfg.QueryCacheMB) << 20,
		MemoryMB: cfg.QueryMemoryMB, Threads: cfg.QueryThreads, Timeout: cfg.QueryTimeout, Location: cfg.Location()}); err != nil {
		return nil, fmt.Errorf("records query engine: %w", err)
	}
	a.Metrics = metrics.New()
	a.instrument()
	if missing := a.Calendar.MissingYears(year, year+1); len(missing) > 0 {
		log.Warn("no holiday data for these years: deadlines count plain weekdays until the bureau imports the State Council notice (opendata calendar import)", "years", missing)
	}

	return a, nil
}

// lockNotice tells a user their account was locked after wrong passwords:
// in their inbox and, with SMTP, by e-mail. It runs beside the request (the
// refused attempt need not wait for the mail server).
func (a *App) lockNotice(ctx context.Context, u auth.User, n auth.LockNotice) {
	loc := a.Config.Location()
	params := notify.Params("failures", n.Failures, "until", n.Until.In(loc).Format("2006-01-02 15:04"), "ip", n.IP)
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		a.Notify.Send(ctx, "account_locked", params, "/login", notify.To{UserID: u.ID})
	}()
}

// queryCacheDir is this process's own cache directory; directories left by
// processes that stopped more than a day ago are removed.
func queryCacheDir(dataDir string) string {
	root := filepath.Join(dataDir, "cache", "query")
	if ents, err := os.ReadDir(root); err == nil {
		for _, e := range ents {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > 24*time.Hour {
				os.RemoveAll(filepath.Join(root, e.Name()))
			}
		}
	}
	return filepath.Join(root, fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()))
}

// Close releases the backends.
func (a *App) Close() error {
	if a.Index != nil {
		a.Index.Close()
	}
	if a.Records != nil {
		a.Records.Close()
		os.RemoveAll(a.Records.Dir())
	}
	return a.DB.Close()
}

var errNoIndex = errors.New("not opened by command-line tools (the server holds it)")

// unavailableIndex stands in when the search backend could not be opened.
type unavailableIndex struct{ err error }

func (u unavailableIndex) Index(context.Context, ...search.Doc) error { return u.fail() }
func (u unavailableIndex) Delete(context.Context, ...string) error    { return u.fail() }
func (u unavailableIndex) Search(context.Context, search.Query) (search.Result, error) {
	return search.Result{}, u.fail()
}
func (u unavailableIndex) Count(context.Context) (int, error) { return 0, u.fail() }
func (u unavailableIndex) Ping(context.Context) error         { return u.fail() }
func (u unavailableIndex) Close() error                       { return nil }
func (u unavailableIndex) fail() error {
	return errs.Internal(errs.Unavailable, fmt.Errorf("search backend: %w", u.err))
}

// Classify gives a raw backend error (a driver's or the network's) its
// kind, so the HTTP layer maps it without knowing the database.
func Classify(err error) error { return db.MapErr(err) }
