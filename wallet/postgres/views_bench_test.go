package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/qujat/qujat/wallet/postgres"
	"github.com/qujat/qujat/wallet/wallettest"
)

// benchStore opens a migrated store in a schema of its own at
// TEST_DATABASE_URL (skipped without it), with the service's default pool.
func benchStore(b *testing.B) *postgres.Store {
	b.Helper()
	ctx := context.Background()
	s, err := postgres.Open(ctx, wallettest.PostgresSchemaURL(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkRedeemShare(b *testing.B) {
	wallettest.BenchmarkRedeemShare(b, func(b *testing.B) wallettest.Store { return benchStore(b) })
}

func BenchmarkRecordView(b *testing.B) {
	wallettest.BenchmarkRecordView(b, func(b *testing.B) wallettest.Store { return benchStore(b) })
}

// BenchmarkRedeemShareAfterPrior: QUJAT_BENCH_PRIOR sizes (see wallettest);
// QUJAT_BENCH_KEEP_SCHEMA=name grows (or resumes growing) the store in that
// schema of TEST_DATABASE_URL and keeps it after the run.
func BenchmarkRedeemShareAfterPrior(b *testing.B) {
	open := func(b *testing.B) wallettest.Store { return benchStore(b) }
	keep := os.Getenv("QUJAT_BENCH_KEEP_SCHEMA")
	if keep == "" {
		wallettest.BenchmarkRedeemShareAfterPrior(b, open)
		return
	}
	wallettest.BenchmarkRedeemShareAfterPriorOn(b, open, func(b *testing.B) (wallettest.Store, int) {
		ctx := context.Background()
		url := wallettest.PostgresKeptSchemaURL(b, keep)
		s, err := postgres.Open(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		if err := s.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM views").Scan(&n); err != nil {
			b.Fatal(err)
		}
		return s, n
	})
}
