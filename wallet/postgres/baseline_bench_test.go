package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/qujat/qujat/wallet/wallettest"
)

// BenchmarkInsertCommit is the baseline of BenchmarkRedeemShare in the same
// run: one ~200-byte row INSERTed with autocommit, by the same callers, on a
// pgx pool of the same (default) size as the store's.
func BenchmarkInsertCommit(b *testing.B) {
	for _, mode := range wallettest.BenchModes {
		b.Run(mode.Name, func(b *testing.B) {
			ctx := context.Background()
			pool, err := pgxpool.New(ctx, wallettest.PostgresSchemaURL(b))
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			if _, err := pool.Exec(ctx, `CREATE TABLE baseline (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload text NOT NULL)`); err != nil {
				b.Fatal(err)
			}
			payload := strings.Repeat("x", 200)
			insert := func() error {
				_, err := pool.Exec(ctx, `INSERT INTO baseline (payload) VALUES ($1)`, payload)
				return err
			}
			wallettest.RunWrites(b, mode, func(int) error { return insert() })
		})
	}
}
