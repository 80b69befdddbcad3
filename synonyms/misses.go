package synonyms

import (
	"context"
	"sync"
	"time"

	"opendata/db"
	"opendata/errs"
)

// Misses counts the queries that found nothing, in memory, and adds them to
// the database on Flush (the search path never writes). The number of
// distinct queries kept between flushes is bounded, so a flood of random
// queries costs a fixed amount of memory.
type Misses struct {
	mu      sync.Mutex
	pending map[string]int64
}

// maxPending bounds the distinct queries held between two flushes.
const maxPending = 5000

// Add counts one query with no results (already normalised by the search).
func (m *Misses) Add(query string) {
	if query == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending == nil {
		m.pending = map[string]int64{}
	}
	if _, ok := m.pending[query]; !ok && len(m.pending) >= maxPending {
		return
	}
	m.pending[query]++
}

// Flush adds the counted queries to search_misses.
func (m *Misses) Flush(ctx context.Context, d *db.DB) error {
	m.mu.Lock()
	pending := m.pending
	m.pending = nil
	m.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	now := db.Now()
	err := d.Tx(ctx, func(tx db.Querier) error {
		for q, n := range pending {
			if _, err := tx.Exec(ctx, `INSERT INTO search_misses (query, count, first_at, last_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (query) DO UPDATE SET count = search_misses.count + excluded.count, last_at = excluded.last_at`, q, n, now, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Keep the counts for the next flush.
		m.mu.Lock()
		for q, n := range pending {
			if m.pending == nil {
				m.pending = map[string]int64{}
			}
			m.pending[q] += n
		}
		m.mu.Unlock()
	}
	return err
}

// Miss is a query that found nothing, with how often.
type Miss struct {
	Query string    `json:"query"`
	Count int64     `json:"count"`
	First time.Time `json:"first_at"`
	Last  time.Time `json:"last_at"`
}

// ListMisses returns the most frequent queries without results.
func ListMisses(ctx context.Context, d *db.DB, limit int) ([]Miss, error) {
	return db.QueryAll(ctx, d, "SELECT query, count, first_at, last_at FROM search_misses ORDER BY count DESC, last_at DESC LIMIT ?", func(r db.Scanner) (Miss, error) {
		var m Miss
		var first, last db.Time
		err := r.Scan(&m.Query, &m.Count, &first, &last)
		m.First, m.Last = first.Time, last.Time
		return m, err
	}, limit)
}

// DismissMiss removes a query from the list (the bureau dealt with it).
func DismissMiss(ctx context.Context, d *db.DB, query string) error {
	res, err := d.Exec(ctx, "DELETE FROM search_misses WHERE query = ?", query)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.NotFoundf("err.misses.not_found", "q", query)
	}
	return nil
}
