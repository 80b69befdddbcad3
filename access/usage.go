package access

import (
	"context"
	"sort"
	"sync"
	"time"

	"opendata/db"
)

// Usage counts records API calls, rows and bytes per account, key,
// dataset and day in memory and adds them to the database on Flush, so a
// call costs no write.
type Usage struct {
	Location *time.Location
	mu       sync.Mutex
	pending  map[usageKey]*UsageCount
}

type usageKey struct {
	User, Key, Resource int64
	Day                 string
}

// UsageCount is what was served.
type UsageCount struct {
	Calls int64 `json:"calls"`
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
}

// Add counts one call (user and key 0: anonymous).
func (u *Usage) Add(user, key, resource, rows, bytes int64, at time.Time) {
	k := usageKey{user, key, resource, at.In(u.Location).Format("2006-01-02")}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.pending == nil {
		u.pending = map[usageKey]*UsageCount{}
	}
	c := u.pending[k]
	if c == nil {
		c = &UsageCount{}
		u.pending[k] = c
	}
	c.Calls++
	c.Rows += rows
	c.Bytes += bytes
}

// Flush adds the pending counts to the database; on failure they are kept
// for the next flush.
func (u *Usage) Flush(ctx context.Context, d *db.DB) error {
	u.mu.Lock()
	batch := u.pending
	u.pending = nil
	u.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := d.Tx(ctx, func(q db.Querier) error {
		for k, c := range batch {
			if _, err := q.Exec(ctx, `INSERT INTO api_usage (user_id, key_id, resource_id, day, calls, rows_out, bytes_out) VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (user_id, key_id, resource_id, day) DO UPDATE SET calls = api_usage.calls + excluded.calls,
				rows_out = api_usage.rows_out + excluded.rows_out, bytes_out = api_usage.bytes_out + excluded.bytes_out`,
				k.User, k.Key, k.Resource, k.Day, c.Calls, c.Rows, c.Bytes); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		u.mu.Lock()
		for k, c := range batch {
			if u.pending == nil {
				u.pending = map[usageKey]*UsageCount{}
			}
			if p := u.pending[k]; p != nil {
				p.Calls, p.Rows, p.Bytes = p.Calls+c.Calls, p.Rows+c.Rows, p.Bytes+c.Bytes
			} else {
				u.pending[k] = c
			}
		}
		u.mu.Unlock()
	}
	return err
}

// UsageRow is one line of a usage report.
type UsageRow struct {
	Label string `json:"label"`
	ID    int64  `json:"id"`
	UsageCount
}

// Report is usage over the last days: a daily series and totals by a
// dimension (dataset, key or department).
type Report struct {
	Days   []string     `json:"days"`
	Daily  []UsageCount `json:"daily"`
	Totals UsageCount   `json:"totals"`
	By     []UsageRow   `json:"by"`
}

// UsageScope says whose usage a report covers.
type UsageScope struct {
	UserID       int64 // one developer's calls
	DepartmentID int64 // calls on one department's datasets
	// neither: everything (the bureau)
}

// Report sums usage for the last days days, by dataset (developer,
// bureau) or by caller (department).
func (s *Service) Report(ctx context.Context, scope UsageScope, days int) (Report, error) {
	loc := s.Calendar.Location()
	today := s.Now.Now().In(loc)
	from := today.AddDate(0, 0, -(days - 1)).Format("2006-01-02")
	rep := Report{}
	idx := map[string]int{}
	for i := 0; i < days; i++ {
		d := today.AddDate(0, 0, -(days-1)+i).Format("2006-01-02")
		idx[d] = i
		rep.Days = append(rep.Days, d)
	}
	rep.Daily = make([]UsageCount, days)
	where, args := "u.day >= ?", []any{from}
	label := "COALESCE(r.code, '') || ' ' || COALESCE(r.name, '')"
	group := "u.resource_id"
	switch {
	case scope.UserID != 0:
		where, args = where+" AND u.user_id = ?", append(args, scope.UserID)
	case scope.DepartmentID != 0:
		where, args = where+" AND r.department_id = ?", append(args, scope.DepartmentID)
		// Who uses the department's data: the account, or "anonymous".
		label = "COALESCE(NULLIF(us.organisation, ''), us.display_name, '')"
		group = "u.user_id"
	}
	from2 := " FROM api_usage u LEFT JOIN resources r ON r.id = u.resource_id LEFT JOIN users us ON us.id = u.user_id WHERE " + where
	type dayCount struct {
		day string
		c   UsageCount
	}
	sums, err := db.QueryAll(ctx, s.DB, "SELECT u.day, SUM(u.calls), SUM(u.rows_out), SUM(u.bytes_out)"+from2+" GROUP BY u.day", func(r db.Scanner) (dayCount, error) {
		var d dayCount
		return d, r.Scan(&d.day, &d.c.Calls, &d.c.Rows, &d.c.Bytes)
	}, args...)
	if err != nil {
		return rep, err
	}
	for _, d := range sums {
		if i, ok := idx[d.day]; ok {
			rep.Daily[i] = d.c
			rep.Totals.Calls += d.c.Calls
			rep.Totals.Rows += d.c.Rows
			rep.Totals.Bytes += d.c.Bytes
		}
	}
	rep.By, err = db.QueryAll(ctx, s.DB, "SELECT "+group+", MAX("+label+"), SUM(u.calls), SUM(u.rows_out), SUM(u.bytes_out)"+from2+" GROUP BY "+group, func(r db.Scanner) (UsageRow, error) {
		var u UsageRow
		var lbl *string
		if err := r.Scan(&u.ID, &lbl, &u.Calls, &u.Rows, &u.Bytes); err != nil {
			return u, err
		}
		if lbl != nil {
			u.Label = *lbl
		}
		return u, nil
	}, args...)
	if err != nil {
		return rep, err
	}
	sort.Slice(rep.By, func(i, j int) bool { return rep.By[i].Calls > rep.By[j].Calls })
	return rep, nil
}
