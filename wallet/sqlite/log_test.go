package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/historylog/historylogtest"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/sqlite"
)

func newLogStore(t *testing.T) historylog.LogStore {
	return openStore(t, filepath.Join(t.TempDir(), "qujat.db"))
}

func TestLogStore(t *testing.T) {
	historylogtest.RunLogStoreTests(t, newLogStore)
}

func TestLogStore_InMemory(t *testing.T) {
	historylogtest.RunLogStoreTests(t, func(t *testing.T) historylog.LogStore { return openStore(t, ":memory:") })
}

func TestLog(t *testing.T) {
	historylogtest.RunLogTests(t, newLogStore)
}

func TestLog_InMemory(t *testing.T) {
	historylogtest.RunLogTests(t, func(t *testing.T) historylog.LogStore { return openStore(t, ":memory:") })
}

func TestAudit(t *testing.T) {
	historylogtest.RunAuditTests(t, func(t *testing.T) historylogtest.Tamperable {
		path := filepath.Join(t.TempDir(), "qujat.db")
		s := openStore(t, path)
		// Tampering goes through a connection of its own, as an operator's would.
		db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return historylogtest.Tamperable{Store: s, Exec: func(t *testing.T, query string, args ...any) {
			t.Helper()
			if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}}
	})
}

// openBenchStore opens a migrated store in a file of b's own.
func openBenchStore(b *testing.B) *sqlite.Store {
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

// A batch's statements do not watch its context one by one, but the batch
// still ends with it: once the context has ended every step is
// EUNAVAILABLE, nothing is stored and the writer takes the next batch.
func TestAppend_AnEndedContextEndsTheBatch(t *testing.T) {
	s := newLogStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tx, err := s.BeginAppend(ctx)
	if err != nil {
		t.Fatal(err)
	}
	size, _, err := tx.Apply(ctx, nil)
	if err != nil || size != 0 {
		t.Fatalf("Apply = %d, %v", size, err)
	}
	cancel()
	if _, _, err := tx.Apply(ctx, nil); wallet.ErrorCode(err) != wallet.EUNAVAILABLE {
		t.Fatalf("Apply after the context ended: %v, want EUNAVAILABLE", err)
	}
	if _, err := tx.ReadHashes(ctx, []int64{0}); wallet.ErrorCode(err) != wallet.EUNAVAILABLE {
		t.Fatalf("ReadHashes after the context ended: %v, want EUNAVAILABLE", err)
	}
	if err := tx.Commit(ctx, size, nil, nil, historylog.StoredCheckpoint{}); wallet.ErrorCode(err) != wallet.EUNAVAILABLE {
		t.Fatalf("Commit after the context ended: %v, want EUNAVAILABLE", err)
	}
	tx.Rollback()

	bg := context.Background()
	tx, err = s.BeginAppend(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if size, _, err := tx.Apply(bg, nil); err != nil || size != 0 {
		t.Fatalf("the next batch's Apply = %d, %v", size, err)
	}
}
