package audit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"opendata/audit"
	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
	"opendata/i18n"
)

func TestFilterFor(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	sc := audit.Scope{DepartmentID: 3}
	f, err := audit.FilterFor(sc, audit.Query{Resource: "7", Department: "2", Action: "share.read", From: "2026-03-01", To: "2026-03-31", Before: "120"}, loc)
	if err != nil {
		t.Fatal(err)
	}
	if f.Scope != sc || len(f.ResourceIDs) != 1 || f.ResourceIDs[0] != 7 || f.DepartmentID != 2 || f.Action != "share.read" || f.BeforeID != 120 || f.Limit != audit.PageSize {
		t.Errorf("filter: %+v", f)
	}
	if !f.From.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, loc)) || !f.To.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, loc)) {
		t.Errorf("period: %v to %v, want the whole of March in the city's zone", f.From, f.To)
	}
	if f, err := audit.FilterFor(sc, audit.Query{}, loc); err != nil || f.ResourceIDs != nil || !f.From.IsZero() || !f.To.IsZero() {
		t.Errorf("empty query: %+v %v", f, err)
	}
	for _, q := range []audit.Query{{Resource: "abc"}, {Department: "-1"}, {Action: "drop table"}, {From: "2026-13-01"}, {From: "2026-03-02", To: "2026-03-01"}, {Before: "x"}} {
		if _, err := audit.FilterFor(sc, q, loc); !errors.Is(err, errs.Invalid) {
			t.Errorf("%+v: %v, want Invalid", q, err)
		}
	}
	for _, a := range audit.Actions {
		if !i18n.Has("audit.act." + a) {
			t.Errorf("action %s has no words (audit.act.%s)", a, a)
		}
	}
}

// The log page's filters and paging: by the reader's department, a
// period, and back from an event, newest first.
func TestListFiltersAndPages(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := &audit.Log{DB: d}
		base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		for i := 0; i < 6; i++ {
			l.Append(ctx, audit.Event{ActorName: "x", DepartmentID: int64(1 + i%2), Action: "share.read"})
			// A day apart (the log stamps the present).
			if _, err := d.Exec(ctx, "UPDATE audit_events SET at = ? WHERE id = ?", base.AddDate(0, 0, i), i+1); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(f audit.Filter) string {
			t.Helper()
			evs, err := l.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			s := ""
			for _, e := range evs {
				s += fmt.Sprintf("%d ", e.ID)
			}
			return s
		}
		for _, c := range []struct {
			name string
			f    audit.Filter
			want string
		}{
			{"all", audit.Filter{}, "6 5 4 3 2 1 "},
			{"department 2", audit.Filter{DepartmentID: 2}, "6 4 2 "},
			{"period", audit.Filter{From: base.AddDate(0, 0, 1), To: base.AddDate(0, 0, 3)}, "3 2 "},
			{"first page", audit.Filter{Limit: 2}, "6 5 "},
			{"next page", audit.Filter{Limit: 2, BeforeID: 5}, "4 3 "},
		} {
			if got := ids(c.f); got != c.want {
				t.Errorf("%s: %q, want %q", c.name, got, c.want)
			}
		}
	})
}
