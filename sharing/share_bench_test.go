package sharing_test

import (
	"testing"

	"github.com/qujat/qujat/sharing"
	"github.com/qujat/qujat/wallet"
)

// These complete bench_test.go (BenchmarkQR, and BenchmarkRedeemToken on
// memory+SQLite) on the other backends: redis+sqlite starts a redis-server
// of its own (skipped if none is installed), redis+postgres needs
// TEST_REDIS_URL and TEST_DATABASE_URL (skipped without them).

// BenchmarkOpen measures opening a single-use share: the durable share and
// its share_opened event, then the code, ticket and sealed token in the
// short-lived store.
func BenchmarkOpen(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			e := newEnv(b, be)
			owner := newIIN(b)
			doc := e.newDoc(b, owner)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := e.svc.Open(ctx, doc, owner, 0, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// openMany opens n single-use shares of new owners (not timed).
func openMany(b *testing.B, e *env, n int) ([]wallet.Document, []sharing.Opened) {
	b.Helper()
	docs := make([]wallet.Document, n)
	opened := make([]sharing.Opened, n)
	for i := range n {
		docs[i], opened[i] = e.open(b, 0, 1)
	}
	return docs, opened
}

// BenchmarkRedeemTokenOn measures a token redemption on the Redis backends
// (BenchmarkRedeemToken covers memory+SQLite).
func BenchmarkRedeemTokenOn(b *testing.B) {
	for _, be := range []backend{redisSQLite, redisPostgres, redisClusterSQLite} {
		b.Run(be.name, func(b *testing.B) {
			e := newEnv(b, be)
			v := viewer(b)
			_, opened := openMany(b, e, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := e.svc.RedeemToken(ctx, v, opened[i].Token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRedeemCode measures a short-code redemption with a correct code:
// the wrong-code counters read, the code looked up, the ticket spent, the
// view committed.
func BenchmarkRedeemCode(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			e := newEnv(b, be)
			v := viewer(b)
			docs, opened := openMany(b, e, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := e.svc.RedeemCode(ctx, v, docs[i].SubjectIIN, opened[i].ShortCode); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
