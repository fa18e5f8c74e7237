package consent_test

import (
	"context"
	"testing"

	"github.com/qujat/qujat/wallet/postgres"
	"github.com/qujat/qujat/wallet/wallettest"
)

// postgresStore opens a migrated PostgreSQL store in a schema of its own
// (skipped without TEST_DATABASE_URL).
func postgresStore(t *testing.T) durableStore {
	ctx := context.Background()
	s, err := postgres.Open(ctx, wallettest.PostgresSchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}
