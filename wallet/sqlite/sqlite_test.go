package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
	"github.com/qujat/qujat/wallet/sqlite"
	"github.com/qujat/qujat/wallet/wallettest"
)

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	wallettest.RunStoreTests(t, func(t *testing.T) wallettest.Store {
		return openStore(t, filepath.Join(t.TempDir(), "qujat.db"))
	})
}

func TestStore_InMemory(t *testing.T) {
	wallettest.RunStoreTests(t, func(t *testing.T) wallettest.Store {
		return openStore(t, ":memory:")
	})
}

func TestMigrate_IsIdempotentAndDataSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "qujat.db")
	s := openStore(t, path)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateClient(ctx, wallet.Client{ID: "bank-1", Name: "Bank", Kind: "bank"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, path)
	if _, err := s.Client(ctx, "bank-1"); err != nil {
		t.Fatal(err)
	}
}

func TestOpen_RejectsBadPath(t *testing.T) {
	for _, path := range []string{"", "a?b"} {
		_, err := sqlite.Open(context.Background(), path)
		if code := wallet.ErrorCode(err); code != wallet.EINVALID {
			t.Errorf("Open(%q): code %q, want %q", path, code, wallet.EINVALID)
		}
	}
	_, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "no-such-dir", "qujat.db"))
	if code := wallet.ErrorCode(err); code != wallet.EUNAVAILABLE {
		t.Errorf("Open in a missing directory: code %q, want %q", code, wallet.EUNAVAILABLE)
	}
}

func TestClosedStore_IsUnavailable(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "qujat.db"))
	s.Close()
	if code := wallet.ErrorCode(s.Ping(context.Background())); code != wallet.EUNAVAILABLE {
		t.Errorf("Ping after Close: code %q, want %q", code, wallet.EUNAVAILABLE)
	}
	_, err := s.Client(context.Background(), "x")
	if code := wallet.ErrorCode(err); code != wallet.EUNAVAILABLE {
		t.Errorf("Client after Close: code %q, want %q", code, wallet.EUNAVAILABLE)
	}
}

// Two stores on one file, each with its own history log, stand for two
// processes: the write lock, taken at BEGIN IMMEDIATE and waited for up to
// the busy timeout, is the log's append lock too. Redemption stays
// single-use across them, no writer fails with "database is locked" or a
// conflict, and the one log they share passes the audit with a leaf per
// redemption.
func TestTwoStoresOnOneFile_RedeemAtMostMaxViews(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "qujat.db")
	a, b := openStore(t, path), openStore(t, path)
	keys, err := historylog.NewKeys("qujat.test/wallet", nil)
	if err != nil {
		t.Fatal(err)
	}
	var recs []history.Recorder
	for _, s := range []*sqlite.Store{a, b} {
		l, err := historylog.New(historylog.Config{Store: s, Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		recs = append(recs, history.Recorder{Log: l})
	}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	_, err = recs[0].Commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateShare{Share: wallet.Share{ID: "sh-1", DocumentID: "doc-1",
		OwnerIIN: "900101300015", CreatedBy: "900101300015", MaxViews: 5, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}}}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v := wallet.View{ID: fmt.Sprintf("v-%d", i), DocumentID: "doc-1", OwnerIIN: "900101300015", ViewerKind: wallet.ViewerCitizen,
				ViewerID: fmt.Sprint(i), Channel: wallet.ChannelQR, At: now, LogIndex: -1}
			_, errs[i] = recs[i%2].Commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.RedeemShare{ShareID: "sh-1", View: v}}})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch wallet.ErrorCode(err) {
		case "":
			ok++
		case wallet.EEXPIRED:
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 5 {
		t.Fatalf("%d redemptions succeeded, want 5", ok)
	}
	views, err := b.ViewsOfOwner(ctx, "900101300015")
	if err != nil || len(views) != 5 {
		t.Fatalf("%d views stored (err %v), want 5", len(views), err)
	}
	rep, err := history.Audit(ctx, a, keys.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Log.Size != 5 || rep.Views != 5 {
		t.Fatalf("audit report %+v, want 5 leaves and 5 views", rep)
	}
}
