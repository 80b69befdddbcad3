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

	"opendata/auth"
	"opendata/blob"
	"opendata/catalog"
	"opendata/config"
	"opendata/db"
	"opendata/ingest"
	"opendata/jobs"
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
	var bs blob.Store
	switch cfg.BlobBackend {
	case "minio":
		bs, err = blob.NewMinIO(ctx, blob.MinIOConfig{Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
			Bucket: cfg.S3Bucket, Region: cfg.S3Region, UseSSL: cfg.S3UseSSL})
	default:
		bs, err = blob.NewLocal(filepath.Join(cfg.DataDir, "blobs"))
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	a, err := New(cfg, log, d, bs)
	if err != nil {
		d.Close()
		return nil, err
	}
	return a, nil
}

// New builds the services on backends the caller opened (tests use it to
// run the whole app on a PostgreSQL test database and MinIO).
func New(cfg config.Config, log *slog.Logger, d *db.DB, bs blob.Store) (*App, error) {
	tmp := filepath.Join(cfg.DataDir, "tmp")
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return nil, err
	}
	cat := &catalog.Store{DB: d}
	a := &App{
		Config: cfg, Log: log, DB: d, Blobs: bs, Catalog: cat, Users: &auth.Store{DB: d}, Jobs: &jobs.Queue{DB: d},
		Ingest: &ingest.Service{Catalog: cat, Blobs: bs, Log: log, Limits: ingest.Limits{
			TempDir: tmp, MaxFileBytes: int64(cfg.MaxUploadMB) << 20, MaxFieldBytes: cfg.MaxFieldKB << 10,
			MaxUnzipBytes: int64(cfg.MaxUnzipMB) << 20, DedupMemoryBytes: int64(cfg.DedupMemoryMB) << 20, Location: cfg.Location(),
		}},
	}
	return a, nil
}

// Close releases the backends.
func (a *App) Close() error { return a.DB.Close() }

// Ready checks every backend (the /readyz probe).
func (a *App) Ready(ctx context.Context) map[string]error {
	return map[string]error{"database": a.DB.Ping(ctx), "blobs": a.Blobs.Ping(ctx)}
}

// ReadyErr joins Ready's failures.
func (a *App) ReadyErr(ctx context.Context) error {
	var all []error
	for name, err := range a.Ready(ctx) {
		if err != nil {
			all = append(all, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(all...)
}
