package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/qujat/qujat/wallet/wallettest"
)

// benchModes are the callers of the write benchmarks: one, and
// GOMAXPROCS×parallelism goroutines.
var benchModes = []struct {
	name        string
	parallelism int // 0: serial
}{
	{"serial", 0},
	{"parallel", 4},
	{"parallel16", 16},
}

// reportRate reports operations per second over the timed part.
func reportRate(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
}

// BenchmarkInsertCommit is the baseline of BenchmarkRedeemShare in the same
// run: one ~200-byte row INSERTed with autocommit, by the same callers, on a
// pgx pool of the same (default) size as the store's.
func BenchmarkInsertCommit(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
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
			b.ReportAllocs()
			b.ResetTimer()
			if mode.parallelism == 0 {
				for range b.N {
					if err := insert(); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism(mode.parallelism)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := insert(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			reportRate(b)
		})
	}
}
