package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// PutBlob stores a blob. ECONFLICT if the id exists.
func (s *Store) PutBlob(ctx context.Context, b wallet.Blob) error {
	const what = "put blob"
	if err := requireID(b.ID, what); err != nil {
		return err
	}
	data := b.Data
	if data == nil {
		data = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO blobs (id, content_type, sha256, data, created_at) VALUES ($1, $2, $3, $4, $5)`,
		b.ID, b.ContentType, b.SHA256, data, ts(b.CreatedAt))
	return wrapErr(err, what)
}

// Blob returns a blob with its bytes. ENOTFOUND.
func (s *Store) Blob(ctx context.Context, id string) (wallet.Blob, error) {
	var b wallet.Blob
	err := s.pool.QueryRow(ctx, `SELECT id, content_type, sha256, data, created_at FROM blobs WHERE id = $1`, id).
		Scan(&b.ID, &b.ContentType, &b.SHA256, &b.Data, &b.CreatedAt)
	if err != nil {
		return wallet.Blob{}, wrapErr(err, "blob")
	}
	if b.Data == nil {
		b.Data = []byte{}
	}
	b.CreatedAt = b.CreatedAt.UTC()
	return b, nil
}

// DeleteBlob deletes a blob's row, bytes and all. A missing blob is not an
// error.
func (s *Store) DeleteBlob(ctx context.Context, id string) error {
	_, err := s.exec(ctx, "delete blob", `DELETE FROM blobs WHERE id = $1`, id)
	return err
}

const duplicateColumns = `id, owner_iin, type, number, issued_on, issued_by, blob_id, content_type, size, sha256,
	operator_id, centre_id, status, challenge_id, created_at, expires_at, certified_at, retain_until, jws, purged_at FROM duplicates`

func scanDuplicate(row pgx.Row) (wallet.Duplicate, error) {
	var (
		d     wallet.Duplicate
		owner string
	)
	err := row.Scan(&d.ID, &owner, &d.Type, &d.Number, &d.IssuedOn, &d.IssuedBy, &d.BlobID, &d.ContentType, &d.Size, &d.SHA256,
		&d.OperatorID, &d.CentreID, &d.Status, &d.ChallengeID, &d.CreatedAt, &d.ExpiresAt, &d.CertifiedAt, &d.RetainUntil, &d.JWS, &d.PurgedAt)
	d.OwnerIIN = wallet.IIN(owner)
	d.CreatedAt, d.ExpiresAt = d.CreatedAt.UTC(), d.ExpiresAt.UTC()
	d.CertifiedAt, d.RetainUntil, d.PurgedAt = utc(d.CertifiedAt), utc(d.RetainUntil), utc(d.PurgedAt)
	return d, err
}

// Duplicate returns one duplicate. ENOTFOUND.
func (s *Store) Duplicate(ctx context.Context, id string) (wallet.Duplicate, error) {
	d, err := scanDuplicate(s.pool.QueryRow(ctx, `SELECT `+duplicateColumns+` WHERE id = $1`, id))
	if err != nil {
		return wallet.Duplicate{}, wrapErr(err, "duplicate")
	}
	return d, nil
}

// DuplicatesOfOwner returns the citizen's duplicates, newest first.
func (s *Store) DuplicatesOfOwner(ctx context.Context, owner wallet.IIN) ([]wallet.Duplicate, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+duplicateColumns+` WHERE owner_iin = $1 ORDER BY created_at DESC, seq DESC`, string(owner))
	return collect(rows, err, "list duplicates", scanDuplicate)
}

// DuplicatesOfCentre returns the centre's duplicates (of owner, if set),
// newest first.
func (s *Store) DuplicatesOfCentre(ctx context.Context, centreID string, owner wallet.IIN) ([]wallet.Duplicate, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+duplicateColumns+` WHERE centre_id = $1 AND ($2::text = '' OR owner_iin = $2::text)
		ORDER BY created_at DESC, seq DESC`, centreID, string(owner))
	return collect(rows, err, "list duplicates", scanDuplicate)
}

const createDuplicateSQL = `INSERT INTO duplicates
	(id, owner_iin, type, number, issued_on, issued_by, blob_id, content_type, size, sha256,
	 operator_id, centre_id, status, challenge_id, created_at, expires_at, certified_at, retain_until, jws, purged_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
	ON CONFLICT DO NOTHING`

// createDuplicate: ECONFLICT if the id exists (the INSERT does nothing).
// A status the table does not allow is refused before it is queued.
func (r *applyRun) createDuplicate(i, k int, d wallet.Duplicate) {
	const what = "create duplicate"
	if err := requireID(d.ID, what); err != nil {
		r.refuse(i, k, err)
		return
	}
	switch d.Status {
	case wallet.DuplicateAwaitingConsent, wallet.DuplicateCertified, wallet.DuplicatePurged:
	default:
		r.refuse(i, k, wallet.Errorf(wallet.EINVALID, "%s: bad status %q", what, d.Status))
		return
	}
	r.queue(i, k, createDuplicateSQL, []any{d.ID, string(d.OwnerIIN), d.Type, d.Number, d.IssuedOn, d.IssuedBy, d.BlobID,
		d.ContentType, d.Size, d.SHA256, d.OperatorID, d.CentreID, d.Status, d.ChallengeID, ts(d.CreatedAt), ts(d.ExpiresAt),
		tsp(d.CertifiedAt), tsp(d.RetainUntil), d.JWS, tsp(d.PurgedAt)},
		execOne(func() error { return wallet.Errorf(wallet.ECONFLICT, "%s: already exists", what) }))
}

// certifyDuplicateSQL certifies a duplicate awaiting consent and returns
// whether it did and the duplicate's status before (none: no such
// duplicate).
const certifyDuplicateSQL = `WITH c AS (
	UPDATE duplicates SET status = 'certified', certified_at = $2, retain_until = $3, jws = $4
	WHERE id = $1 AND status = 'awaiting_consent' RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM c), (SELECT status FROM duplicates WHERE id = $1)`

// certifyDuplicate: ENOTFOUND; ECONFLICT if it is not awaiting consent.
func (r *applyRun) certifyDuplicate(i, k int, op wallet.CertifyDuplicate) {
	const what = "certify duplicate"
	r.queue(i, k, certifyDuplicateSQL, []any{op.ID, ts(op.At), ts(op.RetainUntil), op.JWS}, func(br pgx.BatchResults) (error, error) {
		var (
			done   bool
			status *string
		)
		if err := br.QueryRow().Scan(&done, &status); err != nil {
			return nil, err
		}
		switch {
		case done:
			return nil, nil
		case status == nil:
			return wallet.Errorf(wallet.ENOTFOUND, "%s: not found", what), nil
		}
		return wallet.Errorf(wallet.ECONFLICT, "%s: it is %s", what, *status), nil
	})
}

// DuplicatesDue returns certified duplicates due for purging at at.
func (s *Store) DuplicatesDue(ctx context.Context, at time.Time, limit int) ([]wallet.Duplicate, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+duplicateColumns+` WHERE status = 'certified' AND retain_until <= $1
		ORDER BY retain_until, seq LIMIT $2`, ts(at), limit)
	return collect(rows, err, "due duplicates", scanDuplicate)
}

// purgeDuplicateSQL purges a certified duplicate that is due and returns
// whether it did and the duplicate's status before (none: no such
// duplicate).
const purgeDuplicateSQL = `WITH p AS (
	UPDATE duplicates SET status = 'purged', purged_at = $2
	WHERE id = $1 AND status = 'certified' AND retain_until <= $2 RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM p), (SELECT status FROM duplicates WHERE id = $1)`

// purgeDuplicate: ENOTFOUND; ECONFLICT if it is not certified or not due.
func (r *applyRun) purgeDuplicate(i, k int, op wallet.PurgeDuplicate) {
	const what = "purge duplicate"
	r.queue(i, k, purgeDuplicateSQL, []any{op.ID, ts(op.At)}, func(br pgx.BatchResults) (error, error) {
		var (
			done   bool
			status *string
		)
		if err := br.QueryRow().Scan(&done, &status); err != nil {
			return nil, err
		}
		switch {
		case done:
			return nil, nil
		case status == nil:
			return wallet.Errorf(wallet.ENOTFOUND, "%s: not found", what), nil
		}
		return wallet.Errorf(wallet.ECONFLICT, "%s: it is %s, or its retention has not ended", what, *status), nil
	})
}
