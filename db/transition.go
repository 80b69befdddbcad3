package db

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"opendata/errs"
)

// Transition is one status change of one row, decided by the database and
// not by what the caller read before: the UPDATE names the states the row
// may leave, and its rows-affected decides. Of N racing changes of one row
// (N instances, N clicks) exactly one finds the row in a From state; the
// others get a Conflict (HTTP 409). On PostgreSQL the losers wait on the
// winner's row lock and then see its committed state (READ COMMITTED
// re-checks the WHERE clause); on SQLite every transaction is BEGIN
// IMMEDIATE (the DSN's _txlock), so they run one after the other.
//
// Table, Column and Set are SQL written in code, never input; every value
// is a bound argument.
type Transition struct {
	Table   string   // e.g. "share_requests"
	Where   string   // the row, e.g. "id = ?"
	Args    []any    // Where's arguments
	Column  string   // the status column; "status" when empty
	From    []string // the states the row may leave; empty: only Guard decides
	Guard   string   // an extra condition, e.g. "revoked_at IS NULL"
	To      string   // the new state (ignored when Column is "-": Set says it all)
	Set     string   // further assignments, e.g. "reason = ?, updated_at = ?"
	SetArgs []any
	// Refuse, when set, words the loser's error from the state the row is
	// in now ("" when the row is gone); the default is ErrStateChanged.
	Refuse func(current string) error
}

// ErrStateChanged is the loser's answer: someone else changed the item
// first (or the page that asked was old).
var ErrStateChanged = &errs.Public{Kind: errs.Conflict, Code: "state_changed", Key: "workflow.err.state_changed"}

// NoStatus as a Transition's Column means the row has no status column:
// Guard and Set carry the change (a grant's revoked_at).
const NoStatus = "-"

// SQL is the statement Apply runs and its arguments (for tests and logs).
func (t Transition) SQL() (string, []any) {
	col := t.Column
	if col == "" {
		col = "status"
	}
	var set []string
	var args []any
	if col != NoStatus {
		set = append(set, col+" = ?")
		args = append(args, t.To)
	}
	if t.Set != "" {
		set = append(set, t.Set)
		args = append(args, t.SetArgs...)
	}
	q := "UPDATE " + t.Table + " SET " + strings.Join(set, ", ") + " WHERE (" + t.Where + ")"
	args = append(args, t.Args...)
	if len(t.From) > 0 && col != NoStatus {
		q += " AND " + col + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(t.From)), ", ") + ")"
		for _, f := range t.From {
			args = append(args, f)
		}
	}
	if t.Guard != "" {
		q += " AND (" + t.Guard + ")"
	}
	return q, args
}

// Apply runs the transition in q (a transaction, so the writes that go
// with it commit or roll back together). It returns the Refuse error (or
// ErrStateChanged) when no row was in a From state, and NotFound when the
// row does not exist.
func (t Transition) Apply(ctx context.Context, q Querier) error {
	if t.Table == "" || t.Where == "" || (len(t.From) == 0 && t.Guard == "") {
		return fmt.Errorf("db.Transition: table, row and from-states (or guard) are required")
	}
	stmt, args := t.SQL()
	res, err := q.Exec(ctx, stmt, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	switch {
	case n == 1:
		return nil
	case n > 1:
		return fmt.Errorf("db.Transition on %s changed %d rows; Where must name one", t.Table, n)
	}
	col := t.Column
	if col == "" || col == NoStatus {
		col = "''"
	}
	var current string
	err = q.QueryRow(ctx, "SELECT "+col+" FROM "+t.Table+" WHERE "+t.Where, t.Args...).Scan(&current)
	if errors.Is(MapErr(err), errs.NotFound) {
		return fmt.Errorf("%s: %w", t.Table, errs.Internal(errs.NotFound, err))
	}
	if t.Refuse != nil {
		return t.Refuse(current)
	}
	return ErrStateChanged
}
