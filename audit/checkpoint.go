package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"opendata/db"
	"opendata/errs"
)

// Checkpoint is the chain's head at a moment, signed with the audit key and
// kept in object storage, outside the database: a rewrite of the whole
// chain, or the removal of its newest events, no longer matches it.
type Checkpoint struct {
	Count int64     `json:"count"` // events in the log
	Hash  string    `json:"hash"`  // the hash of event Count
	At    time.Time `json:"at"`
	KeyID string    `json:"key_id"`
	Sig   string    `json:"sig"` // HMAC-SHA256 of count, hash and time
}

// CheckpointPrefix is where checkpoints live in the object store. Keys
// sort by count, so the last one is the newest (the count never shrinks).
const CheckpointPrefix = "audit/checkpoints/"

func (c Checkpoint) message() []byte {
	return []byte("opendata-audit-checkpoint|" + strconv.FormatInt(c.Count, 10) + "|" + c.Hash + "|" + c.At.UTC().Format(time.RFC3339Nano))
}

// Checkpoint verifies the chain and, when it is intact, writes a signed
// checkpoint of its head to the object store. It refuses to sign a chain
// that does not verify.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	if l.Keys == nil || l.Checkpoints == nil {
		return Checkpoint{}, fmt.Errorf("audit checkpoint: needs the audit key and the object store")
	}
	p, n, err := l.Verify(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	if p != nil {
		return Checkpoint{}, fmt.Errorf("audit log not intact, no checkpoint written: %w", p)
	}
	c := Checkpoint{Count: n, Hash: genesis, At: db.Now(), KeyID: l.Keys.Current()}
	if n > 0 {
		if err := l.DB.QueryRow(ctx, "SELECT hash FROM audit_events WHERE id = ?", n).Scan(&c.Hash); err != nil {
			return c, db.MapErr(err)
		}
	}
	m, _ := l.Keys.mac(c.KeyID, c.message())
	c.Sig = hex.EncodeToString(m)
	b, _ := json.MarshalIndent(c, "", "  ")
	key := fmt.Sprintf("%s%020d-%d.json", CheckpointPrefix, c.Count, c.At.UnixNano())
	if err := l.Checkpoints.Put(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
		return c, fmt.Errorf("write audit checkpoint: %w", err)
	}
	return c, nil
}

// LatestCheckpoint is the newest checkpoint in the object store (nil when
// there is none or no store is set).
func (l *Log) LatestCheckpoint(ctx context.Context) (*Checkpoint, error) {
	if l.Checkpoints == nil {
		return nil, nil
	}
	list, err := l.Checkpoints.List(ctx, CheckpointPrefix)
	if err != nil {
		return nil, fmt.Errorf("list audit checkpoints: %w", err)
	}
	if len(list) == 0 {
		return nil, nil
	}
	rc, _, err := l.Checkpoints.Get(ctx, list[len(list)-1].Key)
	if errors.Is(err, errs.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit checkpoint: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("read audit checkpoint: %w", err)
	}
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("audit checkpoint %s is not readable: %w", list[len(list)-1].Key, err)
	}
	return &c, nil
}

// checkSignature refuses a checkpoint whose signature does not match (a
// forged or edited checkpoint).
func (l *Log) checkSignature(c Checkpoint) *Problem {
	m, ok := l.Keys.macOrNil(c.KeyID, c.message())
	if !ok {
		return &Problem{c.Count, fmt.Sprintf("the checkpoint of %s is signed with audit key %s, which is not in the key file", c.At.Format(time.RFC3339), c.KeyID)}
	}
	if got, err := hex.DecodeString(c.Sig); err != nil || !hmac.Equal(got, m) {
		return &Problem{c.Count, fmt.Sprintf("the checkpoint of %s was forged or edited (its signature does not match)", c.At.Format(time.RFC3339))}
	}
	return nil
}

// CheckpointIfDue writes a checkpoint when the newest one (written by any
// instance) is older than every; it reports whether it wrote one.
func (l *Log) CheckpointIfDue(ctx context.Context, every time.Duration) (bool, error) {
	if l.Keys == nil || l.Checkpoints == nil {
		return false, nil
	}
	last, err := l.LatestCheckpoint(ctx)
	if err != nil {
		return false, err
	}
	if last != nil && time.Since(last.At) < every {
		return false, nil
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		return false, err
	}
	return true, nil
}
