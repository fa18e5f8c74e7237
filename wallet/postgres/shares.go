package postgres

import (
	"context"
	"errors"
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
// Concurrent redemptions queue on the share's row lock; each re-checks the
// conditions on the row as the previous one committed it.
func (s *Store) RedeemShare(ctx context.Context, shareID string, v wallet.View) (wallet.View, error) {
	const what = "redeem share"
	if err := requireID(v.ID, what); err != nil {
		return wallet.View{}, err
	}
	err := s.write(ctx, what, func(tx pgx.Tx) error {
		var (
			seq        int
			documentID string
			owner      string
		)
		err := tx.QueryRow(ctx, `UPDATE shares SET views = views + 1
			WHERE id = $1 AND revoked_at IS NULL AND views < max_views AND expires_at > $2
			RETURNING views, document_id, owner_iin`, shareID, ts(v.At)).Scan(&seq, &documentID, &owner)
		if errors.Is(err, pgx.ErrNoRows) {
			var one int
			if err := tx.QueryRow(ctx, `SELECT 1 FROM shares WHERE id = $1`, shareID).Scan(&one); err != nil {
				return err // ENOTFOUND for pgx.ErrNoRows
			}
			return wallet.Errorf(wallet.EEXPIRED, "%s: the share is expired, revoked or used up", what)
		}
		if err != nil {
			return err
		}
		if v.DocumentID == "" {
			v.DocumentID = documentID
		}
		if v.OwnerIIN == "" {
			v.OwnerIIN = wallet.IIN(owner)
		}
		if v.DocumentID != documentID || string(v.OwnerIIN) != owner {
			return wallet.Errorf(wallet.EINVALID, "%s: the view does not match the share's document", what)
		}
		v.ShareID, v.At = shareID, ts(v.At)
		return insertView(ctx, tx, v, seq)
	})
	if err != nil {
		return wallet.View{}, err
	}
	return v, nil
}
