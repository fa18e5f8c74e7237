package wallettest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/qujat/qujat/internal/servicetest"
)

// PostgresURL returns TEST_DATABASE_URL. Without it the test is skipped with
// a notice, or fails when QUJAT_TEST_REQUIRE_SERVICES=1 (as in CI). Either
// way, and when it runs, the test is recorded for make test's summary (see
// package servicetest).
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		servicetest.Missing(t, servicetest.Postgres, "TEST_DATABASE_URL is not set (a PostgreSQL connection string, e.g. postgres://user:password@host:5432/db?sslmode=disable), so tests against PostgreSQL do not run")
		return ""
	}
	servicetest.Ran(t, servicetest.Postgres)
	return u
}

// PostgresSchemaURL creates a fresh, empty schema in the database of
// PostgresURL and returns a connection string whose search_path is that
// schema, so that tests can run in parallel without seeing each other's
// tables. The schema is dropped when the test ends; close every pool on it
// before then (a t.Cleanup registered later runs earlier).
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	var b [8]byte
	rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to TEST_DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, base, schema)
}

// withSearchPath sets search_path in a URL or keyword/value connection string.
func withSearchPath(t testing.TB, conn, schema string) string {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		u, err := url.Parse(conn)
		if err != nil {
			t.Fatalf("TEST_DATABASE_URL: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return conn + " search_path=" + schema
}

// PostgresKeptSchemaURL is PostgresSchemaURL for a schema that outlives the
// test: made if it does not exist, never dropped (a benchmark's grown store,
// kept to be measured again or grown further).
func PostgresKeptSchemaURL(t testing.TB, schema string) string {
	t.Helper()
	base := PostgresURL(t)
	if !regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`).MatchString(schema) {
		t.Fatalf("schema %q: lower-case letters, digits and _ only", schema)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to TEST_DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	return withSearchPath(t, base, schema)
}
