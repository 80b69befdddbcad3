// Package calendar counts working days the way Chinese administrative
// deadlines do: Monday to Friday, minus statutory holidays, plus the
// make-up working days (调休) the State Council announces each year. The
// holidays are data the bureau edits; they are seeded from lunar-go's
// HolidayUtil, which carries the announcements year by year.
package calendar

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/6tail/lunar-go/HolidayUtil"

	"opendata/db"
	"opendata/errs"
	"opendata/refcache"
)

// Day kinds.
const (
	Holiday = "holiday" // a statutory day off (may fall on a weekday)
	Workday = "workday" // a make-up working day (may fall on a weekend)
)

// Day is one exception to the Monday–Friday week.
type Day struct {
	Date string `json:"date"` // YYYY-MM-DD
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"`
}

// Calendar answers working-day questions in one time zone.
type Calendar struct {
	mu    sync.RWMutex
	days  map[string]string
	years map[int]bool
	loc   *time.Location
}

// New returns a calendar with the given exceptions.
func New(loc *time.Location, days []Day, years []int) *Calendar {
	c := &Calendar{days: map[string]string{}, years: map[int]bool{}, loc: loc}
	for _, d := range days {
		c.days[d.Date] = d.Kind
	}
	for _, y := range years {
		c.years[y] = true
	}
	return c
}

// Location is the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// IsWorkingDay reports whether t's date (in the calendar's zone) is a
// working day.
func (c *Calendar) IsWorkingDay(t time.Time) bool {
	t = t.In(c.loc)
	c.mu.RLock()
	kind := c.days[t.Format("2006-01-02")]
	c.mu.RUnlock()
	switch kind {
	case Holiday:
		return false
	case Workday:
		return true
	}
	return t.Weekday() != time.Saturday && t.Weekday() != time.Sunday
}

func (c *Calendar) endOfDay(t time.Time) time.Time {
	t = t.In(c.loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 23, 59, 59, 0, c.loc)
}

// AddWorkingDays returns the deadline n working days after from: counting
// starts the day after from (the day of filing does not count, whatever
// the hour), and the deadline is the end of the n-th working day.
func (c *Calendar) AddWorkingDays(from time.Time, n int) time.Time {
	d := from.In(c.loc)
	for n > 0 {
		d = time.Date(d.Year(), d.Month(), d.Day()+1, 12, 0, 0, 0, c.loc)
		if c.IsWorkingDay(d) {
			n--
		}
	}
	return c.endOfDay(d)
}

// WorkingDaysBetween counts the working days after a's date up to and
// including b's date (0 when b is not after a).
func (c *Calendar) WorkingDaysBetween(a, b time.Time) int {
	a, b = a.In(c.loc), b.In(c.loc)
	n := 0
	for d := time.Date(a.Year(), a.Month(), a.Day()+1, 12, 0, 0, 0, c.loc); !d.After(c.endOfDay(b)); d = d.AddDate(0, 0, 1) {
		if c.IsWorkingDay(d) {
			n++
		}
	}
	return n
}

// Left describes the time left before a deadline.
type Left struct {
	WorkingDays int  `json:"working_days"` // working days after today up to the deadline
	Overdue     bool `json:"overdue"`
	LastDay     bool `json:"last_day"` // the deadline is today
}

// TimeLeft reports the working days left at now.
func (c *Calendar) TimeLeft(now, deadline time.Time) Left {
	if now.After(deadline) {
		return Left{Overdue: true}
	}
	n := c.WorkingDaysBetween(now, deadline)
	return Left{WorkingDays: n, LastDay: c.endOfDay(now).Equal(c.endOfDay(deadline))}
}

// Nudge is what an open deadline calls for at a given moment.
type Nudge int

const (
	NudgeNone    Nudge = iota
	NudgeRemind        // one working day or less left: remind the one who must act
	NudgeOverdue       // past the deadline: tell them and whoever oversees them
)

// Sent says which nudges of a deadline went out already.
type Sent struct {
	Reminder bool // the reminder before the deadline
	Overdue  bool // the notice that it passed (or none is due: nobody is told)
}

// NudgeFor decides the nudge of a deadline, each sent once. Every clock in
// the platform (share requests, disputes, applications for open data)
// follows it, through workflow.Nudge.
func (c *Calendar) NudgeFor(now, deadline time.Time, sent Sent) Nudge {
	left := c.TimeLeft(now, deadline)
	switch {
	case left.Overdue && !sent.Overdue:
		return NudgeOverdue
	case !left.Overdue && left.WorkingDays <= 1 && !sent.Reminder:
		return NudgeRemind
	}
	return NudgeNone
}

// MissingYears lists the years in [from, to] with no holiday data loaded:
// deadlines in them count plain weekdays, which the bureau must know.
func (c *Calendar) MissingYears(from, to int) []int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []int
	for y := from; y <= to; y++ {
		if !c.years[y] {
			out = append(out, y)
		}
	}
	return out
}

// Set changes the exceptions of one year in memory (after a store write).
func (c *Calendar) Set(year int, days []Day) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prefix := fmt.Sprintf("%04d-", year)
	for k := range c.days {
		if strings.HasPrefix(k, prefix) {
			delete(c.days, k)
		}
	}
	for _, d := range days {
		c.days[d.Date] = d.Kind
	}
	c.years[year] = true
}

// Adopt puts other's exceptions in force in c (a reload after the
// calendar was edited elsewhere: every holder of c sees the change).
func (c *Calendar) Adopt(other *Calendar) {
	other.mu.RLock()
	days, years := make(map[string]string, len(other.days)), make(map[int]bool, len(other.years))
	for k, v := range other.days {
		days[k] = v
	}
	for k, v := range other.years {
		years[k] = v
	}
	other.mu.RUnlock()
	c.mu.Lock()
	c.days, c.years = days, years
	c.mu.Unlock()
}

// FromLunar returns the State Council holidays and make-up days of a year
// as lunar-go records them (empty when it has none).
func FromLunar(year int) []Day {
	var out []Day
	l := HolidayUtil.GetHolidaysByYear(year)
	for e := l.Front(); e != nil; e = e.Next() {
		h := e.Value.(*HolidayUtil.Holiday)
		kind := Holiday
		if h.IsWork() {
			kind = Workday
		}
		out = append(out, Day{Date: h.GetDay(), Kind: kind, Name: h.GetName()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date < out[j].Date })
	return out
}

// ParseCSV reads "date,kind,name" lines (a header line is allowed) and
// checks each one; errors name the line.
func ParseCSV(r io.Reader) (map[int][]Day, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	out := map[int][]Day{}
	line := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line++
		if err != nil {
			return nil, errs.Invalidf("err.calendar.line_unreadable", "line", line)
		}
		if line == 1 && strings.EqualFold(strings.TrimSpace(rec[0]), "date") {
			continue
		}
		if len(rec) < 2 {
			return nil, errs.Invalidf("err.calendar.line_format", "line", line)
		}
		date, kind := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		t, err := time.Parse("2006-01-02", date)
		if err != nil {
			return nil, errs.Invalidf("err.calendar.date", "line", line, "date", date)
		}
		if kind != Holiday && kind != Workday {
			return nil, errs.Invalidf("err.calendar.kind", "line", line, "kind", kind)
		}
		d := Day{Date: date, Kind: kind}
		if len(rec) > 2 {
			d.Name = strings.TrimSpace(rec[2])
		}
		out[t.Year()] = append(out[t.Year()], d)
	}
	return out, nil
}

// Store keeps the calendar in the metadata database.
type Store struct{ DB *db.DB }

// Reload reads the stored calendar into the live c (an edit made on
// another instance, or by the CLI).
func (s *Store) Reload(ctx context.Context, c *Calendar) error {
	fresh, err := s.Load(ctx, c.Location())
	if err != nil {
		return err
	}
	c.Adopt(fresh)
	return nil
}

// Load reads every exception.
func (s *Store) Load(ctx context.Context, loc *time.Location) (*Calendar, error) {
	days, err := db.QueryAll(ctx, s.DB, "SELECT day, kind, name FROM calendar_days", scanDay)
	if err != nil {
		return nil, err
	}
	years, err := db.QueryAll(ctx, s.DB, "SELECT year FROM calendar_years", func(r db.Scanner) (y int, err error) {
		return y, r.Scan(&y)
	})
	if err != nil {
		return nil, err
	}
	return New(loc, days, years), nil
}

// Year lists a year's exceptions by date.
func (s *Store) Year(ctx context.Context, year int) ([]Day, error) {
	return db.QueryAll(ctx, s.DB, "SELECT day, kind, name FROM calendar_days WHERE day LIKE ? ORDER BY day", scanDay, fmt.Sprintf("%04d-%%", year))
}

func scanDay(r db.Scanner) (d Day, err error) {
	return d, r.Scan(&d.Date, &d.Kind, &d.Name)
}

// ReplaceYear sets a year's exceptions (the bureau's edit or an import).
func (s *Store) ReplaceYear(ctx context.Context, year int, days []Day, source string) error {
	for _, d := range days {
		if !strings.HasPrefix(d.Date, fmt.Sprintf("%04d-", year)) {
			return errs.Invalidf("err.calendar.year", "date", d.Date, "year", year)
		}
	}
	return s.DB.Tx(ctx, func(q db.Querier) error {
		if _, err := q.Exec(ctx, "DELETE FROM calendar_days WHERE day LIKE ?", fmt.Sprintf("%04d-%%", year)); err != nil {
			return err
		}
		for _, d := range days {
			if _, err := q.Exec(ctx, "INSERT INTO calendar_days (day, kind, name, source) VALUES (?, ?, ?, ?)", d.Date, d.Kind, d.Name, source); err != nil {
				return err
			}
		}
		if _, err := q.Exec(ctx, "DELETE FROM calendar_years WHERE year = ?", year); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, "INSERT INTO calendar_years (year, source, loaded_at) VALUES (?, ?, ?)", year, source, db.Now()); err != nil {
			return err
		}
		// Every instance reloads its calendar when this commits.
		return refcache.Bump(ctx, q, refcache.Calendar)
	})
}

// Seed loads from lunar-go every year in [from, to] that has no data yet
// and that lunar-go knows; it returns the years loaded.
func (s *Store) Seed(ctx context.Context, from, to int) ([]int, error) {
	c, err := s.Load(ctx, time.UTC)
	if err != nil {
		return nil, err
	}
	var loaded []int
	for _, y := range c.MissingYears(from, to) {
		days := FromLunar(y)
		if len(days) == 0 {
			continue
		}
		if err := s.ReplaceYear(ctx, y, days, "lunar-go HolidayUtil"); err != nil {
			return loaded, err
		}
		loaded = append(loaded, y)
	}
	return loaded, nil
}
