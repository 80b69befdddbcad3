package query

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"opendata/blob"
	"opendata/errs"

	"opendata/catalog"
)

// Options configure the engine.
type Options struct {
	CacheDir   string        // local copies of Parquet objects (emptied at start)
	CacheBytes int64         // evict least recently used copies above this
	MemoryMB   int           // DuckDB memory limit
	Threads    int           // DuckDB worker threads
	Timeout    time.Duration // per query
	Location   *time.Location
}

// Engine runs records queries on DuckDB over a local cache of the object
// store. DuckDB may read only the cache directory: no network, no other
// files, no extensions, and its configuration is locked.
type Engine struct {
	db    *sql.DB
	blobs blob.Store
	opt   Options

	mu       sync.Mutex
	files    map[string]*cached
	inflight map[string]chan struct{}
	used     int64
	// hits and misses count Local calls answered from the local copy and
	// those that fetched the object (the metrics read them).
	hits, misses atomic.Int64
}

type cached struct {
	path   string
	size   int64
	schema Schema
	last   time.Time
}

// Open starts an in-process DuckDB locked down to the cache directory.
func Open(blobs blob.Store, opt Options) (*Engine, error) {
	if opt.Threads <= 0 {
		opt.Threads = 2
	}
	if opt.MemoryMB <= 0 {
		opt.MemoryMB = 512
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 30 * time.Second
	}
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	dir, err := filepath.Abs(opt.CacheDir)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("query cache: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "spill"), 0o750); err != nil {
		return nil, fmt.Errorf("query cache: %w", err)
	}
	opt.CacheDir = dir
	dsn := fmt.Sprintf("?threads=%d&memory_limit=%dMB&autoinstall_known_extensions=false&autoload_known_extensions=false&allow_community_extensions=false",
		opt.Threads, opt.MemoryMB)
	conn, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return nil, fmt.Errorf("duckdb: %w", err)
	}
	db := sql.OpenDB(conn)
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	for _, stmt := range []string{
		"SET temp_directory = " + lit(filepath.Join(dir, "spill")),
		"SET allowed_directories = [" + lit(dir+string(filepath.Separator)) + "]",
		"SET enable_external_access = false",
		"SET lock_configuration = true",
	} {
		if _, err := db.Exec(stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("duckdb %s: %w", stmt, err)
		}
	}
	return &Engine{db: db, blobs: blobs, opt: opt, files: map[string]*cached{}, inflight: map[string]chan struct{}{}}, nil
}

// Close stops the engine.
func (e *Engine) Close() error { return e.db.Close() }

// Location is the time zone timestamps are shown in.
func (e *Engine) Location() *time.Location { return e.opt.Location }

// Local returns the local copy of a Parquet object and its schema, fetching
// it from the object store on first use. Objects are immutable (a new
// version has new keys), so a copy never goes stale.
func (e *Engine) Local(ctx context.Context, key string) (string, Schema, error) {
	for {
		e.mu.Lock()
		if f, ok := e.files[key]; ok {
			f.last = time.Now()
			e.mu.Unlock()
			if _, err := os.Stat(f.path); err == nil {
				e.hits.Add(1)
				return f.path, f.schema, nil
			}
			e.forget(key) // removed behind our back: fetch again
			continue
		}
		if ch, ok := e.inflight[key]; ok {
			e.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return "", nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		e.inflight[key] = ch
		e.mu.Unlock()
		e.misses.Add(1)
		f, err := e.fetch(ctx, key)
		e.mu.Lock()
		delete(e.inflight, key)
		close(ch)
		if err != nil {
			e.mu.Unlock()
			return "", nil, err
		}
		e.files[key] = f
		e.used += f.size
		e.evictLocked(key)
		e.mu.Unlock()
		return f.path, f.schema, nil
	}
}

func (e *Engine) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if f, ok := e.files[key]; ok {
		e.used -= f.size
		delete(e.files, key)
	}
}

func (e *Engine) fetch(ctx context.Context, key string) (*cached, error) {
	rc, _, err := e.blobs.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	sum := sha256.Sum256([]byte(key))
	final := filepath.Join(e.opt.CacheDir, hex.EncodeToString(sum[:12])+".parquet")
	tmp, err := os.CreateTemp(e.opt.CacheDir, "fetch-*.tmp")
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(tmp, rc)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), final)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("cache %s: %w", key, err)
	}
	schema, err := e.describe(ctx, final)
	if err != nil {
		os.Remove(final)
		return nil, err
	}
	return &cached{path: final, size: n, schema: schema, last: time.Now()}, nil
}

// evictLocked removes least recently used copies while over the limit,
// never the one just added. A query still reading a removed file keeps
// its open handle.
func (e *Engine) evictLocked(keep string) {
	if e.opt.CacheBytes <= 0 || e.used <= e.opt.CacheBytes {
		return
	}
	keys := make([]string, 0, len(e.files))
	for k := range e.files {
		if k != keep {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return e.files[keys[i]].last.Before(e.files[keys[j]].last) })
	for _, k := range keys {
		if e.used <= e.opt.CacheBytes {
			return
		}
		f := e.files[k]
		os.Remove(f.path)
		e.used -= f.size
		delete(e.files, k)
	}
}

// CacheStats is how many lookups of a Parquet object found its local
// copy, and how many fetched it from the object store.
func (e *Engine) CacheStats() (hits, misses int64) { return e.hits.Load(), e.misses.Load() }

// CachedBytes is the size of the local copies (tests and metrics).
func (e *Engine) CachedBytes() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.used
}

func (e *Engine) describe(ctx context.Context, path string) (Schema, error) {
	rows, err := e.db.QueryContext(ctx, "DESCRIBE SELECT * FROM read_parquet('"+strings.ReplaceAll(path, "'", "''")+"')")
	if err != nil {
		return nil, fmt.Errorf("read the Parquet schema: %w", err)
	}
	defer rows.Close()
	var out Schema
	for rows.Next() {
		var name, typ string
		var null, key, def, extra sql.NullString
		if err := rows.Scan(&name, &typ, &null, &key, &def, &extra); err != nil {
			return nil, err
		}
		out = append(out, Column{Name: name, Type: typeOf(typ)})
	}
	return out, rows.Err()
}

func typeOf(duck string) catalog.ColumnType {
	switch {
	case duck == "BIGINT" || duck == "INTEGER" || duck == "SMALLINT" || duck == "TINYINT":
		return catalog.ColInt
	case duck == "DOUBLE" || duck == "FLOAT" || strings.HasPrefix(duck, "DECIMAL"):
		return catalog.ColDecimal
	case duck == "BOOLEAN":
		return catalog.ColBool
	case duck == "DATE":
		return catalog.ColDate
	case strings.HasPrefix(duck, "TIMESTAMP"):
		return catalog.ColTimestamp
	}
	return catalog.ColString
}

// Row is one result row: the output values, then the sort keys and the row
// number the next cursor is made of.
type Row struct {
	Values []any
	Keys   []any
	Number int64
}

// Run executes b and calls fn for every row, within the query timeout.
func (e *Engine) Run(ctx context.Context, b Built, fn func(Row) error) error {
	ctx, cancel := context.WithTimeout(ctx, e.opt.Timeout)
	defer cancel()
	rows, err := e.db.QueryContext(ctx, b.SQL, b.Args...)
	if err != nil {
		return e.mapErr(ctx, err)
	}
	defer rows.Close()
	n := len(b.Out)
	width := n
	if b.Paged {
		width = n + len(b.Keys) + 1
	}
	vals := make([]any, width)
	ptrs := make([]any, width)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return e.mapErr(ctx, err)
		}
		r := Row{Values: normalize(vals[:n])}
		if width > n {
			r.Keys = normalize(vals[n : width-1])
			r.Number, _ = vals[width-1].(int64)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return e.mapErr(ctx, rows.Err())
}

// Count runs b's count query.
func (e *Engine) Count(ctx context.Context, b Built) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opt.Timeout)
	defer cancel()
	var n int64
	err := e.db.QueryRowContext(ctx, b.CountSQL, b.CountArg...).Scan(&n)
	return n, e.mapErr(ctx, err)
}

// Exec runs a statement on the engine (the lockdown test tries forbidden ones).
func (e *Engine) Exec(ctx context.Context, stmt string) error {
	_, err := e.db.ExecContext(ctx, stmt)
	return err
}

func (e *Engine) mapErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errs.Unavailablef("err.query.timeout", "limit", e.opt.Timeout)
	}
	if strings.Contains(err.Error(), "Out of Memory") {
		return errs.Unavailablef("err.query.memory")
	}
	if strings.Contains(err.Error(), "Conversion Error") || strings.Contains(err.Error(), "Out of Range") {
		// DuckDB's words stay in the log: the reader is told which parameter.
		return errs.Internal(errs.Fieldf("filter", "err.query.filter.compare"), err)
	}
	return err
}

func normalize(vals []any) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case duckdb.Decimal:
			out[i] = x.Float64()
		case *big.Int:
			f, _ := new(big.Float).SetInt(x).Float64()
			out[i] = f
		case []byte:
			out[i] = string(x)
		case int32:
			out[i] = int64(x)
		case float32:
			out[i] = float64(x)
		default:
			out[i] = v
		}
	}
	return out
}

// Dir is the engine's cache directory.
func (e *Engine) Dir() string { return e.opt.CacheDir }
