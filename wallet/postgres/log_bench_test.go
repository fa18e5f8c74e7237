package postgres_test

import (
	"context"
	"testing"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/historylog/historylogtest"
	"github.com/qujat/qujat/wallet/postgres"
	"github.com/qujat/qujat/wallet/wallettest"
)

// openBenchStore opens a migrated store in a schema of b's own.
func openBenchStore(b *testing.B) *postgres.Store {
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

// BenchmarkAppend_GroupCommit: 16×GOMAXPROCS appenders, batches of up to 256.
func BenchmarkAppend_GroupCommit(b *testing.B) {
	historylogtest.BenchmarkAppend(b, openBenchStore(b), 0, 16)
}

// BenchmarkAppend_OneTxPerEvent: the same appenders, one transaction each.
func BenchmarkAppend_OneTxPerEvent(b *testing.B) {
	historylogtest.BenchmarkAppend(b, openBenchStore(b), 1, 16)
}

// BenchmarkAppend_GroupCommitVsOneTxPerEvent: 32 appenders, 500 appends in
// each mode per iteration, both rates and their ratio from the same run.
func BenchmarkAppend_GroupCommitVsOneTxPerEvent(b *testing.B) {
	historylogtest.BenchmarkGroupCommitVsOneTxPerEvent(b, func(b *testing.B) historylog.LogStore { return openBenchStore(b) }, 32, 500)
}

// BenchmarkAppend_ThreeInstancesVsOne: 48 appenders, 1,500 appends per
// iteration through one Log, then through three Logs on one store (three
// service instances), rates and ratio from the same run.
func BenchmarkAppend_ThreeInstancesVsOne(b *testing.B) {
	historylogtest.BenchmarkInstances(b, func(b *testing.B) historylog.LogStore { return openBenchStore(b) }, 3, 48, 1500)
}
