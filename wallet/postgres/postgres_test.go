package postgres_test

import (
	"context"
	"strings"
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
	wallettest.RunStoreTests(t, func(t *testing.T) wallettest.Store {
		return openStore(t, wallettest.PostgresSchemaURL(t))
	})
}

func TestMigrate_ConcurrentAndRepeatedKeepTheSchemaInItsOwnSearchPath(t *testing.T) {
	ctx := context.Background()
	url := wallettest.PostgresSchemaURL(t)
	a, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	errs := make(chan error, 2)
	go func() { errs <- a.Migrate(ctx) }()
	go func() { errs <- b.Migrate(ctx) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateClient(ctx, wallet.Client{ID: "bank-1", Name: "Bank", Kind: "bank"}); err != nil {
		t.Fatal(err)
	}
	// Another schema does not see it: each test's schema holds its own
	// tables and goose version table.
	other := openStore(t, wallettest.PostgresSchemaURL(t))
	_, err = other.Client(ctx, "bank-1")
	if code := wallet.ErrorCode(err); code != wallet.ENOTFOUND {
		t.Fatalf("client in another schema: code %q, want %q", code, wallet.ENOTFOUND)
	}
}

func TestOpen_Errors(t *testing.T) {
	ctx := context.Background()
	_, err := postgres.Open(ctx, "postgres://u:secret@host:notaport/db")
	if code := wallet.ErrorCode(err); code != wallet.EINVALID {
		t.Errorf("malformed URL: code %q, want %q", code, wallet.EINVALID)
	}
	if err != nil && strings.Contains(wallet.ErrorMessage(err), "secret") {
		t.Errorf("message shows the password: %q", wallet.ErrorMessage(err))
	}
	// Nothing listens on port 1.
	_, err = postgres.Open(ctx, "postgres://u:p@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")
	if code := wallet.ErrorCode(err); code != wallet.EUNAVAILABLE {
		t.Errorf("unreachable server: code %q, want %q (%v)", code, wallet.EUNAVAILABLE, err)
	}
}

func TestClosedStore_IsUnavailable(t *testing.T) {
	s := openStore(t, wallettest.PostgresSchemaURL(t))
	s.Close()
	ctx := context.Background()
	if code := wallet.ErrorCode(s.Ping(ctx)); code != wallet.EUNAVAILABLE {
		t.Errorf("Ping after Close: code %q, want %q", code, wallet.EUNAVAILABLE)
	}
	_, err := s.Client(ctx, "x")
	if code := wallet.ErrorCode(err); code != wallet.EUNAVAILABLE {
		t.Errorf("Client after Close: code %q, want %q (%v)", code, wallet.EUNAVAILABLE, err)
	}
	err = s.CreateClient(ctx, wallet.Client{ID: "x"})
	if code := wallet.ErrorCode(err); code != wallet.EUNAVAILABLE {
		t.Errorf("CreateClient after Close: code %q, want %q (%v)", code, wallet.EUNAVAILABLE, err)
	}
}
