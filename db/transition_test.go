package db_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"opendata/db"
	"opendata/db/dbtest"
	"opendata/errs"
)

// Of N racing transitions of one row exactly one wins, and the writes that
// go with it happen once; the others get a Conflict naming no SQL.
func TestTransitionDecidesOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.Exec(ctx, "INSERT INTO settings (name, value) VALUES ('race', 'open')"); err != nil {
			t.Fatal(err)
		}
		move := db.Transition{Table: "settings", Where: "name = ?", Args: []any{"race"}, Column: "value", From: []string{"open"}, To: "closed"}
		const n = 10
		var wg sync.WaitGroup
		errc := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errc <- d.Tx(ctx, func(q db.Querier) error {
					if err := move.Apply(ctx, q); err != nil {
						return err
					}
					_, err := q.Exec(ctx, "INSERT INTO settings (name, value) VALUES ('race_winner', 'x')")
					return err
				})
			}(i)
		}
		wg.Wait()
		close(errc)
		won := 0
		for err := range errc {
			switch {
			case err == nil:
				won++
			case errors.Is(err, db.ErrStateChanged):
			default:
				t.Errorf("loser's error %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d won", won)
		}
		// From the state it now has, the row cannot move again; a missing row is NotFound.
		if err := d.Tx(ctx, func(q db.Querier) error { return move.Apply(ctx, q) }); !errors.Is(err, errs.Conflict) {
			t.Fatalf("second move: %v", err)
		}
		gone := move
		gone.Args = []any{"nope"}
		if err := d.Tx(ctx, func(q db.Querier) error { return gone.Apply(ctx, q) }); !errors.Is(err, errs.NotFound) {
			t.Fatalf("missing row: %v", err)
		}
		// A guard without a status column (a grant's revoked_at).
		guard := db.Transition{Table: "settings", Where: "name = ?", Args: []any{"race"}, Column: db.NoStatus, Guard: "value = 'closed'", Set: "value = ?", SetArgs: []any{"revoked"}}
		if err := d.Tx(ctx, func(q db.Querier) error { return guard.Apply(ctx, q) }); err != nil {
			t.Fatal(err)
		}
		if err := d.Tx(ctx, func(q db.Querier) error { return guard.Apply(ctx, q) }); !errors.Is(err, errs.Conflict) {
			t.Fatalf("guarded twice: %v", err)
		}
	})
}
