package workflow

import (
	"context"
	"time"

	"opendata/calendar"
	"opendata/db"
	"opendata/notify"
)

// Clock is a workflow with a deadline (share requests 5 working days,
// disputes 5, applications 10; plans, demand and IT projects to come). It
// names its table and lists its open items; Nudge decides, claims and
// sends, so every workflow reminds the same way and each notice goes out
// once however many instances run it.
type Clock interface {
	// Table holds the items, with reminded_at and (when Overdue is not nil)
	// overdue_at columns.
	Table() string
	// Open lists the items still waiting for the one who must act.
	Open(ctx context.Context) ([]Item, error)
}

// Item is one open deadline and what to tell about it.
type Item struct {
	ID          int64
	Deadline    time.Time
	Reminded    bool    // reminded_at is set
	ToldOverdue bool    // overdue_at is set (or the clock has no overdue notice)
	Remind      *Notice // one working day left; nil: none
	Overdue     *Notice // past the deadline; nil: none (another step handles it)
}

// Notice is a notification to send.
type Notice struct {
	Kind   string
	Params map[string]string
	Link   string
	To     []notify.To
}

// Nudge sends each clock's due reminders and overdue notices. Each notice
// is claimed first with a conditional update (reminded_at / overdue_at
// still empty); only the instance whose update changed the row sends it.
// It returns how many notices went out.
func Nudge(ctx context.Context, d *db.DB, cal *calendar.Calendar, n *notify.Notifier, now time.Time, clocks ...Clock) (int, error) {
	sent := 0
	for _, c := range clocks {
		items, err := c.Open(ctx)
		if err != nil {
			return sent, err
		}
		for _, it := range items {
			var t db.Transition
			var notice *Notice
			switch cal.NudgeFor(now, it.Deadline, calendar.Sent{Reminder: it.Reminded, Overdue: it.ToldOverdue || it.Overdue == nil}) {
			case calendar.NudgeRemind:
				if it.Remind == nil {
					continue
				}
				t = db.Transition{Table: c.Table(), Where: "id = ?", Args: []any{it.ID}, Column: db.NoStatus, Guard: "reminded_at IS NULL",
					Set: "reminded_at = ?", SetArgs: []any{now}}
				notice = it.Remind
			case calendar.NudgeOverdue:
				t = db.Transition{Table: c.Table(), Where: "id = ?", Args: []any{it.ID}, Column: db.NoStatus, Guard: "overdue_at IS NULL",
					Set: "overdue_at = ?, reminded_at = COALESCE(reminded_at, ?)", SetArgs: []any{now, now}}
				notice = it.Overdue
			default:
				continue
			}
			if err := d.Tx(ctx, func(q db.Querier) error { return t.Apply(ctx, q) }); err != nil {
				if isConflict(err) {
					continue // another instance claimed it
				}
				return sent, err
			}
			n.Send(ctx, notice.Kind, notice.Params, notice.Link, notice.To...)
			sent++
		}
	}
	return sent, nil
}
