// Package workflow moves the items of every workflow with a status — share
// requests, grants, applications, disputes, publications, withdrawals, and
// the plans, demand and IT-project clocks to come — exactly once: the
// decision, the writes that go with it and the audit event commit together
// in one transaction, and the state the item leaves is named in the UPDATE
// so that of racing decisions (N instances, N clicks, a person against the
// overdue clock) one wins and the others get a 409 (db.ErrStateChanged or
// the workflow's own words).
//
// A new workflow writes its steps as Step values; it never reads the state
// and then writes it in two statements.
package workflow

import (
	"context"
	"errors"

	"opendata/audit"
	"opendata/db"
	"opendata/errs"
)

// Step is one decided change.
type Step struct {
	// Move is the conditional update that decides (from-states, to-state).
	Move db.Transition
	// Then does the writes that belong to the change (a grant, a history
	// row), in the same transaction, after Move won.
	Then func(ctx context.Context, q db.Querier) error
	// Audit is appended last in the same transaction (when the Log given to
	// Run is not nil): no event, no change.
	Audit *audit.Event
}

// Run applies st in one transaction of d and returns Move's refusal when
// another change came first.
func Run(ctx context.Context, d *db.DB, log *audit.Log, st Step) error {
	return d.Tx(ctx, func(q db.Querier) error { return Apply(ctx, q, log, st) })
}

// Apply is Run inside a transaction the caller already holds.
func Apply(ctx context.Context, q db.Querier, log *audit.Log, st Step) error {
	if err := st.Move.Apply(ctx, q); err != nil {
		return err
	}
	if st.Then != nil {
		if err := st.Then(ctx, q); err != nil {
			return err
		}
	}
	if log != nil && st.Audit != nil {
		if _, err := log.AppendTx(ctx, q, *st.Audit); err != nil {
			return err
		}
	}
	return nil
}

func isConflict(err error) bool { return errors.Is(err, errs.Conflict) }
