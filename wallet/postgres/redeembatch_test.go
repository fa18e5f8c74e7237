package postgres

import (
	"context"
	"testing"

	"github.com/qujat/qujat/wallet/internal/redeemqueue"
	"github.com/qujat/qujat/wallet/wallettest"
)

func TestRedeemBatch(t *testing.T) {
	wallettest.RunRedeemBatchTests(t, func(t *testing.T) wallettest.RedeemBatchStore {
		ctx := context.Background()
		s, err := Open(ctx, wallettest.PostgresSchemaURL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return wallettest.RedeemBatchStore{
			Store:    s,
			RunBatch: func(b []*redeemqueue.Request) { s.redeemBatch(b) },
			// A deferred constraint trigger, run only at COMMIT.
			Poison: func(t *testing.T) {
				for _, q := range []string{
					`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
						BEGIN
							IF NEW.id = 'v-poison' THEN RAISE EXCEPTION 'poisoned view'; END IF;
							RETURN NULL;
						END $$`,
					`CREATE CONSTRAINT TRIGGER poison AFTER INSERT ON views
						DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION poison()`,
				} {
					if _, err := s.pool.Exec(ctx, q); err != nil {
						t.Fatal(err)
					}
				}
			},
		}
	})
}
