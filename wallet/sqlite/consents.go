package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/qujat/qujat/wallet"
)

const consentColumns = `id, client_id, subject_iin, phone, document_types, purpose, method, status, valid_for_ns,
	created_at, request_expires_at, decided_at, grant_expires_at, revoked_at, revision FROM consents`

func scanConsent(sc scanner) (wallet.Consent, error) {
	var (
		c                          wallet.Consent
		subject, types             string
		validFor, created, expires int64
		decided, grantExp, revoked sql.NullInt64
	)
	if err := sc.Scan(&c.ID, &c.ClientID, &subject, &c.Phone, &types, &c.Purpose, &c.Method, &c.Status, &validFor,
		&created, &expires, &decided, &grantExp, &revoked, &c.Revision); err != nil {
		return c, err
	}
	c.SubjectIIN, c.ValidFor = wallet.IIN(subject), time.Duration(validFor)
	c.CreatedAt, c.RequestExpiresAt = fromMicros(created), fromMicros(expires)
	c.DecidedAt, c.GrantExpiresAt, c.RevokedAt = fromNullMicros(decided), fromNullMicros(grantExp), fromNullMicros(revoked)
	var err error
	c.DocumentTypes, err = decodeTypes(types)
	return c, err
}

// Consent returns one request. ENOTFOUND.
func (s *Store) Consent(ctx context.Context, id string) (wallet.Consent, error) {
	c, err := scanConsent(s.r.QueryRowContext(ctx, `SELECT `+consentColumns+` WHERE id = ?`, id))
	if err != nil {
		return wallet.Consent{}, wrapErr(err, "consent")
	}
	return c, nil
}

// ConsentsOfSubject returns the citizen's consents, newest first.
func (s *Store) ConsentsOfSubject(ctx context.Context, iin wallet.IIN) ([]wallet.Consent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+consentColumns+` WHERE subject_iin = ?
		ORDER BY created_at DESC, rowid DESC`, string(iin))
	return collect(rows, err, "list consents", scanConsent)
}

// ConsentsOfClient returns the client's consents, newest first.
func (s *Store) ConsentsOfClient(ctx context.Context, clientID string) ([]wallet.Consent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+consentColumns+` WHERE client_id = ?
		ORDER BY created_at DESC, rowid DESC`, clientID)
	return collect(rows, err, "list consents", scanConsent)
}

// PendingConsentsByPhone returns pending requests of the given method sent
// to phone, newest first.
func (s *Store) PendingConsentsByPhone(ctx context.Context, phone, method string) ([]wallet.Consent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+consentColumns+` WHERE phone = ? AND method = ? AND status = ?
		ORDER BY created_at DESC, rowid DESC`, phone, method, wallet.ConsentPending)
	return collect(rows, err, "list consents", scanConsent)
}

// CountConsentsSince counts requests created at or after since, by the
// client (if clientID != "") and for the subject (if iin != "").
func (s *Store) CountConsentsSince(ctx context.Context, clientID string, iin wallet.IIN, since time.Time) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM consents
		WHERE created_at >= ? AND (? = '' OR client_id = ?) AND (? = '' OR subject_iin = ?)`,
		micros(since), clientID, clientID, string(iin), string(iin)).Scan(&n)
	if err != nil {
		return 0, wrapErr(err, "count consents")
	}
	return n, nil
}

// normalizeConsent gives c the form it has when read back: times truncated
// to microseconds in UTC, an empty type list nil.
func normalizeConsent(c wallet.Consent) wallet.Consent {
	c.CreatedAt, c.RequestExpiresAt = fromMicros(micros(c.CreatedAt)), fromMicros(micros(c.RequestExpiresAt))
	c.DecidedAt, c.GrantExpiresAt, c.RevokedAt = normalizeTime(c.DecidedAt), normalizeTime(c.GrantExpiresAt), normalizeTime(c.RevokedAt)
	if len(c.DocumentTypes) == 0 {
		c.DocumentTypes = nil
	}
	return c
}

func normalizeTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := fromMicros(micros(*t))
	return &n
}
