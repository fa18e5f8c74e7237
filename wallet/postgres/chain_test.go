package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/qujat/qujat/wallet/postgres"
	"github.com/qujat/qujat/wallet/wallettest"
)

func TestVersionChain_TamperingIsDetected(t *testing.T) {
	wallettest.RunVersionChainTamperTests(t,
		wallettest.ChainDialect{AppendContentByte: `UPDATE document_versions SET content = content || '\x20'::bytea WHERE version = 2`},
		func(t *testing.T) (wallettest.Store, wallettest.Tamper) {
			url := wallettest.PostgresSchemaURL(t)
			ctx := context.Background()
			st, err := postgres.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st, func(t *testing.T, statement string) {
				conn, err := pgx.Connect(ctx, url)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(ctx)
				if _, err := conn.Exec(ctx, statement); err != nil {
					t.Fatalf("tamper: %v", err)
				}
			}
		})
}
