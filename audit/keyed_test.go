package audit

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"opendata/blob"
	"opendata/db"
	"opendata/db/dbtest"
)

func testKeys(t *testing.T, secrets ...string) *Keys {
	t.Helper()
	var bs [][]byte
	for _, s := range secrets {
		bs = append(bs, []byte(s))
	}
	k, err := NewKeys(bs...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyedLog(t *testing.T, d *db.DB) *Log {
	t.Helper()
	bs, err := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return &Log{DB: d, Keys: testKeys(t, "first-audit-key-0123456789"), Checkpoints: bs}
}

func appendN(t *testing.T, l *Log, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := l.Append(context.Background(), Event{ActorName: "jt_staff", Action: "share.read", ResourceID: 1, Purpose: "核查公交站点"}); err != nil {
			t.Fatal(err)
		}
	}
}

func wantProblem(t *testing.T, l *Log, id int64, words string) {
	t.Helper()
	p, _, err := l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p == nil || p.EventID != id || !strings.Contains(p.Reason, words) {
		t.Fatalf("verify: got %v, want event %d %q", p, id, words)
	}
}

func wantIntact(t *testing.T, l *Log) {
	t.Helper()
	if p, _, err := l.Verify(context.Background()); err != nil || p != nil {
		t.Fatalf("verify: %v %v", p, err)
	}
}

// rechain is what someone with database access but no key does after
// editing: recompute every hash from event `from` on (SHA-256, the only
// hash they can compute), relink, fix the head.
func rechain(t *testing.T, d *db.DB, from int64, keyID *string) {
	t.Helper()
	ctx := context.Background()
	l := &Log{DB: d}
	rows, err := d.Query(ctx, "SELECT "+cols+" FROM audit_events ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var all []Event
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, e)
	}
	rows.Close()
	prev := genesis
	for _, e := range all {
		if e.ID >= from {
			e.PrevHash = prev
			if keyID != nil {
				e.KeyID = *keyID
			}
			e.Hash = digest(e)
			if _, err := d.Exec(ctx, "UPDATE audit_events SET prev_hash = ?, hash = ?, key_id = ? WHERE id = ?", e.PrevHash, e.Hash, e.KeyID, e.ID); err != nil {
				t.Fatal(err)
			}
		}
		prev = e.Hash
	}
	d.Exec(ctx, "UPDATE audit_head SET count = ?, hash = ?", len(all), prev)
	_ = l
}

func TestKeyedChainNamesEachTampering(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := keyedLog(t, d)
		appendN(t, l, 8)
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		wantIntact(t, l)

		t.Run("naive edit", func(t *testing.T) {
			d.Exec(ctx, "UPDATE audit_events SET purpose = '商业用途' WHERE id = 4")
			wantProblem(t, l, 4, "altered")
			d.Exec(ctx, "UPDATE audit_events SET purpose = '核查公交站点' WHERE id = 4")
			wantIntact(t, l)
		})
		t.Run("rewrite with recomputed hashes", func(t *testing.T) {
			var hash4 string
			d.QueryRow(ctx, "SELECT hash FROM audit_events WHERE id = 4").Scan(&hash4)
			d.Exec(ctx, "UPDATE audit_events SET purpose = '商业用途' WHERE id = 4")
			rechain(t, d, 4, nil)
			wantProblem(t, l, 4, "recomputed without the audit key")
			// …or passing them off as events from before the key.
			none := ""
			rechain(t, d, 4, &none)
			wantProblem(t, l, 4, "rewritten without the audit key")
			// …even the whole chain: the checkpoint still knows event 8.
			rechain(t, d, 1, &none)
			d.Exec(ctx, "UPDATE settings SET value = '100' WHERE name = 'audit_legacy_upto'")
			wantProblem(t, l, 8, "differs from the signed checkpoint")
		})
	})
}

func TestCheckpointFindsRemovedNewestAndTruncation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := keyedLog(t, d)
		appendN(t, l, 6)
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		appendN(t, l, 2) // after the checkpoint: still protected by the head row
		wantIntact(t, l)

		// The newest events deleted and the head row made to agree.
		var h4 string
		d.QueryRow(ctx, "SELECT hash FROM audit_events WHERE id = 4").Scan(&h4)
		d.Exec(ctx, "DELETE FROM audit_events WHERE id > 4")
		d.Exec(ctx, "UPDATE audit_head SET count = 4, hash = ?", h4)
		wantProblem(t, l, 5, "the signed checkpoint of")
		wantProblem(t, l, 5, "counted 6 events")
		if _, err := l.Checkpoint(ctx); err == nil {
			t.Fatal("checkpoint signed a log with events missing")
		}

		// Truncation: every event and the head gone.
		d.Exec(ctx, "DELETE FROM audit_events")
		d.Exec(ctx, "DELETE FROM audit_head")
		wantProblem(t, l, 1, "truncated")

		// A forged checkpoint (count lowered to match) is refused by its signature.
		list, _ := l.Checkpoints.List(ctx, CheckpointPrefix)
		for _, o := range list {
			l.Checkpoints.Delete(ctx, o.Key)
		}
		forged := `{"count": 0, "hash": "` + genesis + `", "at": "2026-01-01T00:00:00Z", "key_id": "` + l.Keys.Current() + `", "sig": "00"}`
		l.Checkpoints.Put(ctx, CheckpointPrefix+"99999999999999999999-0.json", strings.NewReader(forged), int64(len(forged)))
		wantProblem(t, l, 0, "forged or edited")
	})
}

// A log written before migration 81 keeps verifying; new events are
// keyed; a rotated key verifies old events with the old key, and a key
// file missing the old key names it.
func TestLegacyEventsAndKeyRotation(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	appendN(t, &Log{DB: d}, 3) // unkeyed, as before the migration
	d.Exec(ctx, "UPDATE settings SET value = '3' WHERE name = 'audit_legacy_upto'")
	old := &Log{DB: d, Keys: testKeys(t, "first-audit-key-0123456789")}
	appendN(t, old, 2)
	rotated := &Log{DB: d, Keys: testKeys(t, "first-audit-key-0123456789", "second-audit-key-9876543210")}
	appendN(t, rotated, 2)
	wantIntact(t, rotated)
	var ids []string
	rows, _ := d.Query(ctx, "SELECT key_id FROM audit_events ORDER BY id")
	for rows.Next() {
		var k string
		rows.Scan(&k)
		ids = append(ids, k)
	}
	rows.Close()
	k1, k2 := KeyID([]byte("first-audit-key-0123456789")), KeyID([]byte("second-audit-key-9876543210"))
	if strings.Join(ids, ",") != strings.Join([]string{"", "", "", k1, k1, k2, k2}, ",") {
		t.Fatalf("key ids %v", ids)
	}
	onlyNew := &Log{DB: d, Keys: testKeys(t, "second-audit-key-9876543210")}
	wantProblem(t, onlyNew, 4, "not in the key file")
	// An unkeyed event after the legacy ones is a rewrite.
	appendN(t, &Log{DB: d}, 1)
	wantProblem(t, rotated, 8, "rewritten without the audit key")
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.key")
	k1, err := LoadKeyFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := AddKey(path); err != nil {
		t.Fatal(err)
	}
	k2, err := LoadKeyFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if ids := k2.IDs(); len(ids) != 2 || ids[0] != k1.Current() || k2.Current() == k1.Current() {
		t.Fatalf("rotation: %v (first %s)", ids, k1.Current())
	}
	if _, err := LoadKeyFile(filepath.Join(t.TempDir(), "missing"), false); err == nil {
		t.Fatal("missing key file accepted")
	}
}
