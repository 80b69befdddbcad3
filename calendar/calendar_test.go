package calendar

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"opendata/db"
	"opendata/db/dbtest"
)

var sh, _ = time.LoadLocation("Asia/Shanghai")

func fixture(t *testing.T) *Calendar {
	t.Helper()
	f, err := os.Open("testdata/2025.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	years, err := ParseCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	return New(sh, years[2025], []int{2025})
}

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, sh)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDeadlines(t *testing.T) {
	c := fixture(t)
	cases := []struct {
		name, filed string
		n           int
		want        string
	}{
		{"ordinary week", "2025-03-03 10:00", 5, "2025-03-10"},
		{"filed on Friday", "2025-03-07 16:30", 5, "2025-03-14"},
		// The day before the National Day holiday: Oct 1–8 are off, Oct 11
		// (Saturday) is a make-up working day.
		{"day before a long holiday", "2025-09-30 17:00", 5, "2025-10-14"},
		{"filed on a make-up Saturday", "2025-10-11 09:00", 5, "2025-10-17"},
		{"make-up Sunday counts", "2025-09-26 09:00", 1, "2025-09-28"},
		{"spring festival, ten working days", "2025-01-24 09:00", 10, "2025-02-13"}, // Jan 26 (Sunday) is a make-up day
		{"demand response, 10 days", "2025-04-30 09:00", 10, "2025-05-19"},
	}
	for _, tc := range cases {
		got := c.AddWorkingDays(at(tc.filed), tc.n)
		if got.Format("2006-01-02") != tc.want || got.Hour() != 23 {
			t.Errorf("%s: %s + %d working days = %s, want end of %s", tc.name, tc.filed, tc.n, got.Format("2006-01-02 15:04"), tc.want)
		}
	}
}

func TestWorkingDayFacts(t *testing.T) {
	c := fixture(t)
	for day, want := range map[string]bool{"2025-10-01 12:00": false, "2025-10-11 12:00": true, "2025-09-28 12:00": true,
		"2025-10-12 12:00": false, "2025-10-09 12:00": true, "2025-02-08 12:00": true, "2025-02-04 12:00": false} {
		if got := c.IsWorkingDay(at(day)); got != want {
			t.Errorf("IsWorkingDay(%s) = %v", day, got)
		}
	}
	if n := c.WorkingDaysBetween(at("2025-09-30 17:00"), at("2025-10-14 09:00")); n != 5 {
		t.Errorf("between = %d", n)
	}
	deadline := c.AddWorkingDays(at("2025-09-30 17:00"), 5)
	if l := c.TimeLeft(at("2025-10-13 10:00"), deadline); l.WorkingDays != 1 || l.Overdue {
		t.Errorf("left %+v", l)
	}
	if l := c.TimeLeft(at("2025-10-14 10:00"), deadline); !l.LastDay || l.WorkingDays != 0 {
		t.Errorf("last day %+v", l)
	}
	if l := c.TimeLeft(at("2025-10-15 00:01"), deadline); !l.Overdue {
		t.Errorf("overdue %+v", l)
	}
	if m := c.MissingYears(2024, 2026); len(m) != 2 || m[0] != 2024 || m[1] != 2026 {
		t.Errorf("missing %v", m)
	}
}

// lunar-go carries the same 2025 announcement as the fixture.
func TestLunarMatchesFixture(t *testing.T) {
	want := map[string]string{}
	f, _ := os.Open("testdata/2025.csv")
	years, _ := ParseCSV(f)
	f.Close()
	for _, d := range years[2025] {
		want[d.Date] = d.Kind
	}
	got := map[string]string{}
	for _, d := range FromLunar(2025) {
		got[d.Date] = d.Kind
	}
	for day, kind := range want {
		if got[day] != kind {
			t.Errorf("lunar-go 2025 %s: %q, fixture %q", day, got[day], kind)
		}
	}
}

func TestParseCSVErrors(t *testing.T) {
	for in, want := range map[string]string{
		"2025-13-01,holiday":    "line 1: \"2025-13-01\" is not a date",
		"2025-10-01,vacation":   "kind must be holiday or workday",
		"date,kind\n2025-10-01": "line 2: want date,kind",
	} {
		if _, err := ParseCSV(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestStore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := &Store{DB: d}
		loaded, err := s.Seed(ctx, 2024, 2025)
		if err != nil || len(loaded) != 2 {
			t.Fatalf("seed %v %v", loaded, err)
		}
		if again, _ := s.Seed(ctx, 2024, 2025); len(again) != 0 {
			t.Fatalf("seeded twice: %v", again)
		}
		// The bureau edits a year: an extra day off.
		days := append(FromLunar(2025), Day{Date: "2025-12-31", Kind: Holiday, Name: "本地调整"})
		if err := s.ReplaceYear(ctx, 2025, days, "bureau"); err != nil {
			t.Fatal(err)
		}
		c, err := s.Load(ctx, sh)
		if err != nil {
			t.Fatal(err)
		}
		if c.IsWorkingDay(at("2025-12-31 10:00")) || !c.IsWorkingDay(at("2025-10-11 10:00")) || c.IsWorkingDay(at("2024-10-01 10:00")) {
			t.Fatal("loaded calendar is wrong")
		}
		if m := c.MissingYears(2024, 2025); len(m) != 0 {
			t.Fatalf("missing %v", m)
		}
		year, err := s.Year(ctx, 2025)
		if err != nil || len(year) != len(days) || year[len(year)-1] != (Day{Date: "2025-12-31", Kind: Holiday, Name: "本地调整"}) {
			t.Fatalf("year 2025: %v %v", year, err)
		}
		for i := 1; i < len(year); i++ {
			if year[i-1].Date >= year[i].Date || year[i].Date[:5] != "2025-" {
				t.Fatalf("year 2025 out of order or of another year: %v", year)
			}
		}
		if none, err := s.Year(ctx, 2030); err != nil || len(none) != 0 {
			t.Fatalf("year 2030: %v %v", none, err)
		}
		if err := s.ReplaceYear(ctx, 2025, []Day{{Date: "2026-01-01", Kind: Holiday}}, "x"); err == nil {
			t.Fatal("a day of another year was accepted")
		}
	})
}

func TestNudgeFor(t *testing.T) {
	c := New(time.UTC, nil, []int{2026})
	deadline := time.Date(2026, 11, 27, 23, 59, 59, 0, time.UTC) // a Friday
	for _, tc := range []struct {
		name              string
		now               time.Time
		reminded, overdue bool
		want              Nudge
	}{
		{"days ahead", time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), false, false, NudgeNone},
		{"one working day left", time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), false, false, NudgeRemind},
		{"reminded already", time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), true, false, NudgeNone},
		{"last day", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), false, false, NudgeRemind},
		{"overdue", time.Date(2026, 11, 28, 0, 0, 1, 0, time.UTC), false, false, NudgeOverdue},
		{"overdue after the reminder", time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), true, false, NudgeOverdue},
		{"told already", time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), true, true, NudgeNone},
	} {
		if got := c.NudgeFor(tc.now, deadline, Sent{Reminder: tc.reminded, Overdue: tc.overdue}); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
}
