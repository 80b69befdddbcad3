// Package db is the metadata database: SQLite (default, zero config) or
// PostgreSQL, one schema, migrations for both. Queries are written once with
// "?" placeholders and rebound for the dialect; values are always bound
// parameters, never spliced into the SQL text.
package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"opendata/errs"
)

// Dialect names the SQL engine.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is the metadata database handle.
type DB struct {
	sql     *sql.DB
	Dialect Dialect
	stmts   sync.Map // query text → *sql.Stmt
}

// Open connects to PostgreSQL when url starts with postgres:// or
// postgresql://, else opens (creating) the SQLite file at sqlitePath.
func Open(ctx context.Context, url, sqlitePath string) (*DB, error) {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		sdb, err := sql.Open("pgx", url)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		sdb.SetMaxOpenConns(20)
		sdb.SetMaxIdleConns(20)
		sdb.SetConnMaxIdleTime(5 * time.Minute)
		d := &DB{sql: sdb, Dialect: Postgres}
		if err := d.Ping(ctx); err != nil {
			sdb.Close()
			return nil, fmt.Errorf("connect postgres: %w", err)
		}
		return d, nil
	}
	if dir := filepath.Dir(sqlitePath); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	dsn := "file:" + sqlitePath + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(15000)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate&_time_format=sqlite"
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	sdb.SetMaxOpenConns(8)
	sdb.SetMaxIdleConns(8) // keep them: opening a connection costs more than a query
	d := &DB{sql: sdb, Dialect: SQLite}
	if err := d.Ping(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", sqlitePath, err)
	}
	return d, nil
}

// Ping checks the connection (readiness).
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.sql.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close closes the pool.
func (d *DB) Close() error {
	d.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	return d.sql.Close()
}

// Rebind rewrites "?" placeholders to "$1, $2…" for PostgreSQL. It skips
// question marks inside single-quoted literals.
func (d *DB) Rebind(q string) string { return rebind(d.Dialect, q) }

func rebind(dialect Dialect, q string) string {
	if dialect != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n, inQuote := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '?' && !inQuote:
			n++
			fmt.Fprintf(&b, "$%d", n)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Querier is what both *DB and *Tx offer.
type Querier interface {
	Exec(ctx context.Context, q string, args ...any) (sql.Result, error)
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) *sql.Row
	InsertID(ctx context.Context, q string, args ...any) (int64, error)
	Dialect() Dialect
}

type runner interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

type conn struct {
	r       runner
	dialect Dialect
}

func (c conn) Dialect() Dialect { return c.dialect }

func (c conn) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	res, err := c.r.ExecContext(ctx, rebind(c.dialect, q), args...)
	return res, MapErr(err)
}

func (c conn) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	rows, err := c.r.QueryContext(ctx, rebind(c.dialect, q), args...)
	return rows, MapErr(err)
}

func (c conn) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return c.r.QueryRowContext(ctx, rebind(c.dialect, q), args...)
}

// InsertID runs an INSERT and returns the new row's id column. The statement
// must not end with a RETURNING clause of its own.
func (c conn) InsertID(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	err := c.r.QueryRowContext(ctx, rebind(c.dialect, q)+" RETURNING id", args...).Scan(&id)
	return id, MapErr(err)
}

func (d *DB) q() conn { return conn{r: d.sql, dialect: d.Dialect} }

func (d *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.q().Exec(ctx, q, args...)
}
func (d *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.q().Query(ctx, q, args...)
}
func (d *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return d.q().QueryRow(ctx, q, args...)
}

// QueryRowPrepared is QueryRow through a statement prepared once and kept
// for the life of the pool: for the hottest lookups (an API key on every
// call), where parsing the SQL each time would dominate.
func (d *DB) QueryRowPrepared(ctx context.Context, q string, args ...any) (*sql.Row, error) {
	st, ok := d.stmts.Load(q)
	if !ok {
		prepared, err := d.sql.PrepareContext(ctx, d.Rebind(q))
		if err != nil {
			return nil, err
		}
		var loaded bool
		if st, loaded = d.stmts.LoadOrStore(q, prepared); loaded {
			prepared.Close()
		}
	}
	return st.(*sql.Stmt).QueryRowContext(ctx, args...), nil
}
func (d *DB) InsertID(ctx context.Context, q string, args ...any) (int64, error) {
	return d.q().InsertID(ctx, q, args...)
}

// Tx runs fn in a transaction, committing when it returns nil. On
// PostgreSQL a serialization failure or deadlock is retried a few times.
func (d *DB) Tx(ctx context.Context, fn func(q Querier) error) error {
	for attempt := 0; ; attempt++ {
		err := d.tx(ctx, fn)
		if err != nil && attempt < 4 && isRetryable(err) {
			time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
			continue
		}
		return err
	}
}

func (d *DB) tx(ctx context.Context, fn func(q Querier) error) error {
	stx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return MapErr(err)
	}
	if err := fn(conn{r: stx, dialect: d.Dialect}); err != nil {
		_ = stx.Rollback()
		return err
	}
	return MapErr(stx.Commit())
}

func isRetryable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40001" || pg.Code == "40P01"
	}
	return false
}

// MapErr turns driver errors into errs kinds: no rows → NotFound, a taken
// unique value → errs.Duplicate (a Conflict naming the table and columns),
// a foreign-key violation → Conflict, a database that cannot be reached
// (connection refused or lost, the server starting or shutting down, SQLite
// still locked after its busy timeout) → Unavailable. The driver error stays
// wrapped for the log and is never shown to a client (errs.Internal). An
// error that already has a kind is returned as it is.
func MapErr(err error) error {
	if err == nil || errs.KindOf(err) != nil {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return errs.Internal(errs.NotFound, err)
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "23505":
			return &errs.Duplicate{Table: pg.TableName, Columns: pgKeyColumns(pg.Detail), Cause: err}
		case "23503":
			return errs.Internal(errs.Conflict, err)
		}
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			table, cols := sqliteUniqueColumns(se.Error())
			return &errs.Duplicate{Table: table, Columns: cols, Cause: err}
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return errs.Internal(errs.Conflict, err)
		}
	}
	if Unreachable(err) {
		return errs.Internal(errs.Unavailable, err)
	}
	return err
}

// Unreachable tells a failure to reach the database from a failure of the
// statement: the answer then is "try again shortly" (503), never "not
// found" or a 500.
func Unreachable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// 08: connection exception; 57P01–03: the server is shutting down,
		// crashed or starting; 53300: too many connections.
		return strings.HasPrefix(pg.Code, "08") || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03" || pg.Code == "53300"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	// pgx reports a connection lost mid-statement as "unexpected EOF" or
	// "conn closed" text around an error it does not export.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "unexpected EOF") || strings.Contains(msg, "failed to connect")
}

// pgKeyColumns reads the columns of "Key (code)=(JTJ) already exists.".
func pgKeyColumns(detail string) []string {
	rest, ok := strings.CutPrefix(detail, "Key (")
	if !ok {
		return nil
	}
	cols, _, ok := strings.Cut(rest, ")=")
	if !ok {
		return nil
	}
	return splitColumns(cols)
}

// sqliteUniqueColumns reads "UNIQUE constraint failed: departments.code (2067)".
func sqliteUniqueColumns(msg string) (string, []string) {
	i := strings.LastIndex(msg, "constraint failed: ")
	if i < 0 {
		return "", nil
	}
	rest := msg[i+len("constraint failed: "):]
	if i := strings.LastIndex(rest, " ("); i > 0 {
		rest = rest[:i]
	}
	var table string
	var cols []string
	for _, tc := range splitColumns(rest) {
		t, c, ok := strings.Cut(tc, ".")
		if !ok {
			continue
		}
		table = t
		cols = append(cols, c)
	}
	return table, cols
}

func splitColumns(s string) []string {
	var out []string
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// Now is the time the stores stamp rows with: UTC, microsecond precision so
// it survives a round trip through either engine unchanged.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Clock is a service's source of time: nil reads the wall clock (Now);
// tests set a fixed one.
type Clock func() time.Time

// Now is the clock's time, in UTC.
func (c Clock) Now() time.Time {
	if c == nil {
		return Now()
	}
	return c().UTC()
}

// Time scans a timestamp that SQLite may hand back as text (the result of
// an aggregate or expression loses the column's declared type).
type Time struct{ time.Time }

// Scan implements sql.Scanner.
func (t *Time) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		t.Time = time.Time{}
		return nil
	case time.Time:
		t.Time = x
		return nil
	case []byte:
		return t.parse(string(x))
	case string:
		return t.parse(x)
	}
	return fmt.Errorf("db.Time: cannot scan %T", v)
}

func (t *Time) parse(s string) error {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
		if p, err := time.Parse(layout, s); err == nil {
			t.Time = p.UTC()
			return nil
		}
	}
	return fmt.Errorf("db.Time: cannot parse %q", s)
}

// Secret returns the named server secret, creating a random one the first
// time; every instance sharing the database uses the same value.
func Secret(ctx context.Context, d *DB, name string) ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if _, err := d.Exec(ctx, "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", name, hex.EncodeToString(b)); err != nil {
		return nil, err
	}
	var v string
	if err := d.QueryRow(ctx, "SELECT value FROM settings WHERE name = ?", name).Scan(&v); err != nil {
		return nil, err
	}
	return hex.DecodeString(v)
}
