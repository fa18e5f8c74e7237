package sharing_test

import (
	"context"
	"testing"

	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/postgres"
	"github.com/qujat/qujat/wallet/wallettest"
)

// redisPostgres is the production pair: Redis at TEST_REDIS_URL and
// PostgreSQL at TEST_DATABASE_URL, each test in a key prefix and a schema of
// its own. Without them its subtests are skipped with a notice (or fail when
// QUJAT_TEST_REQUIRE_SERVICES=1).
var redisPostgres = backend{
	name: "redis+postgres",
	open: func(t testing.TB, clock *fakeClock) (durableStore, wallet.ShortLivedStore, *shortlivedtest.RedisServer) {
		codes := sharedRedis(t)
		return openPostgres(t), codes, nil
	},
}

func openPostgres(t testing.TB) durableStore {
	t.Helper()
	url := wallettest.PostgresSchemaURL(t)
	ctx := context.Background()
	st, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("postgres migrate: %v", err)
	}
	return st
}
