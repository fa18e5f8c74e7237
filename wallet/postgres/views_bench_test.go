package postgres_test

import (
	"context"
	"testing"

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

func BenchmarkRedeemShareAfterPrior(b *testing.B) {
	wallettest.BenchmarkRedeemShareAfterPrior(b, func(b *testing.B) wallettest.Store { return benchStore(b) })
}
