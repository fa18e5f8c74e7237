package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qujat/qujat/wallet/wallettest"
)

// BenchmarkInsertCommit is the baseline of BenchmarkRedeemShare in the same
// run: BEGIN IMMEDIATE; INSERT one ~200-byte row; COMMIT on one writer
// connection opened as the store opens its own (WAL, SQLite's default
// synchronous=FULL), by the same callers.
func BenchmarkInsertCommit(b *testing.B) {
	for _, mode := range wallettest.BenchModes {
		b.Run(mode.Name, func(b *testing.B) {
			ctx := context.Background()
			db, err := sql.Open("sqlite", filepath.Join(b.TempDir(), "baseline.db")+
				"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			db.SetMaxIdleConns(1)
			if _, err := db.ExecContext(ctx, `CREATE TABLE baseline (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)`); err != nil {
				b.Fatal(err)
			}
			payload := strings.Repeat("x", 200)
			insert := func() error {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO baseline (payload) VALUES (?)`, payload); err != nil {
					tx.Rollback()
					return err
				}
				return tx.Commit()
			}
			wallettest.RunWrites(b, mode, func(int) error { return insert() })
		})
	}
}
