// Package sqlite implements wallet.Store on an SQLite file (modernc.org/sqlite,
// pure Go): the embedded default.
//
// Writes go through one connection whose transactions begin IMMEDIATE, so
// writers queue in the process and take SQLite's write lock up front (another
// process waits up to the busy timeout instead of failing with "database is
// locked" halfway through a transaction). Reads use a pool of read-only
// connections, which WAL mode lets run beside the writer.
//
// Times are stored as INTEGER unix microseconds in UTC: every time is
// truncated to the microsecond on write, as PostgreSQL does, so both stores
// return the same values.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/qujat/qujat/migrations"
	"github.com/qujat/qujat/wallet"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var _ wallet.Store = (*Store)(nil)

// busyTimeout is how long a connection waits for a lock held by another
// connection or process before giving up with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Store is wallet.Store on SQLite. It is safe for concurrent use.
type Store struct {
	w *sql.DB // the single writer connection
	r *sql.DB // read-only connections (the writer itself for ":memory:")

	// stmts are statements of the hot paths prepared on the writer once
	// (Store.stmt), guarded by stmtMu.
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt
}

// Open opens (creating it if needed) the SQLite database at path, with WAL
// journaling, a busy timeout and foreign keys on. It does not migrate: call
// Migrate. A path of ":memory:" gives a private in-memory database on one
// connection, for tests. EINVALID for a path SQLite cannot take,
// EUNAVAILABLE if the file cannot be opened.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, wallet.Errorf(wallet.EINVALID, "sqlite: invalid database path %q", path)
	}
	timeout := fmt.Sprint(busyTimeout.Milliseconds())
	if path == ":memory:" {
		db, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout("+timeout+")")
		if err != nil {
			return nil, wallet.Wrap(wallet.EINVALID, err, "sqlite: open")
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		s := &Store{w: db, r: db}
		if err := s.Ping(ctx); err != nil {
			db.Close()
			return nil, err
		}
		return s, nil
	}

	w, err := sql.Open("sqlite", path+"?_txlock=immediate"+
		"&_pragma=busy_timeout("+timeout+")"+
		"&_pragma=journal_mode(WAL)"+
		"&_pragma=foreign_keys(1)")
	if err != nil {
		return nil, wallet.Wrap(wallet.EINVALID, err, "sqlite: open")
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Open the writer first: it creates the file and switches it to WAL,
	// which the read-only connections cannot do.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, wallet.Wrap(wallet.EUNAVAILABLE, err, "sqlite: cannot open the database")
	}
	r, err := sql.Open("sqlite", path+"?_pragma=busy_timeout("+timeout+")"+
		"&_pragma=foreign_keys(1)"+
		"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, wallet.Wrap(wallet.EINVALID, err, "sqlite: open")
	}
	n := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s := &Store{w: w, r: r}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Migrate applies the pending schema migrations.
func (s *Store) Migrate(ctx context.Context) error {
	if err := migrations.Up(ctx, s.w, migrations.DialectSQLite); err != nil {
		return wrapErr(err, "sqlite: migrate")
	}
	return nil
}

// Ping checks both the writer and the readers answer. EUNAVAILABLE otherwise.
func (s *Store) Ping(ctx context.Context) error {
	for _, db := range []*sql.DB{s.w, s.r} {
		if err := db.PingContext(ctx); err != nil {
			return wallet.Wrap(wallet.EUNAVAILABLE, err, "sqlite: database unavailable")
		}
	}
	return nil
}

// Close closes all connections.
func (s *Store) Close() error {
	s.stmtMu.Lock()
	for _, p := range s.stmts {
		p.Close()
	}
	s.stmts = nil
	s.stmtMu.Unlock()
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// write runs fn in a write transaction (BEGIN IMMEDIATE on the writer
// connection) and commits if fn returns nil. Errors are translated.
func (s *Store) write(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrapErr(err, what)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return wrapErr(err, what)
	}
	if err := tx.Commit(); err != nil {
		return wrapErr(err, what)
	}
	return nil
}

// errDBClosed is the text of database/sql's error for a closed *sql.DB.
const errDBClosed = "sql: database is closed"

// wrapErr translates a driver error into a *wallet.Error; *wallet.Errors
// pass unchanged. what is a client-safe description of the operation.
func wrapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	if e := wallet.AsError(err); e != nil {
		return err
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return wallet.Wrap(wallet.ENOTFOUND, err, what+": not found")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, sql.ErrConnDone), errors.Is(err, driver.ErrBadConn),
		err.Error() == errDBClosed: // database/sql does not export it
		return wallet.Wrap(wallet.EUNAVAILABLE, err, what+": database unavailable")
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code()
		switch code {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return wallet.Wrap(wallet.ECONFLICT, err, what+": already exists")
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return wallet.Wrap(wallet.ENOTFOUND, err, what+": refers to a missing object")
		}
		switch code & 0xff {
		case sqlite3.SQLITE_CONSTRAINT:
			return wallet.Wrap(wallet.EINVALID, err, what+": invalid value")
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY:
			return wallet.Wrap(wallet.EUNAVAILABLE, err, what+": database unavailable")
		}
	}
	return wallet.Wrap(wallet.EINTERNAL, err, what)
}

// micros is how a time is stored: unix microseconds, truncated.
func micros(t time.Time) int64 { return t.UnixMicro() }

// nullMicros stores an optional time; nil is NULL.
func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// fromMicros reads a stored time, in UTC.
func fromMicros(n int64) time.Time { return time.UnixMicro(n).UTC() }

// fromNullMicros reads an optional stored time.
func fromNullMicros(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}

// logIndex stores a history log index; -1 (not logged) is NULL.
func logIndex(i int64) any {
	if i < 0 {
		return nil
	}
	return i
}

// fromLogIndex reads a stored log index.
func fromLogIndex(n sql.NullInt64) int64 {
	if !n.Valid {
		return -1
	}
	return n.Int64
}

// nullString stores "" as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// scanner is a *sql.Row or *sql.Rows. Every target given to Scan escapes to
// the heap, each in an allocation of its own: scan functions of hot paths
// keep their targets in one struct, which is one allocation.
type scanner interface{ Scan(dest ...any) error }

// collect scans every row with scan, translating errors.
func collect[T any](rows *sql.Rows, err error, what string, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, wrapErr(err, what)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, wrapErr(err, what)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(err, what)
	}
	return out, nil
}

// requireID rejects an empty id.
func requireID(id, what string) error {
	if id == "" {
		return wallet.Errorf(wallet.EINVALID, "%s: id is required", what)
	}
	return nil
}
