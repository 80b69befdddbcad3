package jobs

import (
	"context"
	"errors"
	"time"

	"opendata/db"
	"opendata/errs"
)

// Backlog is how many jobs wait for a worker and since when the oldest
// has waited (zero when none waits).
func (q *Queue) Backlog(ctx context.Context) (waiting int64, oldest time.Time, err error) {
	if err := q.DB.QueryRow(ctx, "SELECT COUNT(*) FROM jobs WHERE status = ?", Queued).Scan(&waiting); err != nil {
		return 0, time.Time{}, err
	}
	if waiting == 0 {
		return 0, time.Time{}, nil
	}
	err = q.DB.QueryRow(ctx, "SELECT created_at FROM jobs WHERE status = ? ORDER BY created_at LIMIT 1", Queued).Scan(&oldest)
	if errors.Is(db.MapErr(err), errs.NotFound) {
		return 0, time.Time{}, nil // taken since the count
	}
	return waiting, oldest, err
}
