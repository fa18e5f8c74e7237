package sqlite

import (
	"context"
	"database/sql"

	"github.com/qujat/qujat/wallet"
)

// MarkKeyCompromised records a compromise, keeping the earliest time.
func (s *Store) MarkKeyCompromised(ctx context.Context, k wallet.KeyCompromise) error {
	const what = "mark key compromised"
	if err := requireID(k.KID, what); err != nil {
		return err
	}
	return s.write(ctx, what, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO key_compromises (kid, compromised_at, recorded_at, replacement) VALUES (?, ?, ?, ?)
			ON CONFLICT (kid) DO UPDATE SET compromised_at = MIN(compromised_at, excluded.compromised_at),
				replacement = CASE WHEN replacement = '' THEN excluded.replacement ELSE replacement END`,
			k.KID, micros(k.At), micros(k.RecordedAt), k.Replacement)
		return err
	})
}

// KeyCompromises returns every compromised key, oldest record first.
func (s *Store) KeyCompromises(ctx context.Context) ([]wallet.KeyCompromise, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT kid, compromised_at, recorded_at, replacement FROM key_compromises ORDER BY recorded_at, rowid`)
	return collect(rows, err, "list key compromises", func(sc scanner) (wallet.KeyCompromise, error) {
		var (
			k       wallet.KeyCompromise
			at, rec int64
		)
		err := sc.Scan(&k.KID, &at, &rec, &k.Replacement)
		k.At, k.RecordedAt = fromMicros(at), fromMicros(rec)
		return k, err
	})
}
