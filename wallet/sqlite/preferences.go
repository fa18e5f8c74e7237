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
	n := &p.Notifications
	err := s.r.QueryRowContext(ctx, `SELECT language, notify_views, notify_consents, notify_duplicates, notify_cases, updated_at
		FROM citizen_preferences WHERE iin = ?`, string(iin)).
		Scan(&p.Language, &n.Views, &n.Consents, &n.Duplicates, &n.Cases, &updated)
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
		n := p.Notifications
		_, err := tx.ExecContext(ctx, `INSERT INTO citizen_preferences
			(iin, language, notify_views, notify_consents, notify_duplicates, notify_cases, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (iin) DO UPDATE SET language = excluded.language,
			notify_views = excluded.notify_views, notify_consents = excluded.notify_consents,
			notify_duplicates = excluded.notify_duplicates, notify_cases = excluded.notify_cases,
			updated_at = excluded.updated_at`,
			string(p.IIN), p.Language, n.Views, n.Consents, n.Duplicates, n.Cases, micros(p.UpdatedAt))
		return err
	})
}
