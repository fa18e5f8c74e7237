package postgres_test

import (
	"context"
	"testing"

	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/postgres"
	"github.com/qujat/qujat/wallet/wallettest"
)

func openStore(t *testing.T, url string) *postgres.Store {
	t.Helper()
	ctx := context.Background()
	s, err := postgres.Open(ctx, url)
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
	wallettest.PostgresURL(t) // skip the whole suite at once without a server
	wallettest.RunStoreTests(t, func(t *testing.T) wallet.Store {
		return openStore(t, wallettest.PostgresSchemaURL(t))
	})
}
