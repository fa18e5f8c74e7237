package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// MarkKeyCompromised records a compromise, keeping the earliest time.
func (s *Store) MarkKeyCompromised(ctx context.Context, k wallet.KeyCompromise) error {
	const what = "mark key compromised"
	if err := requireID(k.KID, what); err != nil {
		return err
	}
	_, err := s.exec(ctx, what, `INSERT INTO key_compromises (kid, compromised_at, recorded_at, replacement) VALUES ($1, $2, $3, $4)
		ON CONFLICT (kid) DO UPDATE SET compromised_at = LEAST(key_compromises.compromised_at, excluded.compromised_at),
			replacement = CASE WHEN key_compromises.replacement = '' THEN excluded.replacement ELSE key_compromises.replacement END`,
		k.KID, ts(k.At), ts(k.RecordedAt), k.Replacement)
	return err
}

// KeyCompromises returns every compromised key, oldest record first.
func (s *Store) KeyCompromises(ctx context.Context) ([]wallet.KeyCompromise, error) {
	rows, err := s.pool.Query(ctx, `SELECT kid, compromised_at, recorded_at, replacement FROM key_compromises ORDER BY recorded_at, seq`)
	return collect(rows, err, "list key compromises", func(row pgx.Row) (wallet.KeyCompromise, error) {
		var k wallet.KeyCompromise
		err := row.Scan(&k.KID, &k.At, &k.RecordedAt, &k.Replacement)
		k.At, k.RecordedAt = k.At.UTC(), k.RecordedAt.UTC()
		return k, err
	})
}
