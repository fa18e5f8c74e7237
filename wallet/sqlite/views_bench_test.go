package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/qujat/qujat/wallet/sqlite"
	"github.com/qujat/qujat/wallet/wallettest"
)

// benchStore opens a migrated store on a file, as the service does.
func benchStore(b *testing.B) *sqlite.Store {
	b.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "qujat.db"))
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
