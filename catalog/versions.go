package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"opendata/auth"
	"opendata/db"
	"opendata/errs"
)

// Version statuses: a version is reserved as pending while its objects are
// written and becomes ready (visible) only in the transaction that commits
// it; a pending version is never listed.
const (
	VersionPending = "pending"
	VersionReady   = "ready"
)

// Object is one stored file of a version.
type Object struct {
	Name string `json:"name"`
	Key  string `json:"key"`
	Size int64  `json:"size"`
}

// VersionColumn is one column of a version's schema.
type VersionColumn struct {
	Name        string     `json:"name"`
	Type        ColumnType `json:"type"`
	Description string     `json:"description,omitempty"`
	Personal    bool       `json:"personal"`
	Open        Treatment  `json:"open"` // kept, masked, dropped
}

// Version is an immutable ingested version of a resource.
type Version struct {
	ID             int64           `json:"id"`
	ResourceID     int64           `json:"resource_id"`
	Number         int             `json:"number"`
	Status         string          `json:"status"`
	RowsStored     int64           `json:"rows_stored"`
	RowsRejected   int64           `json:"rows_rejected"`
	QualityScore   float64         `json:"quality_score"`
	SourceName     string          `json:"source_name"`
	SourceFormat   string          `json:"source_format"`
	SourceEncoding string          `json:"source_encoding,omitempty"`
	Objects        []Object        `json:"objects"`
	Columns        []VersionColumn `json:"columns"`
	CreatedAt      time.Time       `json:"created_at"`
	ReadyAt        *time.Time      `json:"ready_at,omitempty"`
}

// Prefix is where a version's objects live in the object store.
func (v Version) Prefix() string { return VersionPrefix(v.ResourceID, v.Number) }

// VersionPrefix is resources/{id}/v{n}/.
func VersionPrefix(resourceID int64, n int) string {
	return fmt.Sprintf("resources/%d/v%d/", resourceID, n)
}

// Object returns the named object of the version.
func (v Version) Object(name string) (Object, bool) {
	for _, o := range v.Objects {
		if o.Name == name {
			return o, true
		}
	}
	return Object{}, false
}

// ReserveVersion allocates the next version number as a pending row, so
// concurrent ingests of one resource get distinct numbers.
func (s *Store) ReserveVersion(ctx context.Context, actor auth.Actor, resourceID int64, source, format string) (Version, error) {
	var v Version
	err := s.DB.Tx(ctx, func(q db.Querier) error {
		// Serialise reservations per resource: SQLite's write transaction
		// already does; PostgreSQL needs the row lock.
		lock := "SELECT id, retired_at FROM resources WHERE id = ?"
		if q.Dialect() == db.Postgres {
			lock += " FOR UPDATE"
		}
		var rid int64
		var retired *time.Time
		if err := q.QueryRow(ctx, lock, resourceID).Scan(&rid, &retired); err != nil {
			return fmt.Errorf("resource %d: %w", resourceID, db.MapErr(err))
		}
		if retired != nil {
			return ErrRetired
		}
		var n int
		if err := q.QueryRow(ctx, "SELECT COALESCE(MAX(number), 0) FROM versions WHERE resource_id = ?", resourceID).Scan(&n); err != nil {
			return err
		}
		now := db.Now()
		id, err := q.InsertID(ctx, `INSERT INTO versions (resource_id, number, status, source_name, source_format, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, resourceID, n+1, VersionPending, source, format, actorID(actor), now)
		if err != nil {
			return err
		}
		v = Version{ID: id, ResourceID: resourceID, Number: n + 1, Status: VersionPending, SourceName: source, SourceFormat: format, CreatedAt: now}
		return nil
	})
	return v, err
}

// CommitVersion makes a pending version visible with its summary.
func (s *Store) CommitVersion(ctx context.Context, v Version) error {
	return s.CommitVersionWith(ctx, v, nil)
}

// CommitVersionWith commits the version and runs also in the same
// transaction (e.g. the job that made it recording its success), so both
// happen or neither does.
func (s *Store) CommitVersionWith(ctx context.Context, v Version, also func(q db.Querier) error) error {
	objs, _ := json.Marshal(v.Objects)
	cols, _ := json.Marshal(v.Columns)
	return s.DB.Tx(ctx, func(q db.Querier) error {
		res, err := q.Exec(ctx, `UPDATE versions SET status = ?, rows_stored = ?, rows_rejected = ?, quality_score = ?, source_encoding = ?,
		objects = ?, columns = ?, ready_at = ? WHERE id = ? AND status = ?`,
			VersionReady, v.RowsStored, v.RowsRejected, v.QualityScore, v.SourceEncoding, string(objs), string(cols), db.Now(), v.ID, VersionPending)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errs.Conflictf("err.version.not_pending", "id", v.ID)
		}
		if also != nil {
			return also(q)
		}
		return nil
	})
}

// AbortVersion removes a pending version's row (its objects are removed by
// the caller first).
func (s *Store) AbortVersion(ctx context.Context, id int64) error {
	_, err := s.DB.Exec(ctx, "DELETE FROM versions WHERE id = ? AND status = ?", id, VersionPending)
	return err
}

const versionCols = `id, resource_id, number, status, rows_stored, rows_rejected, quality_score, source_name, source_format,
	source_encoding, objects, columns, created_at, ready_at`

func scanVersion(row db.Scanner) (Version, error) {
	var v Version
	var objs, cols string
	var ready *time.Time
	if err := row.Scan(&v.ID, &v.ResourceID, &v.Number, &v.Status, &v.RowsStored, &v.RowsRejected, &v.QualityScore, &v.SourceName,
		&v.SourceFormat, &v.SourceEncoding, &objs, &cols, &v.CreatedAt, &ready); err != nil {
		return Version{}, db.MapErr(err)
	}
	v.ReadyAt = ready
	json.Unmarshal([]byte(objs), &v.Objects)
	json.Unmarshal([]byte(cols), &v.Columns)
	return v, nil
}

// ListVersions lists a resource's ready versions, newest first.
func (s *Store) ListVersions(ctx context.Context, resourceID int64) ([]Version, error) {
	return db.QueryAll(ctx, s.DB, "SELECT "+versionCols+" FROM versions WHERE resource_id = ? AND status = ? ORDER BY number DESC", scanVersion, resourceID, VersionReady)
}

// GetVersion returns a ready version.
func (s *Store) GetVersion(ctx context.Context, resourceID int64, number int) (Version, error) {
	v, err := scanVersion(s.DB.QueryRow(ctx, "SELECT "+versionCols+" FROM versions WHERE resource_id = ? AND number = ? AND status = ?", resourceID, number, VersionReady))
	if err != nil {
		return v, fmt.Errorf("version %d of resource %d: %w", number, resourceID, err)
	}
	return v, nil
}

// StalePending lists pending versions older than the cutoff: leftovers of a
// crashed ingest, to be cleaned up.
func (s *Store) StalePending(ctx context.Context, before time.Time) ([]Version, error) {
	return db.QueryAll(ctx, s.DB, "SELECT "+versionCols+" FROM versions WHERE status = ? AND created_at < ?", scanVersion, VersionPending, before)
}
