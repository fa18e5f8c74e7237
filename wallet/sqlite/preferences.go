package sqlite

import (
	"context"
	"database/sql"

	"github.com/qujat/qujat/wallet"
)

// Preferences returns the citizen's preferences. ENOTFOUND.
func (s *Store) Preferences(ctx context.Context, iin wallet.IIN) (wallet.Preferences, error) {
	p := wallet.Preferences{IIN: iin}
	var updated int64
	err := s.r.QueryRowContext(ctx, `SELECT language, updated_at FROM citizen_preferences WHERE iin = ?`, string(iin)).
		Scan(&p.Language, &updated)
	if err != nil {
		return wallet.Preferences{}, wrapErr(err, "preferences")
	}
	p.UpdatedAt = fromMicros(updated)
	return p, nil
}

// SavePreferences stores p, replacing the citizen's preferences. EINVALID
// without an IIN or a language.
func (s *Store) SavePreferences(ctx context.Context, p wallet.Preferences) error {
	const what = "save preferences"
	if p.IIN == "" || p.Language == "" {
		return wallet.Errorf(wallet.EINVALID, "%s: an IIN and a language are required", what)
	}
	return s.write(ctx, what, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO citizen_preferences (iin, language, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (iin) DO UPDATE SET language = excluded.language, updated_at = excluded.updated_at`,
			string(p.IIN), p.Language, micros(p.UpdatedAt))
		return err
	})
}
