// Package refcache keeps reference data that instances cache in memory —
// the working-day calendar, the API key cache — the same on every
// instance. Each kind of data has a version row in the metadata database;
// whoever changes the data bumps the row in the same transaction, and every
// instance's Watcher reads the rows (one small query) every Every and
// reloads what changed. A change made on one instance, or by the CLI
// beside a running server, is in force everywhere within Every plus the
// reload.
//
// The search synonym dictionary travels by the search change log instead
// (publish.ChangeSynonyms), which every instance already follows.
package refcache

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"time"

	"opendata/db"
)

// Names of the versioned reference data.
const (
	Calendar = "calendar" // calendar_days and calendar_years
	Keys     = "keys"     // API keys, developer accounts and their tiers
)

// execer is a database or a transaction.
type execer interface {
	Exec(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// Bump records that name's data changed. q should be the transaction that
// changes it, so the version moves exactly when the change commits.
func Bump(ctx context.Context, q execer, name string) error {
	_, err := q.Exec(ctx, `INSERT INTO cache_versions (name, version) VALUES (?, 1)
		ON CONFLICT (name) DO UPDATE SET version = cache_versions.version + 1`, name)
	return err
}

// Versions reads every version row.
func Versions(ctx context.Context, d *db.DB) (map[string]int64, error) {
	return db.QueryMap[string, int64](ctx, d, "SELECT name, version FROM cache_versions")
}

// Watcher reloads this instance's copies when their version moves.
type Watcher struct {
	DB *db.DB
	// Every is how often the versions are read (default 500 ms).
	Every time.Duration
	Log   *slog.Logger

	mu      sync.Mutex
	reloads map[string]func(context.Context) error
	seen    map[string]int64
	primed  bool
}

// On registers the reload of name's data. Register before Prime or Run.
func (w *Watcher) On(name string, reload func(context.Context) error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reloads == nil {
		w.reloads = map[string]func(context.Context) error{}
	}
	w.reloads[name] = reload
}

// Prime takes the current versions as the ones this instance's copies
// reflect (call it just before loading them at start; a change committed
// between the two is reloaded once more, harmlessly).
func (w *Watcher) Prime(ctx context.Context) error {
	v, err := Versions(ctx, w.DB)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.seen, w.primed = v, true
	w.mu.Unlock()
	return nil
}

// Check reads the versions once and reloads every copy whose version moved
// since the last check. A reload that fails is tried again at the next
// check. It returns the names reloaded.
func (w *Watcher) Check(ctx context.Context) ([]string, error) {
	v, err := Versions(ctx, w.DB)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.primed {
		w.seen, w.primed = v, true
		return nil, nil
	}
	var done []string
	var firstErr error
	for name, reload := range w.reloads {
		if v[name] == w.seen[name] {
			continue
		}
		if err := reload(ctx); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		w.seen[name] = v[name]
		done = append(done, name)
	}
	return done, firstErr
}

func (w *Watcher) every() time.Duration {
	if w.Every > 0 {
		return w.Every
	}
	return 500 * time.Millisecond
}

// Run checks every Every until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.every())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		names, err := w.Check(ctx)
		if err != nil && ctx.Err() == nil && w.Log != nil {
			w.Log.Warn("reference data: reload after a change elsewhere", "err", err)
		}
		if len(names) > 0 && w.Log != nil {
			w.Log.Info("reference data reloaded after a change", "names", names)
		}
	}
}
