package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/qujat/qujat/wallet"
)

// CreateShare stores a new share. ECONFLICT if the id exists.
func (s *Store) CreateShare(ctx context.Context, sh wallet.Share) error {
	const what = "create share"
	if err := requireID(sh.ID, what); err != nil {
		return err
	}
	return s.write(ctx, what, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO shares
			(id, document_id, owner_iin, created_by, max_views, views, created_at, expires_at, revoked_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			sh.ID, sh.DocumentID, string(sh.OwnerIIN), string(sh.CreatedBy), sh.MaxViews, sh.Views,
			micros(sh.CreatedAt), micros(sh.ExpiresAt), nullMicros(sh.RevokedAt))
		return err
	})
}

const shareColumns = `id, document_id, owner_iin, created_by, max_views, views, created_at, expires_at, revoked_at`

func scanShare(sc scanner) (wallet.Share, error) {
	var (
		sh               wallet.Share
		owner, createdBy string
		created, expires int64
		revoked          sql.NullInt64
	)
	err := sc.Scan(&sh.ID, &sh.DocumentID, &owner, &createdBy, &sh.MaxViews, &sh.Views, &created, &expires, &revoked)
	sh.OwnerIIN, sh.CreatedBy = wallet.IIN(owner), wallet.IIN(createdBy)
	sh.CreatedAt, sh.ExpiresAt, sh.RevokedAt = fromMicros(created), fromMicros(expires), fromNullMicros(revoked)
	return sh, err
}

// Share returns one share. ENOTFOUND.
func (s *Store) Share(ctx context.Context, id string) (wallet.Share, error) {
	sh, err := scanShare(s.r.QueryRowContext(ctx, `SELECT `+shareColumns+` FROM shares WHERE id = ?`, id))
	if err != nil {
		return wallet.Share{}, wrapErr(err, "share")
	}
	return sh, nil
}

// Shares returns the shares opened by or for the citizen, newest first.
func (s *Store) Shares(ctx context.Context, iin wallet.IIN) ([]wallet.Share, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+shareColumns+` FROM shares
		WHERE owner_iin = ? OR created_by = ? ORDER BY created_at DESC, rowid DESC`, string(iin), string(iin))
	return collect(rows, err, "list shares", scanShare)
}

// RevokeShare sets RevokedAt if it is not set, and returns the share.
// ENOTFOUND.
func (s *Store) RevokeShare(ctx context.Context, id string, at time.Time) (wallet.Share, error) {
	var sh wallet.Share
	err := s.write(ctx, "revoke share", func(tx *sql.Tx) error {
		var err error
		sh, err = scanShare(tx.QueryRowContext(ctx, `UPDATE shares SET revoked_at = COALESCE(revoked_at, ?)
			WHERE id = ? RETURNING `+shareColumns, micros(at), id))
		return err
	})
	if err != nil {
		return wallet.Share{}, err
	}
	return sh, nil
}

// RedeemShare counts one more view of the share and stores v with ShareID
// set, in one transaction, if the share is not revoked, not expired at v.At
// and not used up. EEXPIRED otherwise, ENOTFOUND if there is no such share,
// EINVALID if v names another document or owner than the share (an empty
// DocumentID or OwnerIIN is taken from the share). On any error nothing is
// stored.
//
// Concurrent redemptions are group-committed (see redeembatch.go): each runs
// under its own savepoint in a transaction shared with the others waiting,
// and returns once that transaction has committed. EUNAVAILABLE if the store
// is closed, or ctx ends before the redemption is taken into a batch.
func (s *Store) RedeemShare(ctx context.Context, shareID string, v wallet.View) (wallet.View, error) {
	if err := requireID(v.ID, "redeem share"); err != nil {
		return wallet.View{}, err
	}
	return s.redeemer.Redeem(ctx, shareID, v, s.redeemBatch)
}
