package workflow_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"opendata/calendar"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/notify"
	"opendata/workflow"
)

// testClock is a workflow with deadlines kept in a table of its own, read
// back on every Open as a real clock reads its items.
type testClock struct {
	d         *db.DB
	deadlines map[int64]time.Time
	overdue   bool // the clock has an overdue notice
}

func (testClock) Table() string { return "clock_items" }

func (c testClock) Open(ctx context.Context) ([]workflow.Item, error) {
	return db.QueryAll(ctx, c.d, "SELECT id, reminded_at IS NOT NULL, overdue_at IS NOT NULL FROM clock_items ORDER BY id", func(r db.Scanner) (workflow.Item, error) {
		var it workflow.Item
		err := r.Scan(&it.ID, &it.Reminded, &it.ToldOverdue)
		it.Deadline = c.deadlines[it.ID]
		it.Remind = &workflow.Notice{Kind: "clock_due", Params: map[string]string{}, Link: "/x", To: []notify.To{{DepartmentID: 1}}}
		if c.overdue {
			it.Overdue = &workflow.Notice{Kind: "clock_overdue", Params: map[string]string{}, Link: "/x", To: []notify.To{{Role: "bureau_admin"}}}
		}
		return it, err
	})
}

func TestNudge(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	// Wednesday 2025-03-12, 10:00; no holidays that week.
	now := time.Date(2025, 3, 12, 10, 0, 0, 0, loc)
	cal := calendar.New(loc, nil, []int{2025})
	cases := []struct {
		name           string
		deadline       time.Time
		reminded, told bool
		overdue        bool // the clock has an overdue notice
		want           []string
	}{
		{"three working days left: nothing yet", cal.AddWorkingDays(now, 3), false, false, true, nil},
		{"one working day left: remind", cal.AddWorkingDays(now, 1), false, false, true, []string{"clock_due"}},
		{"reminded already: nothing", cal.AddWorkingDays(now, 1), true, false, true, nil},
		{"past the deadline: overdue notice", now.Add(-time.Hour), false, false, true, []string{"clock_overdue"}},
		{"past and told: nothing", now.Add(-time.Hour), true, true, true, nil},
		{"past, clock without overdue notice: nothing", now.Add(-time.Hour), true, false, false, nil},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		ts := "TIMESTAMP"
		if d.Dialect == db.Postgres {
			ts = "TIMESTAMPTZ"
		}
		if _, err := d.Exec(ctx, "CREATE TABLE clock_items (id INTEGER PRIMARY KEY, reminded_at "+ts+", overdue_at "+ts+")"); err != nil {
			t.Fatal(err)
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				id := int64(i + 1)
				if _, err := d.Exec(ctx, "DELETE FROM clock_items"); err != nil {
					t.Fatal(err)
				}
				if _, err := d.Exec(ctx, "DELETE FROM notifications"); err != nil {
					t.Fatal(err)
				}
				var rem, over any
				if tc.reminded {
					rem = now.Add(-24 * time.Hour)
				}
				if tc.told {
					over = now.Add(-time.Hour)
				}
				if _, err := d.Exec(ctx, "INSERT INTO clock_items (id, reminded_at, overdue_at) VALUES (?, ?, ?)", id, rem, over); err != nil {
					t.Fatal(err)
				}
				c := testClock{d: d, deadlines: map[int64]time.Time{id: tc.deadline}, overdue: tc.overdue}
				n := &notify.Notifier{DB: d}
				// Three instances nudge at once: each notice goes out once.
				var wg sync.WaitGroup
				total := make([]int, 3)
				for k := range total {
					wg.Add(1)
					go func() {
						defer wg.Done()
						sent, err := workflow.Nudge(ctx, d, cal, n, now, c)
						if err != nil {
							t.Error(err)
						}
						total[k] = sent
					}()
				}
				wg.Wait()
				// A later run sends nothing more.
				again, err := workflow.Nudge(ctx, d, cal, n, now, c)
				if err != nil {
					t.Fatal(err)
				}
				kinds, err := db.QueryAll(ctx, d, "SELECT kind FROM notifications ORDER BY id", db.Value[string])
				if err != nil {
					t.Fatal(err)
				}
				if len(kinds) != len(tc.want) || (len(kinds) == 1 && kinds[0] != tc.want[0]) {
					t.Fatalf("notices %v, want %v", kinds, tc.want)
				}
				if sum := total[0] + total[1] + total[2]; sum != len(tc.want) || again != 0 {
					t.Fatalf("instances reported %v sent and a later run %d; want %d in all, then 0", total, again, len(tc.want))
				}
			})
		}
	})
}
