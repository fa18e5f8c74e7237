package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// Shares are written only by a log batch's ops (CreateShare, RevokeShare,
// RedeemShare: see ops.go).

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
