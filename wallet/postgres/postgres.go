// Package postgres implements wallet.Store on PostgreSQL with a pgx v5 pool:
// the production store.
//
// Every table lives in the connection's current schema (the first entry of
// its search_path), so a URL with search_path=... selects a schema; tests
// use one schema each. Times are timestamptz, truncated to the microsecond
// on write (PostgreSQL would round) and returned in UTC.
package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jackc/puddle/v2"
	"github.com/qujat/qujat/migrations"
	"github.com/qujat/qujat/wallet"
)

var _ wallet.Store = (*Store)(nil)

// Store is wallet.Store on PostgreSQL, and the history log's store
// (historylog.LogStore). It is safe for concurrent use.
//
// The tables whose changes have history (shares, consents, views, events,
// documents and their versions) are written only through the log's
// batches: BeginAppend's transaction applies a batch's wallet.Ops and
// stores its leaves with their rows (see append.go).
type Store struct {
	pool *pgxpool.Pool
}

// Open connects a pool to the database at url (a postgres:// URL or a
// keyword/value connection string; pool settings such as pool_max_conns and
// runtime parameters such as search_path are taken from it) and checks that
// the server answers. It does not migrate: call Migrate. EINVALID for a
// malformed url, EUNAVAILABLE if the server cannot be reached.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the password: keep it out of the message.
		return nil, wallet.Wrap(wallet.EINVALID, err, "postgres: invalid connection string")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINVALID, err, "postgres: invalid pool configuration")
	}
	s := &Store{pool: pool}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Migrate applies the pending schema migrations to the current schema.
// Several processes may call it at once: they take turns.
func (s *Store) Migrate(ctx context.Context) error {
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	if err := migrations.Up(ctx, db, migrations.DialectPostgres); err != nil {
		return wrapErr(err, "postgres: migrate")
	}
	return nil
}

// Ping checks the server answers. EUNAVAILABLE otherwise.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return wallet.Wrap(wallet.EUNAVAILABLE, err, "postgres: database unavailable")
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// write runs fn in a transaction and commits if fn returns nil. Errors are
// translated.
func (s *Store) write(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrapErr(err, what)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return wrapErr(err, what)
	}
	if err := tx.Commit(ctx); err != nil {
		return wrapErr(err, what)
	}
	return nil
}

// exec runs one statement on its own and returns the rows it affected.
func (s *Store) exec(ctx context.Context, what, sql string, args ...any) (int64, error) {
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return 0, wrapErr(err, what)
	}
	return tag.RowsAffected(), nil
}

// wrapErr translates a driver error into a *wallet.Error; *wallet.Errors
// pass unchanged. what is a client-safe description of the operation.
func wrapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	if e := wallet.AsError(err); e != nil {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return wallet.Wrap(wallet.ENOTFOUND, err, what+": not found")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		class := pe.Code
		if len(class) > 2 {
			class = class[:2]
		}
		switch {
		case pe.Code == "23505": // unique_violation
			return wallet.Wrap(wallet.ECONFLICT, err, what+": already exists")
		case pe.Code == "23503": // foreign_key_violation
			return wallet.Wrap(wallet.ENOTFOUND, err, what+": refers to a missing object")
		case pe.Code == "40001", pe.Code == "40P01": // serialization_failure, deadlock_detected
			return wallet.Wrap(wallet.ECONFLICT, err, what+": concurrent update, try again")
		case class == "23", class == "22": // other integrity violations, bad data
			return wallet.Wrap(wallet.EINVALID, err, what+": invalid value")
		case class == "08", class == "53", class == "57":
			// connection exception, insufficient resources, operator intervention
			return wallet.Wrap(wallet.EUNAVAILABLE, err, what+": database unavailable")
		}
		return wallet.Wrap(wallet.EINTERNAL, err, what)
	}
	if connectionLevel(err) {
		return wallet.Wrap(wallet.EUNAVAILABLE, err, what+": database unavailable")
	}
	return wallet.Wrap(wallet.EINTERNAL, err, what)
}

// connectionLevel reports whether err is about reaching the server rather
// than about the statement: a failed connect, a connection closed or lost
// mid-request (the driver's "conn closed", a network error, EOF), a
// timeout, a cancelled context or a closed pool. Such a request may or may
// not have been committed; the caller answers 503 and a retry with the same
// idempotency key recovers the outcome.
func connectionLevel(err error) bool {
	var (
		ce *pgconn.ConnectError
		ne net.Error
		oe *net.OpError
	)
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.As(err, &oe) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, puddle.ErrClosedPool) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE)
}

// ts is how a time is stored: truncated to the microsecond, in UTC.
func ts(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// tsp stores an optional time.
func tsp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := ts(*t)
	return &u
}

// utc reads an optional stored time.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// logIndex stores a history log index; -1 (not logged) is NULL.
func logIndex(i int64) *int64 {
	if i < 0 {
		return nil
	}
	return &i
}

// fromLogIndex reads a stored log index.
func fromLogIndex(i *int64) int64 {
	if i == nil {
		return -1
	}
	return *i
}

// nullString stores "" as NULL.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// collect scans every row with scan, translating errors.
func collect[T any](rows pgx.Rows, err error, what string, scan func(pgx.Row) (T, error)) ([]T, error) {
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

// encodeTypes stores a list of document types as text[].
func encodeTypes(ts []wallet.DocumentType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

// decodeTypes reads a stored list; an empty list is nil.
func decodeTypes(ss []string) []wallet.DocumentType {
	if len(ss) == 0 {
		return nil
	}
	out := make([]wallet.DocumentType, len(ss))
	for i, s := range ss {
		out[i] = wallet.DocumentType(s)
	}
	return out
}
