package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/qujat/qujat/wallet/internal/redeemqueue"
	"github.com/qujat/qujat/wallet/wallettest"
)

func TestRedeemBatch(t *testing.T) {
	wallettest.RunRedeemBatchTests(t, func(t *testing.T) wallettest.RedeemBatchStore {
		ctx := context.Background()
		s, err := Open(ctx, filepath.Join(t.TempDir(), "qujat.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return wallettest.RedeemBatchStore{
			Store:    s,
			RunBatch: func(b []*redeemqueue.Request) { s.redeemBatch(b) },
			// A deferred foreign key violation, checked only at COMMIT.
			Poison: func(t *testing.T) {
				for _, q := range []string{
					`CREATE TABLE poison_parent (id TEXT PRIMARY KEY)`,
					`CREATE TABLE poison_child (parent TEXT REFERENCES poison_parent (id) DEFERRABLE INITIALLY DEFERRED)`,
					`CREATE TRIGGER poison AFTER INSERT ON views WHEN NEW.id = 'v-poison'
						BEGIN INSERT INTO poison_child (parent) VALUES ('nothing'); END`,
				} {
					if _, err := s.w.ExecContext(ctx, q); err != nil {
						t.Fatal(err)
					}
				}
			},
		}
	})
}
