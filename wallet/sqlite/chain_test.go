package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/qujat/qujat/wallet/sqlite"
	"github.com/qujat/qujat/wallet/wallettest"
)

func TestVersionChain_TamperingIsDetected(t *testing.T) {
	wallettest.RunVersionChainTamperTests(t,
		wallettest.ChainDialect{AppendContentByte: "UPDATE document_versions SET content = content || x'20' WHERE version = 2"},
		func(t *testing.T) (wallettest.Store, wallettest.Tamper) {
			path := filepath.Join(t.TempDir(), "qujat.db")
			st, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st, func(t *testing.T, statement string) {
				db, err := sql.Open("sqlite", path)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, err := db.Exec(statement); err != nil {
					t.Fatalf("tamper: %v", err)
				}
			}
		})
}
