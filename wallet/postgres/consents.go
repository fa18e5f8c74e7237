package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// Consents are written only by a log batch's ops (CreateConsent,
// UpdateConsent: see ops.go).

const consentColumns = `id, client_id, subject_iin, phone, document_types, purpose, method, status, valid_for_ns,
	created_at, request_expires_at, decided_at, grant_expires_at, revoked_at, revision FROM consents`

func scanConsent(row pgx.Row) (wallet.Consent, error) {
	var (
		c        wallet.Consent
		subject  string
		types    []string
		validFor int64
	)
	err := row.Scan(&c.ID, &c.ClientID, &subject, &c.Phone, &types, &c.Purpose, &c.Method, &c.Status, &validFor,
		&c.CreatedAt, &c.RequestExpiresAt, &c.DecidedAt, &c.GrantExpiresAt, &c.RevokedAt, &c.Revision)
	c.SubjectIIN, c.DocumentTypes, c.ValidFor = wallet.IIN(subject), decodeTypes(types), time.Duration(validFor)
	c.CreatedAt, c.RequestExpiresAt = c.CreatedAt.UTC(), c.RequestExpiresAt.UTC()
	c.DecidedAt, c.GrantExpiresAt, c.RevokedAt = utc(c.DecidedAt), utc(c.GrantExpiresAt), utc(c.RevokedAt)
	return c, err
}

// Consent returns one request. ENOTFOUND.
func (s *Store) Consent(ctx context.Context, id string) (wallet.Consent, error) {
	c, err := scanConsent(s.pool.QueryRow(ctx, `SELECT `+consentColumns+` WHERE id = $1`, id))
	if err != nil {
		return wallet.Consent{}, wrapErr(err, "consent")
	}
	return c, nil
}

// ConsentsOfSubject returns the citizen's consents, newest first.
func (s *Store) ConsentsOfSubject(ctx context.Context, iin wallet.IIN) ([]wallet.Consent, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+consentColumns+` WHERE subject_iin = $1
		ORDER BY created_at DESC, seq DESC`, string(iin))
	return collect(rows, err, "list consents", scanConsent)
}

// ConsentsOfClient returns the client's consents, newest first.
func (s *Store) ConsentsOfClient(ctx context.Context, clientID string) ([]wallet.Consent, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+consentColumns+` WHERE client_id = $1
		ORDER BY created_at DESC, seq DESC`, clientID)
	return collect(rows, err, "list consents", scanConsent)
}

// PendingConsentsByPhone returns pending requests of the given method sent
// to phone, newest first.
func (s *Store) PendingConsentsByPhone(ctx context.Context, phone, method string) ([]wallet.Consent, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+consentColumns+` WHERE phone = $1 AND method = $2 AND status = $3
		ORDER BY created_at DESC, seq DESC`, phone, method, wallet.ConsentPending)
	return collect(rows, err, "list consents", scanConsent)
}

// CountConsentsSince counts requests created at or after since, by the
// client (if clientID != "") and for the subject (if iin != "").
func (s *Store) CountConsentsSince(ctx context.Context, clientID string, iin wallet.IIN, since time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM consents
		WHERE created_at >= $1 AND ($2 = '' OR client_id = $2) AND ($3 = '' OR subject_iin = $3)`,
		ts(since), clientID, string(iin)).Scan(&n)
	if err != nil {
		return 0, wrapErr(err, "count consents")
	}
	return n, nil
}

// normalizeConsent gives c the form it has when read back: times
// truncated to the microsecond in UTC, no empty list of types.
func normalizeConsent(c wallet.Consent) wallet.Consent {
	c.CreatedAt, c.RequestExpiresAt = ts(c.CreatedAt), ts(c.RequestExpiresAt)
	c.DecidedAt, c.GrantExpiresAt, c.RevokedAt = tsp(c.DecidedAt), tsp(c.GrantExpiresAt), tsp(c.RevokedAt)
	c.DocumentTypes = decodeTypes(encodeTypes(c.DocumentTypes))
	return c
}
