package publish

import (
	"context"
	"slices"
	"sync"
	"time"

	"opendata/db"
)

// Counter counts page views and downloads in memory and adds them to the
// database in one statement per resource and day on Flush, so the hot path
// never writes to the database.
type Counter struct {
	mu      sync.Mutex
	pending map[counterKey]*[2]int64
	loc     *time.Location
}

type counterKey struct {
	resource int64
	day      string
}

// NewCounter counts days in loc.
func NewCounter(loc *time.Location) *Counter {
	return &Counter{pending: map[counterKey]*[2]int64{}, loc: loc}
}

func (c *Counter) add(rid int64, kind int) {
	k := counterKey{rid, time.Now().In(c.loc).Format("2006-01-02")}
	c.mu.Lock()
	p := c.pending[k]
	if p == nil {
		p = new([2]int64)
		c.pending[k] = p
	}
	p[kind]++
	c.mu.Unlock()
}

// View counts a page view.
func (c *Counter) View(rid int64) { c.add(rid, 0) }

// Download counts a download.
func (c *Counter) Download(rid int64) { c.add(rid, 1) }

// Flush writes the pending counts and returns the resources whose download
// counts changed (their search documents need updating).
func (c *Counter) Flush(ctx context.Context, d *db.DB) ([]int64, error) {
	c.mu.Lock()
	pending := c.pending
	c.pending = map[counterKey]*[2]int64{}
	c.mu.Unlock()
	var changed []int64
	seen := map[int64]bool{}
	for k, v := range pending {
		_, err := d.Exec(ctx, `INSERT INTO resource_stats (resource_id, day, views, downloads) VALUES (?, ?, ?, ?)
			ON CONFLICT (resource_id, day) DO UPDATE SET views = resource_stats.views + excluded.views, downloads = resource_stats.downloads + excluded.downloads`,
			k.resource, k.day, v[0], v[1])
		if err != nil {
			// Put the counts back so they are not lost.
			c.mu.Lock()
			p := c.pending[k]
			if p == nil {
				p = new([2]int64)
				c.pending[k] = p
			}
			p[0], p[1] = p[0]+v[0], p[1]+v[1]
			c.mu.Unlock()
			return changed, err
		}
		if v[1] > 0 && !seen[k.resource] {
			seen[k.resource] = true
			changed = append(changed, k.resource)
		}
	}
	return changed, nil
}

// Totals returns a resource's all-time views and downloads.
func (s *Service) Totals(ctx context.Context, rid int64) (views, downloads int64, err error) {
	err = s.DB.QueryRow(ctx, "SELECT COALESCE(SUM(views), 0), COALESCE(SUM(downloads), 0) FROM resource_stats WHERE resource_id = ?", rid).Scan(&views, &downloads)
	return views, downloads, db.MapErr(err)
}

// DayCount is one day's usage.
type DayCount struct {
	Day       string `json:"day"`
	Views     int64  `json:"views"`
	Downloads int64  `json:"downloads"`
}

// Daily returns the last days of usage, oldest first.
func (s *Service) Daily(ctx context.Context, rid int64, days int) ([]DayCount, error) {
	out, err := db.QueryAll(ctx, s.DB, "SELECT day, views, downloads FROM resource_stats WHERE resource_id = ? ORDER BY day DESC LIMIT ?", func(r db.Scanner) (DayCount, error) {
		var d DayCount
		return d, r.Scan(&d.Day, &d.Views, &d.Downloads)
	}, rid, days)
	slices.Reverse(out) // oldest first
	return out, err
}
