package publish

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"opendata/db"
	"opendata/search"
)

// The search change log: every change to what the search shows is a row in
// search_changes, and every instance applies the rows to its index. The
// embedded index exists once per instance, so each one follows the log on
// its own and keeps its position inside the index; a shared backend
// (Meilisearch) is delivered to by one instance at a time, under a lease,
// with its position in search_cursors, so a failed delivery is retried
// from where it stopped. Applying a row reads the resource as it is now,
// so applying it twice, or late, is harmless.

// Kinds of change.
const (
	// ChangeResource: index the resource if it is public, else remove it.
	ChangeResource = "resource"
	// ChangeCounts: only its usage counts changed (facets unchanged).
	ChangeCounts = "counts"
	// ChangeRebuild: rebuild the whole index from the database.
	ChangeRebuild = "rebuild"
	// ChangeSynonyms: the synonym dictionary changed.
	ChangeSynonyms = "synonyms"
)

// Change is one row of the log.
type Change struct {
	Seq        int64
	Kind       string
	ResourceID int64
}

// querier is a database or a transaction.
type querier interface {
	Exec(ctx context.Context, q string, args ...any) (sql.Result, error)
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) *sql.Row
	InsertID(ctx context.Context, q string, args ...any) (int64, error)
}

// RecordChange appends a change to the log. q may be a transaction, so
// the change commits (or not) with what it describes.
func RecordChange(ctx context.Context, q querier, kind string, rid int64) (int64, error) {
	seq, err := q.InsertID(ctx, "INSERT INTO search_changes (kind, resource_id, at) VALUES (?, ?, ?)", kind, rid, db.Now())
	if err != nil {
		return 0, fmt.Errorf("record search change: %w", err)
	}
	return seq, nil
}

// LatestChange is the newest sequence number in the log (0 when empty).
func LatestChange(ctx context.Context, q querier) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) FROM search_changes").Scan(&n)
	return n, db.MapErr(err)
}

func oldestChange(ctx context.Context, q querier) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, "SELECT COALESCE(MIN(id), 0) FROM search_changes").Scan(&n)
	return n, db.MapErr(err)
}

func changesAfter(ctx context.Context, q querier, seq int64, limit int) ([]Change, error) {
	return db.QueryAll(ctx, q, "SELECT id, kind, resource_id FROM search_changes WHERE id > ? ORDER BY id LIMIT ?", func(r db.Scanner) (Change, error) {
		var c Change
		return c, r.Scan(&c.Seq, &c.Kind, &c.ResourceID)
	}, seq, limit)
}

// PruneChanges removes log rows older than keep. An instance whose index
// stands before the oldest row left rebuilds it from the database.
func PruneChanges(ctx context.Context, d *db.DB, keep time.Duration) (int64, error) {
	res, err := d.Exec(ctx, "DELETE FROM search_changes WHERE at < ? AND id < (SELECT MAX(id) FROM search_changes)", db.Now().Add(-keep))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Follower applies the change log to one index.
type Follower struct {
	Service *Service
	Index   search.Index
	Log     *slog.Logger
	// Shared: the index is one for every instance (Meilisearch); deliveries
	// are made by the instance holding the lease named Cursor.
	Shared bool
	Cursor string
	// Instance names this process in leases.
	Instance string
	// Poll is how often the log is read (default 500 ms).
	Poll time.Duration
	// Synonyms reloads the dictionary; it runs on every instance when the
	// dictionary changes, and at start.
	Synonyms func(ctx context.Context) (*search.Dictionary, error)
	// GapWait is how long a missing sequence number (a transaction that
	// took it and has not committed yet) holds the saved position back.
	GapWait time.Duration

	mu          sync.Mutex
	withdrawnTo time.Time // withdrawals that took effect up to here are applied
	local       tracker   // this instance's position (the embedded index, or the dictionary)
	shared      tracker   // the shared backend's position, while this instance delivers
	holding     bool
	lastSeen    int64
}

// tracker advances a position over applied sequence numbers, waiting a
// while at gaps: PostgreSQL hands out sequence numbers in the order
// transactions ask, but they may commit in another order.
type tracker struct {
	pos     int64
	applied map[int64]bool
	gaps    map[int64]time.Time
}

func (t *tracker) reset(pos int64) {
	t.pos, t.applied, t.gaps = pos, map[int64]bool{}, map[int64]time.Time{}
}

// advance moves pos over applied numbers and over gaps older than wait.
func (t *tracker) advance(now time.Time, wait time.Duration, newest int64) {
	for next := t.pos + 1; next <= newest; next++ {
		if t.applied[next] {
			delete(t.applied, next)
			delete(t.gaps, next)
			t.pos = next
			continue
		}
		first, seen := t.gaps[next]
		if !seen {
			t.gaps[next] = now
			return
		}
		if now.Sub(first) < wait {
			return
		}
		delete(t.gaps, next)
		t.pos = next
	}
}

const changeBatch = 500

func (f *Follower) poll() time.Duration {
	if f.Poll > 0 {
		return f.Poll
	}
	return 500 * time.Millisecond
}

func (f *Follower) gapWait() time.Duration {
	if f.GapWait > 0 {
		return f.GapWait
	}
	return time.Minute
}

func (f *Follower) log() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.Default()
}

// Start brings the index up to date before the instance serves: it loads
// the dictionary, and rebuilds the embedded index when it is new, empty or
// older than the log kept.
func (f *Follower) Start(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.Service.DB
	latest, err := LatestChange(ctx, d)
	if err != nil {
		return err
	}
	f.local.reset(latest)
	f.shared.reset(0)
	if f.Synonyms != nil {
		if err := f.loadSynonyms(ctx); err != nil {
			f.log().Error("load synonym dictionary", "err", err)
		}
	}
	if f.Shared {
		return nil
	}
	pos, ok, n := int64(0), false, 0
	if p, isPos := f.Index.(search.Positioned); isPos {
		if pos, ok, err = p.Position(); err != nil {
			return err
		}
	}
	if n, err = f.Index.Count(ctx); err != nil {
		return err
	}
	oldest, err := oldestChange(ctx, d)
	if err != nil {
		return err
	}
	if ok && n > 0 && pos >= oldest-1 {
		f.local.reset(pos)
		return nil
	}
	// Rebuild, then follow from the position taken before the rebuild
	// began: changes made during it are applied again, harmlessly.
	done, err := f.Service.ReindexAll(ctx, nil)
	if err != nil {
		return fmt.Errorf("rebuild search index: %w", err)
	}
	if done > 0 {
		f.log().Info("search index rebuilt from the database", "documents", done)
	}
	f.local.reset(latest)
	return f.savePosition()
}

func (f *Follower) savePosition() error {
	if p, ok := f.Index.(search.Positioned); ok {
		return p.SetPosition(f.local.pos)
	}
	return nil
}

func (f *Follower) loadSynonyms(ctx context.Context) error {
	dict, err := f.Synonyms(ctx)
	if err != nil {
		return err
	}
	if s, ok := f.Index.(search.SynonymSetter); ok {
		if f.Shared && !f.holding {
			// Only the delivering instance pushes to a shared backend; the
			// others keep the dictionary for explaining results.
			if l, ok := f.Index.(interface{ UseSynonyms(*search.Dictionary) }); ok {
				l.UseSynonyms(dict)
				return nil
			}
		}
		return s.SetSynonyms(ctx, dict)
	}
	return nil
}

// ReloadSynonyms puts the stored dictionary in force on this instance now
// (the instance where the bureau edited it; the others follow the log).
func (f *Follower) ReloadSynonyms(ctx context.Context) error {
	if f.Synonyms == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loadSynonyms(ctx)
}

// Run follows the log until ctx ends.
func (f *Follower) Run(ctx context.Context) {
	t := time.NewTicker(f.poll())
	defer t.Stop()
	for {
		if err := f.Step(ctx); err != nil && ctx.Err() == nil {
			f.log().Warn("search change log", "err", err)
		}
		select {
		case <-ctx.Done():
			f.releaseLease(context.Background())
			return
		case <-t.C:
		}
	}
}

// Step applies what is new in the log once (Run calls it on every tick;
// tests call it directly).
func (f *Follower) Step(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.local.applied == nil {
		f.local.reset(0)
		f.shared.reset(0)
	}
	var errLocal, errShared, errWithdrawn error
	errLocal = f.stepLocal(ctx)
	if f.Shared {
		errShared = f.stepShared(ctx)
	}
	if !f.Shared || f.holding {
		errWithdrawn = f.applyWithdrawals(ctx)
	}
	return errors.Join(errLocal, errShared, errWithdrawn)
}

// applyWithdrawals removes resources whose announced withdrawal has taken
// effect since the last look. No one edits anything at that moment, so no
// change is logged: every index notices it by the clock.
func (f *Follower) applyWithdrawals(ctx context.Context) error {
	now := f.Service.Now.Now()
	ids, err := db.QueryAll(ctx, f.Service.DB, "SELECT id FROM resources WHERE withdraw_at > ? AND withdraw_at <= ?", db.Value[int64], f.withdrawnTo, now)
	if err != nil {
		return err
	}
	cs := make([]Change, len(ids))
	for i, id := range ids {
		cs[i] = Change{Kind: ChangeResource, ResourceID: id}
	}
	if err := f.apply(ctx, cs); err != nil {
		return err
	}
	f.withdrawnTo = now
	return nil
}

// stepLocal: the embedded index takes every change; with a shared backend
// only the dictionary is this instance's own.
func (f *Follower) stepLocal(ctx context.Context) error {
	changes, err := changesAfter(ctx, f.Service.DB, f.local.pos, changeBatch)
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		return nil
	}
	var todo []Change
	for _, c := range changes {
		if !f.local.applied[c.Seq] {
			todo = append(todo, c)
		}
	}
	if f.Shared {
		var err error
		for _, c := range todo {
			if c.Kind == ChangeSynonyms && f.Synonyms != nil {
				err = f.loadSynonyms(ctx)
				break
			}
		}
		if err != nil {
			return err
		}
	} else if err := f.apply(ctx, todo); err != nil {
		return err
	}
	for _, c := range todo {
		f.local.applied[c.Seq] = true
	}
	f.local.advance(time.Now(), f.gapWait(), changes[len(changes)-1].Seq)
	if f.Shared {
		return nil
	}
	return f.savePosition()
}

// apply carries out a batch: a rebuild covers everything before it, the
// rest is deduplicated by resource.
func (f *Follower) apply(ctx context.Context, cs []Change) error {
	rebuild, synonyms := false, false
	resources, counts := map[int64]bool{}, map[int64]bool{}
	var order []int64
	for _, c := range cs {
		switch c.Kind {
		case ChangeRebuild:
			rebuild = true
		case ChangeSynonyms:
			synonyms = true
		case ChangeResource, ChangeCounts:
			if !resources[c.ResourceID] && !counts[c.ResourceID] {
				order = append(order, c.ResourceID)
			}
			if c.Kind == ChangeResource {
				resources[c.ResourceID] = true
			} else {
				counts[c.ResourceID] = true
			}
		}
	}
	if synonyms && f.Synonyms != nil {
		if err := f.loadSynonyms(ctx); err != nil {
			return err
		}
	}
	svc := *f.Service
	svc.Index = f.Index
	if rebuild {
		_, err := svc.ReindexAll(ctx, nil)
		return err
	}
	var errs []error
	for _, rid := range order {
		var err error
		if resources[rid] {
			err = svc.applyResource(ctx, rid)
		} else {
			err = svc.applyCounts(ctx, rid)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("resource %d: %w", rid, err))
		}
	}
	return errors.Join(errs...)
}

const leaseTime = 10 * time.Second

// claimLease makes this instance the deliverer of the shared backend while
// no other holds a live lease.
func (f *Follower) claimLease(ctx context.Context) (bool, error) {
	d := f.Service.DB
	now := db.Now()
	if _, err := d.Exec(ctx, `INSERT INTO search_cursors (name, seq, owner, lease_until, updated_at) VALUES (?, 0, '', ?, ?)
		ON CONFLICT (name) DO NOTHING`, f.Cursor, now.Add(-time.Second), now); err != nil {
		return false, err
	}
	res, err := d.Exec(ctx, "UPDATE search_cursors SET owner = ?, lease_until = ? WHERE name = ? AND (owner = ? OR lease_until IS NULL OR lease_until < ?)",
		f.Instance, now.Add(leaseTime), f.Cursor, f.Instance, now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (f *Follower) releaseLease(ctx context.Context) {
	if !f.Shared {
		return
	}
	f.Service.DB.Exec(ctx, "UPDATE search_cursors SET lease_until = NULL WHERE name = ? AND owner = ?", f.Cursor, f.Instance)
}

// stepShared delivers new changes to the shared backend when this instance
// holds the lease. The saved position moves only after a delivery
// succeeded, and only while the lease is still this instance's.
func (f *Follower) stepShared(ctx context.Context) error {
	mine, err := f.claimLease(ctx)
	if err != nil {
		return err
	}
	if !mine {
		f.holding = false
		return nil
	}
	d := f.Service.DB
	if !f.holding {
		// Newly the deliverer: start from the saved position, and push the
		// dictionary once (another instance may have been pushing it).
		var pos int64
		if err := d.QueryRow(ctx, "SELECT seq FROM search_cursors WHERE name = ?", f.Cursor).Scan(&pos); err != nil {
			return db.MapErr(err)
		}
		f.shared.reset(pos)
		f.holding = true
		if f.Synonyms != nil {
			if err := f.loadSynonyms(ctx); err != nil {
				f.holding = false
				return err
			}
		}
	}
	changes, err := changesAfter(ctx, d, f.shared.pos, changeBatch)
	if err != nil || len(changes) == 0 {
		return err
	}
	var todo []Change
	for _, c := range changes {
		if !f.shared.applied[c.Seq] {
			todo = append(todo, c)
		}
	}
	if err := f.apply(ctx, todo); err != nil {
		return err // not advanced: delivered again next time
	}
	for _, c := range todo {
		f.shared.applied[c.Seq] = true
	}
	f.shared.advance(time.Now(), f.gapWait(), changes[len(changes)-1].Seq)
	res, err := d.Exec(ctx, "UPDATE search_cursors SET seq = ?, updated_at = ? WHERE name = ? AND owner = ? AND seq <= ?",
		f.shared.pos, db.Now(), f.Cursor, f.Instance, f.shared.pos)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		f.holding = false // the lease moved on; the new holder continues
	}
	return nil
}

// Positions reports where this instance stands in the log (for tests and
// the bureau's index page).
func (f *Follower) Positions() (local, shared int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.local.pos, f.shared.pos
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }
