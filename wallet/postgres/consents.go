package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// CreateConsent stores a new request. ECONFLICT if the id exists.
func (s *Store) CreateConsent(ctx context.Context, c wallet.Consent) error {
	const what = "create consent"
	if err := requireID(c.ID, what); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO consents
		(id, client_id, subject_iin, phone, document_types, purpose, method, status, valid_for_ns,
		 created_at, request_expires_at, decided_at, grant_expires_at, revoked_at, revision)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		c.ID, c.ClientID, string(c.SubjectIIN), c.Phone, encodeTypes(c.DocumentTypes), c.Purpose, c.Method,
		c.Status, int64(c.ValidFor), ts(c.CreatedAt), ts(c.RequestExpiresAt),
		tsp(c.DecidedAt), tsp(c.GrantExpiresAt), tsp(c.RevokedAt), c.Revision)
	return wrapErr(err, what)
}

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

// UpdateConsent reads the consent, calls update on it and stores the result
// with Revision bumped, only if the stored revision is still the one read.
// The id cannot change. Errors from update are returned as they are;
// ECONFLICT if another update won; ENOTFOUND.
//
// No transaction is held while update runs: the UPDATE ... WHERE revision
// is the compare-and-swap.
func (s *Store) UpdateConsent(ctx context.Context, id string, update func(wallet.Consent) (wallet.Consent, error)) (wallet.Consent, error) {
	const what = "update consent"
	old, err := s.Consent(ctx, id)
	if err != nil {
		return wallet.Consent{}, err
	}
	c, err := update(old)
	if err != nil {
		return wallet.Consent{}, err
	}
	c.ID, c.Revision = old.ID, old.Revision+1
	n, err := s.exec(ctx, what, `UPDATE consents SET
		client_id = $1, subject_iin = $2, phone = $3, document_types = $4, purpose = $5, method = $6, status = $7,
		valid_for_ns = $8, created_at = $9, request_expires_at = $10, decided_at = $11, grant_expires_at = $12,
		revoked_at = $13, revision = $14
		WHERE id = $15 AND revision = $16`,
		c.ClientID, string(c.SubjectIIN), c.Phone, encodeTypes(c.DocumentTypes), c.Purpose, c.Method, c.Status,
		int64(c.ValidFor), ts(c.CreatedAt), ts(c.RequestExpiresAt), tsp(c.DecidedAt),
		tsp(c.GrantExpiresAt), tsp(c.RevokedAt), c.Revision,
		id, old.Revision)
	if err != nil {
		return wallet.Consent{}, err
	}
	if n == 0 {
		return wallet.Consent{}, wallet.Errorf(wallet.ECONFLICT, "%s: the consent changed meanwhile", what)
	}
	// Give back what a read would.
	c.CreatedAt, c.RequestExpiresAt = ts(c.CreatedAt), ts(c.RequestExpiresAt)
	c.DecidedAt, c.GrantExpiresAt, c.RevokedAt = tsp(c.DecidedAt), tsp(c.GrantExpiresAt), tsp(c.RevokedAt)
	c.DocumentTypes = decodeTypes(encodeTypes(c.DocumentTypes))
	return c, nil
}
