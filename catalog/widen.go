package catalog

import (
	"context"
	"fmt"

	"opendata/auth"
	"opendata/db"
	"opendata/errs"
)

// Who may read an entry's data, from fewest to most readers: a change up
// this order widens the readers.
var (
	openRank  = map[OpenType]int{OpenNone: 0, OpenOnApplication: 1, OpenUnconditional: 2}
	shareRank = map[ShareType]int{ShareNone: 0, ShareConditional: 1, ShareUnconditional: 2}
)

// Widens lists the changes from old to e that let more people read the
// data (issue 10 item 6): open_type or share_type moved towards
// unconditional, a data item no longer personal, or a personal item no
// longer dropped from the open variant (drop → mask). Narrowing changes
// and everything else are not listed.
func Widens(old, e Entry) []string {
	var out []string
	if openRank[e.OpenType] > openRank[old.OpenType] {
		out = append(out, "open_type")
	}
	if shareRank[e.ShareType] > shareRank[old.ShareType] {
		out = append(out, "share_type")
	}
	now := map[string]Item{}
	for _, it := range e.Items {
		now[it.Name] = it
	}
	for _, was := range old.Items {
		it, ok := now[was.Name]
		if !ok || !was.Personal {
			continue
		}
		if !it.Personal {
			out = append(out, "items."+was.Name+".personal")
		} else if was.PersonalAction == "drop" && it.PersonalAction != "drop" {
			out = append(out, "items."+was.Name+".personal_action")
		}
	}
	return out
}

// EditNeedsReview lists what an edit widens when the entry already holds
// data (a ready or published version): such an edit does not act at once
// but waits for the publication review — a second person with the
// approver's role (publish.Service.DecideEdit). Nil: the edit acts at once.
func EditNeedsReview(hasData bool, old, e Entry) []string {
	if !hasData {
		return nil
	}
	return Widens(old, e)
}

// ErrNeedsReview refuses to apply at once an edit that widens who reads
// data held by the entry: it goes through publish.Service.Edit, which files
// it for review.
var ErrNeedsReview = &errs.Public{Kind: errs.Conflict, Code: "needs_review", Key: "entry.err.needs_review"}

func hasData(ctx context.Context, q db.Querier, id int64) (bool, error) {
	var n int64
	err := q.QueryRow(ctx, `SELECT published_version + (SELECT COUNT(*) FROM versions v WHERE v.resource_id = r.id AND v.status = 'ready')
		FROM resources r WHERE r.id = ?`, id).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("resource %d: %w", id, db.MapErr(err))
	}
	return n > 0, nil
}

// ReviewedEdit applies, in q, an edit a reviewer approved: as
// UpdateResource, but a widening change is allowed. actor is the approver
// (the history names them); the edit must still be based on the current
// revision.
func (s *Store) ReviewedEdit(ctx context.Context, q db.Querier, actor auth.Actor, id int64, baseRevision int, e Entry) error {
	e.Normalize()
	if err := e.Validate(); err != nil {
		return err
	}
	return s.update(ctx, q, actor, id, baseRevision, e, true)
}

// PendingWidening reports what e would widen on entry id now (nil when it
// acts at once), for the caller that files it for review.
func (s *Store) PendingWidening(ctx context.Context, id int64, e Entry) ([]string, error) {
	e.Normalize()
	var out []string
	err := s.DB.Tx(ctx, func(q db.Querier) error {
		old, _, err := loadEntry(ctx, q, id)
		if err != nil {
			return err
		}
		has, err := hasData(ctx, q, id)
		out = EditNeedsReview(has, old, e)
		return err
	})
	return out, err
}
