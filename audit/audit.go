// Package audit is the append-only log of internal access and of every
// grant, approval, refusal, publication and key event. Each event holds the
// hash of the one before it, and a head row holds the count and the last
// hash, so `opendata audit verify` finds the first event that was altered
// or removed.
package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"opendata/blob"
	"opendata/csvsafe"
	"opendata/db"
	"opendata/errs"
)

// Event is one audited action.
type Event struct {
	ID           int64     `json:"id"`
	At           time.Time `json:"at"`
	ActorID      int64     `json:"actor_id,omitempty"`
	ActorName    string    `json:"actor"`
	DepartmentID int64     `json:"department_id,omitempty"`
	Action       string    `json:"action"`
	ResourceID   int64     `json:"resource_id,omitempty"`
	Version      int       `json:"version,omitempty"`
	Purpose      string    `json:"purpose,omitempty"`
	Detail       string    `json:"detail,omitempty"`
	Remote       string    `json:"remote,omitempty"`
	PrevHash     string    `json:"prev_hash"`
	Hash         string    `json:"hash"`
	KeyID        string    `json:"key_id,omitempty"` // "": written before the chain was keyed
}

// genesis is the previous hash of the first event.
const genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// content is an event's fields and its predecessor's hash, each
// length-prefixed so no two events can collide by shifting text.
func content(e Event) []byte {
	var b strings.Builder
	for _, f := range []string{e.PrevHash, strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339Nano), strconv.FormatInt(e.ActorID, 10),
		e.ActorName, strconv.FormatInt(e.DepartmentID, 10), e.Action, strconv.FormatInt(e.ResourceID, 10), strconv.Itoa(e.Version),
		e.Purpose, e.Detail, e.Remote} {
		fmt.Fprintf(&b, "%d:%s|", len(f), f)
	}
	if e.KeyID != "" {
		fmt.Fprintf(&b, "%d:%s|", len(e.KeyID), e.KeyID)
	}
	return []byte(b.String())
}

// digest is an unkeyed event's hash (SHA-256): the chain before it was
// keyed (migration 81), kept so old logs still verify.
func digest(e Event) string {
	sum := sha256.Sum256(content(e))
	return hex.EncodeToString(sum[:])
}

// sign is a keyed event's hash: HMAC-SHA256 with its key; ok is false when
// the key is not in keys.
func sign(keys *Keys, e Event) (string, bool) {
	if keys == nil {
		return "", false
	}
	m, ok := keys.mac(e.KeyID, content(e))
	return hex.EncodeToString(m), ok
}

// Log appends and verifies events.
type Log struct {
	DB *db.DB
	// Keys sign new events (HMAC-SHA256) and verify keyed ones. Without
	// keys events are written unkeyed, as before migration 81 (tests and
	// tools that only read).
	Keys *Keys
	// Checkpoints, when set, is where signed checkpoints of the chain's
	// head are kept (the object store), and what Verify compares with.
	Checkpoints blob.Store
}

func nullable(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

// Append records e in a transaction of its own (ID, At and the hashes are
// set here). A change that is audited appends with AppendTx instead, in the
// change's own transaction.
func (l *Log) Append(ctx context.Context, e Event) (Event, error) {
	err := l.DB.Tx(ctx, func(q db.Querier) error {
		var err error
		e, err = l.AppendTx(ctx, q, e)
		return err
	})
	return e, err
}

// AppendTx records e inside the caller's transaction q: the event commits
// with the change it records or not at all. Appends are serialised (an
// advisory lock on PostgreSQL, SQLite's single writer) so the chain has no
// forks, also across server instances; call it as the transaction's last
// write so the lock is held briefly.
func (l *Log) AppendTx(ctx context.Context, q db.Querier, e Event) (Event, error) {
	err := func() error {
		if q.Dialect() == db.Postgres {
			if _, err := q.Exec(ctx, "SELECT pg_advisory_xact_lock(7427168)"); err != nil {
				return err
			}
		}
		var count int64
		prev := genesis
		err := q.QueryRow(ctx, "SELECT count, hash FROM audit_head WHERE id = 1").Scan(&count, &prev)
		if err != nil && !errors.Is(db.MapErr(err), errs.NotFound) {
			return err
		}
		var last int64
		if err := q.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) FROM audit_events").Scan(&last); err != nil {
			return err
		}
		e.ID, e.At, e.PrevHash, e.KeyID = last+1, db.Now(), prev, ""
		if l.Keys != nil {
			e.KeyID = l.Keys.Current()
			e.Hash, _ = sign(l.Keys, e)
		} else {
			e.Hash = digest(e)
		}
		if _, err := q.Exec(ctx, `INSERT INTO audit_events (id, at, actor_id, actor_name, department_id, action, resource_id, version_number,
			purpose, detail, remote, prev_hash, hash, key_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.At, nullable(e.ActorID), e.ActorName, nullable(e.DepartmentID), e.Action, nullable(e.ResourceID), e.Version,
			e.Purpose, e.Detail, e.Remote, e.PrevHash, e.Hash, e.KeyID); err != nil {
			return err
		}
		if count == 0 && prev == genesis {
			_, err = q.Exec(ctx, "INSERT INTO audit_head (id, count, hash) VALUES (1, ?, ?)", count+1, e.Hash)
		} else {
			_, err = q.Exec(ctx, "UPDATE audit_head SET count = ?, hash = ? WHERE id = 1", count+1, e.Hash)
		}
		return err
	}()
	return e, err
}

// ErrReadRefused answers a read whose audit event could not be written:
// the data is not served (503, try again).
var ErrReadRefused = &errs.Public{Kind: errs.Unavailable, Code: "audit_unavailable", Key: "audit.err.read_refused"}

// RecordRead appends the event of a read of protected data. It returns
// ErrReadRefused (the cause logged) when the event was not written, so the
// caller serves nothing; a nil Log is a configuration without an audit and
// refuses every read.
func (l *Log) RecordRead(ctx context.Context, log *slog.Logger, e Event) error {
	if l == nil {
		return ErrReadRefused
	}
	if _, err := l.Append(ctx, e); err != nil {
		if log != nil {
			log.Error("audit append failed: read refused", "action", e.Action, "resource", e.ResourceID, "err", err)
		}
		return ErrReadRefused
	}
	return nil
}

const cols = "id, at, actor_id, actor_name, department_id, action, resource_id, version_number, purpose, detail, remote, prev_hash, hash, key_id"

func scan(rows db.Scanner) (Event, error) {
	var e Event
	var actor, dept, res sql.NullInt64
	if err := rows.Scan(&e.ID, &e.At, &actor, &e.ActorName, &dept, &e.Action, &res, &e.Version, &e.Purpose, &e.Detail, &e.Remote, &e.PrevHash, &e.Hash, &e.KeyID); err != nil {
		return e, err
	}
	e.ActorID, e.DepartmentID, e.ResourceID = actor.Int64, dept.Int64, res.Int64
	return e, nil
}

// Problem is what verification found.
type Problem struct {
	EventID int64  `json:"event_id"`
	Reason  string `json:"reason"`
}

func (p *Problem) Error() string { return fmt.Sprintf("audit event %d: %s", p.EventID, p.Reason) }

// Verify walks the chain and returns the first event that was altered,
// rewritten or removed (nil when the log is intact), and how many events
// it checked. A keyed event must match its HMAC; an unkeyed one is
// accepted only among the events written before the chain was keyed
// (migration 81) and never after a keyed one — otherwise someone rewrote
// it without the key. With Checkpoints set, the log must still hold every
// event the newest signed checkpoint counted, unchanged: deleting the
// newest events (and fixing the head) or truncating the log is named.
func (l *Log) Verify(ctx context.Context) (*Problem, int64, error) {
	cp, err := l.LatestCheckpoint(ctx)
	if err != nil {
		return nil, 0, err
	}
	if cp != nil {
		if p := l.checkSignature(*cp); p != nil {
			return p, 0, nil
		}
	}
	// Events up to legacyUpto were written before the chain was keyed; with
	// keys to verify, an unkeyed event after them is a rewrite.
	legacyUpto := int64(-1)
	var v string
	if err := l.DB.QueryRow(ctx, "SELECT value FROM settings WHERE name = 'audit_legacy_upto'").Scan(&v); err == nil {
		legacyUpto, _ = strconv.ParseInt(v, 10, 64)
	}
	rows, err := l.DB.Query(ctx, "SELECT "+cols+" FROM audit_events ORDER BY id")
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	prev, want := genesis, int64(1)
	var n int64
	keyed := false
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			return nil, n, err
		}
		n++
		switch {
		case e.ID != want:
			return &Problem{want, fmt.Sprintf("removed (the log jumps from %d to %d)", want-1, e.ID)}, n, nil
		case e.PrevHash != prev:
			return &Problem{e.ID, "its link to the previous event was changed"}, n, nil
		}
		if e.KeyID == "" {
			if keyed || (l.Keys != nil && legacyUpto >= 0 && e.ID > legacyUpto) {
				return &Problem{e.ID, "rewritten without the audit key (an unkeyed event where only keyed ones may be)"}, n, nil
			}
			if digest(e) != e.Hash {
				return &Problem{e.ID, "altered (its content no longer matches its hash)"}, n, nil
			}
		} else {
			keyed = true
			h, ok := sign(l.Keys, e)
			if !ok {
				return &Problem{e.ID, fmt.Sprintf("signed with audit key %s, which is not in the key file", e.KeyID)}, n, nil
			}
			if h != e.Hash && e.Hash == digest(e) {
				return &Problem{e.ID, "rewritten: its hash was recomputed without the audit key"}, n, nil
			}
			if h != e.Hash {
				return &Problem{e.ID, "altered (its content no longer matches its keyed hash)"}, n, nil
			}
		}
		if cp != nil && e.ID == cp.Count && e.Hash != cp.Hash {
			return &Problem{e.ID, fmt.Sprintf("rewritten: it differs from the signed checkpoint of %s", cp.At.Format(time.RFC3339))}, n, nil
		}
		prev, want = e.Hash, e.ID+1
	}
	if err := rows.Err(); err != nil {
		return nil, n, err
	}
	if cp != nil && n < cp.Count {
		what := "removed"
		if n == 0 {
			what = "truncated"
		}
		return &Problem{n + 1, fmt.Sprintf("%s: the log ends at %d but the signed checkpoint of %s counted %d events", what, n, cp.At.Format(time.RFC3339), cp.Count)}, n, nil
	}
	var count int64
	head := genesis
	l.DB.QueryRow(ctx, "SELECT count, hash FROM audit_head WHERE id = 1").Scan(&count, &head)
	if count != n || head != prev {
		return &Problem{n + 1, fmt.Sprintf("removed: the log ends at %d but %d events were written", n, count)}, n, nil
	}
	return nil, n, nil
}

// Filter selects events to browse or export.
type Filter struct {
	Scope       Scope   // whose events the reader may see (ScopeFor)
	ResourceIDs []int64 // events on these resources, each within the scope
	Action      string
	Limit       int
	// DepartmentID: events by this department's people (who read).
	DepartmentID int64
	// From and To bound the time (To excluded); zero: open.
	From, To time.Time
	// BeforeID pages back: events older than this one.
	BeforeID int64
}

// List returns events newest first.
func (l *Log) List(ctx context.Context, f Filter) ([]Event, error) {
	if err := f.Scope.checkResources(ctx, l.DB, f.ResourceIDs); err != nil {
		return nil, err
	}
	q, args := f.Scope.where("SELECT "+cols+" FROM audit_events WHERE 1=1", []any{})
	if f.ResourceIDs != nil {
		if len(f.ResourceIDs) == 0 {
			return []Event{}, nil
		}
		q += " AND resource_id IN (" + strings.TrimSuffix(strings.Repeat("?,", len(f.ResourceIDs)), ",") + ")"
		for _, id := range f.ResourceIDs {
			args = append(args, id)
		}
	}
	if f.Action != "" {
		q += " AND action = ?"
		args = append(args, f.Action)
	}
	if f.DepartmentID != 0 {
		q += " AND department_id = ?"
		args = append(args, f.DepartmentID)
	}
	if !f.From.IsZero() {
		q += " AND at >= ?"
		args = append(args, f.From.UTC())
	}
	if !f.To.IsZero() {
		q += " AND at < ?"
		args = append(args, f.To.UTC())
	}
	if f.BeforeID > 0 {
		q += " AND id < ?"
		args = append(args, f.BeforeID)
	}
	if f.Limit <= 0 || f.Limit > 10000 {
		f.Limit = 1000
	}
	return db.QueryAll(ctx, l.DB, q+" ORDER BY id DESC LIMIT ?", func(r db.Scanner) (Event, error) { return scan(r) }, append(args, f.Limit)...)
}

// WriteCSV exports events (UTF-8 with BOM for Excel). Actors, purposes and
// details are typed by people, so a cell a spreadsheet would run as a
// formula gets a leading apostrophe (csvsafe.Cell; Unescape restores it).
func WriteCSV(w io.Writer, events []Event) error {
	io.WriteString(w, "\uFEFF")
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "at", "actor", "department_id", "action", "resource_id", "version", "purpose", "detail", "remote", "hash"})
	for _, e := range events {
		cw.Write(csvsafe.Record([]string{strconv.FormatInt(e.ID, 10), e.At.Format(time.RFC3339), e.ActorName, strconv.FormatInt(e.DepartmentID, 10), e.Action,
			strconv.FormatInt(e.ResourceID, 10), strconv.Itoa(e.Version), e.Purpose, e.Detail, e.Remote, e.Hash}))
	}
	cw.Flush()
	return cw.Error()
}
