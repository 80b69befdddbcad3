// Package backup writes a consistent snapshot of an installation — the
// metadata database, every stored object, the audit chain's head — to a
// directory or a bucket, and rebuilds a wiped installation from one.
//
// The metadata is exported table by table in a portable format (gzipped
// JSON lines, values tagged by type) from one consistent read: a REPEATABLE
// READ transaction on PostgreSQL, a read transaction on SQLite, so writers
// go on meanwhile. A backup from SQLite restores into PostgreSQL and back.
// Every file and object carries a SHA-256 in manifest.json, which is
// written last: a backup without it is incomplete and is refused.
package backup

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"net/url"
	"strings"
	"time"

	"opendata/blob"
	"opendata/config"
	"opendata/db"
	"opendata/errs"
)

// Format is the version of the backup layout this package writes.
const Format = 1

const manifestName = "manifest.json"

// Manifest describes one backup; it is written after everything else.
type Manifest struct {
	Format        int         `json:"format"`
	CreatedAt     time.Time   `json:"created_at"`
	Dialect       string      `json:"dialect"`
	SchemaVersion int         `json:"schema_version"`
	Tables        []TableFile `json:"tables"`
	Objects       []Object    `json:"objects"`
	// AuditHead is the audit chain's head row at the snapshot (its count
	// and hash): what `audit verify` on the restored chain must reach.
	AuditHead map[string]any `json:"audit_head,omitempty"`
}

// TableFile is one table's export.
type TableFile struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	Rows   int64  `json:"rows"`
	SHA256 string `json:"sha256"`
}

// Object is one stored object's copy.
type Object struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Target opens where a backup goes or comes from: a directory, or
// s3://bucket/prefix on the configured S3 endpoint and credentials.
func Target(ctx context.Context, cfg config.Config, where string) (blob.Store, error) {
	if !strings.HasPrefix(where, "s3://") {
		return blob.NewLocal(where)
	}
	u, err := url.Parse(where)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("backup target %q: want s3://bucket/prefix", where)
	}
	if cfg.S3Endpoint == "" {
		return nil, fmt.Errorf("backup target %s needs OPENDATA_S3_ENDPOINT, OPENDATA_S3_ACCESS_KEY and OPENDATA_S3_SECRET_KEY", where)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	return blob.NewMinIO(ctx, blob.MinIOConfig{Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
		Region: cfg.S3Region, UseSSL: cfg.S3UseSSL, Bucket: u.Host, Prefix: prefix})
}

// Progress is told what is being copied.
type Progress func(format string, args ...any)

// Backup writes a snapshot of d and bs to dst.
func Backup(ctx context.Context, d *db.DB, bs blob.Store, dst blob.Store, progress Progress) (Manifest, error) {
	if progress == nil {
		progress = func(string, ...any) {}
	}
	if _, err := dst.Stat(ctx, manifestName); err == nil {
		return Manifest{}, fmt.Errorf("%w: the target already holds a backup (manifest.json); choose an empty directory or prefix", errs.Conflict)
	}
	m := Manifest{Format: Format, CreatedAt: db.Now(), Dialect: dialectName(d.Dialect)}
	err := d.Snapshot(ctx, func(q db.Querier) error {
		if err := q.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&m.SchemaVersion); err != nil {
			return fmt.Errorf("schema version: %w", err)
		}
		tables, err := db.Tables(ctx, q)
		if err != nil {
			return err
		}
		for _, t := range tables {
			tf, head, err := exportTable(ctx, q, t, dst)
			if err != nil {
				return fmt.Errorf("table %s: %w", t, err)
			}
			if t == "audit_head" {
				m.AuditHead = head
			}
			m.Tables = append(m.Tables, tf)
			progress("table %s: %d rows", t, tf.Rows)
		}
		return nil
	})
	if err != nil {
		return m, err
	}
	// Objects are immutable once written (a new version has new keys),
	// so copying them after the snapshot gives every object it names.
	infos, err := bs.List(ctx, "")
	if err != nil {
		return m, fmt.Errorf("list objects: %w", err)
	}
	for _, info := range infos {
		o, err := copyObject(ctx, bs, info.Key, dst, "objects/"+info.Key)
		if errors.Is(err, errs.NotFound) {
			continue // removed since the listing (a finished upload)
		}
		if err != nil {
			return m, fmt.Errorf("object %s: %w", info.Key, err)
		}
		m.Objects = append(m.Objects, o)
	}
	progress("objects: %d", len(m.Objects))
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, err
	}
	return m, dst.Put(ctx, manifestName, strings.NewReader(string(b)), int64(len(b)))
}

func dialectName(d db.Dialect) string {
	if d == db.Postgres {
		return "postgres"
	}
	return "sqlite"
}

// exportTable writes one table as gzipped JSON lines: a header naming the
// columns, then one array of tagged values per row, in primary-key order.
func exportTable(ctx context.Context, q db.Querier, table string, dst blob.Store) (TableFile, map[string]any, error) {
	tf := TableFile{Name: table, File: "tables/" + table + ".jsonl.gz"}
	rows, err := q.Query(ctx, "SELECT * FROM "+db.QuoteIdent(table)+" ORDER BY 1")
	if err != nil {
		return tf, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return tf, nil, err
	}
	pr, pw := io.Pipe()
	sum := sha256.New()
	done := make(chan error, 1)
	go func() { done <- dst.Put(ctx, tf.File, io.TeeReader(pr, sum), -1) }()
	var head map[string]any
	werr := func() error {
		gz := gzip.NewWriter(pw)
		enc := json.NewEncoder(gz)
		if err := enc.Encode(header{Table: table, Columns: cols}); err != nil {
			return err
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		out := make([]any, len(cols))
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			for i, v := range vals {
				if out[i], err = encodeValue(v); err != nil {
					return fmt.Errorf("column %s: %w", cols[i], err)
				}
			}
			if err := enc.Encode(out); err != nil {
				return err
			}
			if head == nil && table == "audit_head" {
				head = map[string]any{}
				for i, c := range cols {
					head[c] = out[i]
				}
			}
			tf.Rows++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return gz.Close()
	}()
	pw.CloseWithError(werr)
	perr := <-done
	if werr != nil {
		return tf, nil, werr
	}
	if perr != nil {
		return tf, nil, perr
	}
	tf.SHA256 = hex.EncodeToString(sum.Sum(nil))
	return tf, head, nil
}

type header struct {
	Table   string   `json:"table"`
	Columns []string `json:"columns"`
}

// encodeValue tags what JSON alone would blur: floats, bytes, times.
func encodeValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, int64, bool, string:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return map[string]any{"fs": fmt.Sprint(x)}, nil
		}
		return map[string]any{"f": x}, nil
	case []byte:
		return map[string]string{"b": base64.StdEncoding.EncodeToString(x)}, nil
	case time.Time:
		return map[string]string{"t": x.UTC().Format(time.RFC3339Nano)}, nil
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

// decodeValue reverses encodeValue.
func decodeValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		return x.Float64()
	case map[string]any:
		for tag, raw := range x {
			switch tag {
			case "f":
				if n, ok := raw.(json.Number); ok {
					return n.Float64()
				}
			case "fs":
				s, _ := raw.(string)
				switch s {
				case "NaN":
					return math.NaN(), nil
				case "+Inf":
					return math.Inf(1), nil
				case "-Inf":
					return math.Inf(-1), nil
				}
			case "b":
				s, _ := raw.(string)
				return base64.StdEncoding.DecodeString(s)
			case "t":
				s, _ := raw.(string)
				return time.Parse(time.RFC3339Nano, s)
			}
		}
	}
	return nil, fmt.Errorf("unreadable value %v", v)
}

// copyObject copies one object, returning its size and SHA-256.
func copyObject(ctx context.Context, from blob.Store, key string, to blob.Store, toKey string) (Object, error) {
	rc, info, err := from.Get(ctx, key)
	if err != nil {
		return Object{}, err
	}
	defer rc.Close()
	sum := sha256.New()
	cr := &countingReader{r: io.TeeReader(rc, sum)}
	if err := to.Put(ctx, toKey, cr, info.Size); err != nil {
		return Object{}, err
	}
	return Object{Key: key, Size: cr.n, SHA256: hex.EncodeToString(sum.Sum(nil))}, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// hashingReader reads through a hash (for checking a file as it is read).
type hashingReader struct {
	r io.Reader
	h hash.Hash
}

func (h hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}
