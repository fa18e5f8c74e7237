// Package migrations holds the SQL schema of the durable store, one goose
// migration series per database, embedded in the binary, and applies it.
//
// The two series describe the same tables; they differ only where the
// databases do (timestamptz versus unix microseconds, text[] and jsonb versus
// JSON text). A change to one needs the matching change to the other.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Postgres is the migration series for PostgreSQL.
var Postgres = mustSub("postgres")

// SQLite is the migration series for SQLite.
var SQLite = mustSub("sqlite")

func mustSub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err)
	}
	return f
}

// Dialect names a database the schema exists for.
type Dialect string

// Dialects.
const (
	DialectPostgres Dialect = "postgres"
	DialectSQLite   Dialect = "sqlite"
)

// Up applies every pending migration of the dialect's series to db.
//
// On PostgreSQL everything, goose's version table included, lives in the
// connection's current schema (the first of its search_path), and runs under
// a session advisory lock keyed by that schema, so that several instances
// starting at once migrate one after the other while different schemas (one
// per test) do not wait for each other.
func Up(ctx context.Context, db *sql.DB, dialect Dialect) error {
	var (
		gd   goose.Dialect
		fsys fs.FS
		// Series may gain a migration numbered below one already
		// applied (changes made in parallel, merged in either order): it
		// is applied then instead of stopping the start.
		opts = []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithAllowOutofOrder(true)}
	)
	switch dialect {
	case DialectPostgres:
		gd, fsys = goose.DialectPostgres, Postgres
		var schema sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return fmt.Errorf("migrations: current schema: %w", err)
		}
		if !schema.Valid {
			return fmt.Errorf("migrations: no current schema: the search_path names no existing schema")
		}
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(lockID(schema.String)),
			lock.WithLockTimeout(1, 300),
		)
		if err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	case DialectSQLite:
		gd, fsys = goose.DialectSQLite3, SQLite
	default:
		return fmt.Errorf("migrations: unknown dialect %q", dialect)
	}
	p, err := goose.NewProvider(gd, db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}

// lockID derives the advisory lock key of a schema's migrations.
func lockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("qujat migrations " + schema))
	return int64(h.Sum64())
}
