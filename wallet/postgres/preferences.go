package postgres

import (
	"context"

	"github.com/qujat/qujat/wallet"
)

// Preferences returns the citizen's preferences. ENOTFOUND.
func (s *Store) Preferences(ctx context.Context, iin wallet.IIN) (wallet.Preferences, error) {
	p := wallet.Preferences{IIN: iin}
	n := &p.Notifications
	err := s.pool.QueryRow(ctx, `SELECT language, notify_views, notify_consents, notify_duplicates, notify_cases, updated_at
		FROM citizen_preferences WHERE iin = $1`, string(iin)).
		Scan(&p.Language, &n.Views, &n.Consents, &n.Duplicates, &n.Cases, &p.UpdatedAt)
	if err != nil {
		return wallet.Preferences{}, wrapErr(err, "preferences")
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	return p, nil
}

// SavePreferences stores p, replacing the citizen's preferences. EINVALID
// without an IIN or a language.
func (s *Store) SavePreferences(ctx context.Context, p wallet.Preferences) error {
	const what = "save preferences"
	if p.IIN == "" || p.Language == "" {
		return wallet.Errorf(wallet.EINVALID, "%s: an IIN and a language are required", what)
	}
	n := p.Notifications
	_, err := s.exec(ctx, what, `INSERT INTO citizen_preferences
		(iin, language, notify_views, notify_consents, notify_duplicates, notify_cases, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (iin) DO UPDATE SET language = excluded.language,
		notify_views = excluded.notify_views, notify_consents = excluded.notify_consents,
		notify_duplicates = excluded.notify_duplicates, notify_cases = excluded.notify_cases,
		updated_at = excluded.updated_at`,
		string(p.IIN), p.Language, n.Views, n.Consents, n.Duplicates, n.Cases, ts(p.UpdatedAt))
	return err
}
