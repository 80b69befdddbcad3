package backup

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"opendata/blob"
	"opendata/db"
	"opendata/errs"
)

// ReadManifest reads a backup's manifest; a backup without one did not
// finish and is refused.
func ReadManifest(ctx context.Context, src blob.Store) (Manifest, error) {
	var m Manifest
	rc, _, err := src.Get(ctx, manifestName)
	if errors.Is(err, errs.NotFound) {
		return m, fmt.Errorf("%w: no manifest.json: not a backup, or one that did not finish", errs.Invalid)
	}
	if err != nil {
		return m, err
	}
	defer rc.Close()
	if err := json.NewDecoder(io.LimitReader(rc, 1<<30)).Decode(&m); err != nil {
		return m, fmt.Errorf("manifest.json: %w", err)
	}
	if m.Format != Format {
		return m, fmt.Errorf("%w: backup format %d, this binary reads %d", errs.Invalid, m.Format, Format)
	}
	return m, nil
}

// Restore loads the backup in src into an empty installation: the
// metadata database d (created up to the backup's schema, loaded in one
// transaction, then migrated to this binary's schema) and the object
// store bs (every object checked against its SHA-256). The search index
// is rebuilt from the database by the caller.
func Restore(ctx context.Context, src blob.Store, d *db.DB, bs blob.Store, progress Progress) (Manifest, error) {
	if progress == nil {
		progress = func(string, ...any) {}
	}
	m, err := ReadManifest(ctx, src)
	if err != nil {
		return m, err
	}
	if m.SchemaVersion > db.LatestVersion() {
		return m, fmt.Errorf("%w: the backup has schema version %d, this binary knows up to %d: restore with the release that took it", db.ErrNewerSchema, m.SchemaVersion, db.LatestVersion())
	}
	if err := checkEmpty(ctx, d, m.SchemaVersion); err != nil {
		return m, err
	}
	if err := d.MigrateTo(ctx, m.SchemaVersion); err != nil {
		return m, err
	}
	err = d.Tx(ctx, func(q db.Querier) error {
		present, err := db.Tables(ctx, q)
		if err != nil {
			return err
		}
		// Migrations seed some tables: empty every one, last first.
		for i := len(present) - 1; i >= 0; i-- {
			if _, err := q.Exec(ctx, "DELETE FROM "+db.QuoteIdent(present[i])); err != nil {
				return fmt.Errorf("empty %s: %w", present[i], err)
			}
		}
		for _, tf := range m.Tables {
			n, err := importTable(ctx, q, src, tf)
			if err != nil {
				return fmt.Errorf("table %s: %w", tf.Name, err)
			}
			progress("table %s: %d rows", tf.Name, n)
		}
		return db.ResetSequences(ctx, q)
	})
	if err != nil {
		return m, err
	}
	if err := d.Migrate(ctx); err != nil {
		return m, fmt.Errorf("after the restore: %w", err)
	}
	for i, o := range m.Objects {
		if err := restoreObject(ctx, src, bs, o); err != nil {
			return m, fmt.Errorf("object %s: %w", o.Key, err)
		}
		if (i+1)%100 == 0 {
			progress("objects: %d of %d", i+1, len(m.Objects))
		}
	}
	progress("objects: %d", len(m.Objects))
	return m, nil
}

// checkEmpty refuses a target that holds anything but what migrations
// and a first start seed: a restore never mixes two installations.
func checkEmpty(ctx context.Context, d *db.DB, backupVersion int) error {
	var tables []string
	if err := d.Snapshot(ctx, func(q db.Querier) (err error) {
		tables, err = db.Tables(ctx, q)
		return err
	}); err != nil {
		return err
	}
	if len(tables) == 0 {
		return nil
	}
	current, err := d.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if current > backupVersion {
		return fmt.Errorf("%w: the target database is already at schema version %d, the backup at %d: restore into a new, empty database", errs.Conflict, current, backupVersion)
	}
	for _, t := range []string{"users", "departments", "resources"} {
		var n int64
		if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM "+db.QuoteIdent(t)).Scan(&n); err != nil {
			continue // not in that schema version
		}
		if n > 0 {
			return fmt.Errorf("%w: the target database already holds data (%d rows in %s): restore into a new, empty database", errs.Conflict, n, t)
		}
	}
	return nil
}

// importTable inserts one exported table, checking the file's SHA-256
// before the transaction may commit.
func importTable(ctx context.Context, q db.Querier, src blob.Store, tf TableFile) (int64, error) {
	rc, _, err := src.Get(ctx, tf.File)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	sum := sha256.New()
	gz, err := gzip.NewReader(hashingReader{r: rc, h: sum})
	if err != nil {
		return 0, err
	}
	dec := json.NewDecoder(gz)
	dec.UseNumber()
	var h header
	if err := dec.Decode(&h); err != nil {
		return 0, fmt.Errorf("header: %w", err)
	}
	if h.Table != tf.Name || len(h.Columns) == 0 {
		return 0, fmt.Errorf("%w: %s holds table %q", errs.Invalid, tf.File, h.Table)
	}
	quoted := make([]string, len(h.Columns))
	for i, c := range h.Columns {
		quoted[i] = db.QuoteIdent(c)
	}
	stmt := "INSERT INTO " + db.QuoteIdent(tf.Name) + " (" + strings.Join(quoted, ", ") + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(h.Columns)), ", ") + ")"
	var n int64
	args := make([]any, len(h.Columns))
	for {
		var raw []any
		err := dec.Decode(&raw)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("row %d: %w", n+1, err)
		}
		if len(raw) != len(h.Columns) {
			return n, fmt.Errorf("%w: row %d has %d values for %d columns", errs.Invalid, n+1, len(raw), len(h.Columns))
		}
		for i, v := range raw {
			if args[i], err = decodeValue(v); err != nil {
				return n, fmt.Errorf("row %d, column %s: %w", n+1, h.Columns[i], err)
			}
		}
		if _, err := q.Exec(ctx, stmt, args...); err != nil {
			return n, fmt.Errorf("row %d: %w", n+1, err)
		}
		n++
	}
	io.Copy(io.Discard, rc) // the whole file counts for the checksum
	if got := hex.EncodeToString(sum.Sum(nil)); got != tf.SHA256 {
		return n, fmt.Errorf("%w: %s is damaged (SHA-256 %s, manifest %s)", errs.Invalid, tf.File, got, tf.SHA256)
	}
	if n != tf.Rows {
		return n, fmt.Errorf("%w: %s has %d rows, manifest %d", errs.Invalid, tf.File, n, tf.Rows)
	}
	return n, nil
}

// restoreObject copies one object back, refusing (and removing) a copy
// whose SHA-256 differs from the manifest's.
func restoreObject(ctx context.Context, src, bs blob.Store, o Object) error {
	rc, _, err := src.Get(ctx, "objects/"+o.Key)
	if err != nil {
		return err
	}
	defer rc.Close()
	sum := sha256.New()
	if err := bs.Put(ctx, o.Key, hashingReader{r: io.LimitReader(rc, o.Size+1), h: sum}, -1); err != nil {
		return err
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != o.SHA256 {
		bs.Delete(ctx, o.Key)
		return fmt.Errorf("%w: the backup's copy is damaged (SHA-256 %s, manifest %s)", errs.Invalid, got, o.SHA256)
	}
	return nil
}

// Dump is every table's rows as exported, for comparing two
// installations (tests, and `opendata backup --check`).
func Dump(ctx context.Context, d *db.DB) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := d.Snapshot(ctx, func(q db.Querier) error {
		tables, err := db.Tables(ctx, q)
		if err != nil {
			return err
		}
		for _, t := range tables {
			mem := &memStore{}
			if _, _, err := exportTable(ctx, q, t, mem); err != nil {
				return err
			}
			zr, err := gzip.NewReader(bytes.NewReader(mem.b))
			if err != nil {
				return err
			}
			out[t], err = io.ReadAll(zr)
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// memStore keeps one Put in memory (Dump uses it).
type memStore struct {
	blob.Store
	b []byte
}

func (m *memStore) Put(_ context.Context, _ string, r io.Reader, _ int64) error {
	var err error
	m.b, err = io.ReadAll(r)
	return err
}
