package sqlite

import (
	"context"
	"database/sql"
	"time"

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
	return s.write(ctx, what, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO blobs (id, content_type, sha256, data, created_at) VALUES (?, ?, ?, ?, ?)`,
			b.ID, b.ContentType, b.SHA256, data, micros(b.CreatedAt))
		return err
	})
}

// Blob returns a blob with its bytes. ENOTFOUND.
func (s *Store) Blob(ctx context.Context, id string) (wallet.Blob, error) {
	var (
		b       wallet.Blob
		created int64
	)
	err := s.r.QueryRowContext(ctx, `SELECT id, content_type, sha256, data, created_at FROM blobs WHERE id = ?`, id).
		Scan(&b.ID, &b.ContentType, &b.SHA256, &b.Data, &created)
	if err != nil {
		return wallet.Blob{}, wrapErr(err, "blob")
	}
	if b.Data == nil {
		b.Data = []byte{}
	}
	b.CreatedAt = fromMicros(created)
	return b, nil
}

// DeleteBlob deletes a blob's row, bytes and all. A missing blob is not an
// error.
func (s *Store) DeleteBlob(ctx context.Context, id string) error {
	return s.write(ctx, "delete blob", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE id = ?`, id)
		return err
	})
}

const duplicateColumns = `id, owner_iin, type, number, issued_on, issued_by, blob_id, content_type, size, sha256,
	operator_id, centre_id, status, challenge_id, created_at, expires_at, certified_at, retain_until, jws, purged_at FROM duplicates`

func scanDuplicate(sc scanner) (wallet.Duplicate, error) {
	var (
		d                           wallet.Duplicate
		owner                       string
		created, expires            int64
		certified, retain, purgedAt sql.NullInt64
	)
	err := sc.Scan(&d.ID, &owner, &d.Type, &d.Number, &d.IssuedOn, &d.IssuedBy, &d.BlobID, &d.ContentType, &d.Size, &d.SHA256,
		&d.OperatorID, &d.CentreID, &d.Status, &d.ChallengeID, &created, &expires, &certified, &retain, &d.JWS, &purgedAt)
	if err != nil {
		return d, err
	}
	d.OwnerIIN = wallet.IIN(owner)
	d.CreatedAt, d.ExpiresAt = fromMicros(created), fromMicros(expires)
	d.CertifiedAt, d.RetainUntil, d.PurgedAt = fromNullMicros(certified), fromNullMicros(retain), fromNullMicros(purgedAt)
	return d, nil
}

// Duplicate returns one duplicate. ENOTFOUND.
func (s *Store) Duplicate(ctx context.Context, id string) (wallet.Duplicate, error) {
	d, err := scanDuplicate(s.r.QueryRowContext(ctx, `SELECT `+duplicateColumns+` WHERE id = ?`, id))
	if err != nil {
		return wallet.Duplicate{}, wrapErr(err, "duplicate")
	}
	return d, nil
}

// DuplicatesOfOwner returns the citizen's duplicates, newest first.
func (s *Store) DuplicatesOfOwner(ctx context.Context, owner wallet.IIN) ([]wallet.Duplicate, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+duplicateColumns+` WHERE owner_iin = ? ORDER BY created_at DESC, rowid DESC`, string(owner))
	return collect(rows, err, "list duplicates", scanDuplicate)
}

// DuplicatesOfCentre returns the centre's duplicates (of owner, if set),
// newest first.
func (s *Store) DuplicatesOfCentre(ctx context.Context, centreID string, owner wallet.IIN) ([]wallet.Duplicate, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+duplicateColumns+` WHERE centre_id = ? AND (? = '' OR owner_iin = ?)
		ORDER BY created_at DESC, rowid DESC`, centreID, string(owner), string(owner))
	return collect(rows, err, "list duplicates", scanDuplicate)
}

func (a *appendTx) createDuplicate(ctx context.Context, d wallet.Duplicate) error {
	if err := requireID(d.ID, "create duplicate"); err != nil {
		return err
	}
	_, err := a.tx.ExecContext(ctx, `INSERT INTO duplicates
		(id, owner_iin, type, number, issued_on, issued_by, blob_id, content_type, size, sha256,
		 operator_id, centre_id, status, challenge_id, created_at, expires_at, certified_at, retain_until, jws, purged_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, string(d.OwnerIIN), d.Type, d.Number, d.IssuedOn, d.IssuedBy, d.BlobID, d.ContentType, d.Size, d.SHA256,
		d.OperatorID, d.CentreID, d.Status, d.ChallengeID, micros(d.CreatedAt), micros(d.ExpiresAt),
		nullMicros(d.CertifiedAt), nullMicros(d.RetainUntil), d.JWS, nullMicros(d.PurgedAt))
	return err
}

// certifyDuplicate: ENOTFOUND; ECONFLICT if it is not awaiting consent.
func (a *appendTx) certifyDuplicate(ctx context.Context, op wallet.CertifyDuplicate) error {
	const what = "certify duplicate"
	res, err := a.tx.ExecContext(ctx, `UPDATE duplicates SET status = 'certified', certified_at = ?, retain_until = ?, jws = ?
		WHERE id = ? AND status = 'awaiting_consent'`, micros(op.At), micros(op.RetainUntil), op.JWS, op.ID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 1 {
		return nil
	}
	var status string
	if err := a.tx.QueryRowContext(ctx, `SELECT status FROM duplicates WHERE id = ?`, op.ID).Scan(&status); err != nil {
		return err // ENOTFOUND for sql.ErrNoRows
	}
	return wallet.Errorf(wallet.ECONFLICT, "%s: it is %s", what, status)
}

// DuplicatesDue returns certified duplicates due for purging at at.
func (s *Store) DuplicatesDue(ctx context.Context, at time.Time, limit int) ([]wallet.Duplicate, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+duplicateColumns+` WHERE status = 'certified' AND retain_until <= ?
		ORDER BY retain_until, rowid LIMIT ?`, micros(at), limit)
	return collect(rows, err, "due duplicates", scanDuplicate)
}

// purgeDuplicate: ENOTFOUND; ECONFLICT if it is not certified or not due.
func (a *appendTx) purgeDuplicate(ctx context.Context, op wallet.PurgeDuplicate) error {
	const what = "purge duplicate"
	res, err := a.tx.ExecContext(ctx, `UPDATE duplicates SET status = 'purged', purged_at = ?
		WHERE id = ? AND status = 'certified' AND retain_until <= ?`, micros(op.At), op.ID, micros(op.At))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 1 {
		return nil
	}
	var status string
	if err := a.tx.QueryRowContext(ctx, `SELECT status FROM duplicates WHERE id = ?`, op.ID).Scan(&status); err != nil {
		return err
	}
	return wallet.Errorf(wallet.ECONFLICT, "%s: it is %s, or its retention has not ended", what, status)
}
