package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// CreateShare stores a new share. ECONFLICT if the id exists.
func (s *Store) CreateShare(ctx context.Context, sh wallet.Share) error {
	const what = "create share"
	if err := requireID(sh.ID, what); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO shares
		(id, document_id, owner_iin, created_by, max_views, views, created_at, expires_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		sh.ID, sh.DocumentID, string(sh.OwnerIIN), string(sh.CreatedBy), sh.MaxViews, sh.Views,
		ts(sh.CreatedAt), ts(sh.ExpiresAt), tsp(sh.RevokedAt))
	return wrapErr(err, what)
}

const shareColumns = `id, document_id, owner_iin, created_by, max_views, views, created_at, expires_at, revoked_at`

func scanShare(row pgx.Row) (wallet.Share, error) {
	var (
		sh               wallet.Share
		owner, createdBy string
	)
	err := row.Scan(&sh.ID, &sh.DocumentID, &owner, &createdBy, &sh.MaxViews, &sh.Views, &sh.CreatedAt, &sh.ExpiresAt, &sh.RevokedAt)
	sh.OwnerIIN, sh.CreatedBy = wallet.IIN(owner), wallet.IIN(createdBy)
	sh.CreatedAt, sh.ExpiresAt, sh.RevokedAt = sh.CreatedAt.UTC(), sh.ExpiresAt.UTC(), utc(sh.RevokedAt)
	return sh, err
}

// Share returns one share. ENOTFOUND.
func (s *Store) Share(ctx context.Context, id string) (wallet.Share, error) {
	sh, err := scanShare(s.pool.QueryRow(ctx, `SELECT `+shareColumns+` FROM shares WHERE id = $1`, id))
	if err != nil {
		return wallet.Share{}, wrapErr(err, "share")
	}
	return sh, nil
}

// Shares returns the shares opened by or for the citizen, newest first.
func (s *Store) Shares(ctx context.Context, iin wallet.IIN) ([]wallet.Share, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+shareColumns+` FROM shares
		WHERE owner_iin = $1 OR created_by = $1 ORDER BY created_at DESC, seq DESC`, string(iin))
	return collect(rows, err, "list shares", scanShare)
}

// RevokeShare sets RevokedAt if it is not set, and returns the share.
// ENOTFOUND.
func (s *Store) RevokeShare(ctx context.Context, id string, at time.Time) (wallet.Share, error) {
	sh, err := scanShare(s.pool.QueryRow(ctx, `UPDATE shares SET revoked_at = COALESCE(revoked_at, $1)
		WHERE id = $2 RETURNING `+shareColumns, ts(at), id))
	if err != nil {
		return wallet.Share{}, wrapErr(err, "revoke share")
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
// Concurrent redemptions are group-committed (see redeembatch.go): each is
// one statement in a transaction shared with the others waiting, and returns
// once that transaction has committed. Redemptions of one share queue on its
// row lock; each re-checks the conditions on the row as the previous one left
// it. EUNAVAILABLE if the store is closed, or ctx ends before the redemption
// is taken into a batch.
func (s *Store) RedeemShare(ctx context.Context, shareID string, v wallet.View) (wallet.View, error) {
	if err := requireID(v.ID, "redeem share"); err != nil {
		return wallet.View{}, err
	}
	return s.redeemer.Redeem(ctx, shareID, v, s.redeemBatch)
}
