package sqlite

import (
	"context"
	"database/sql"

	"github.com/qujat/qujat/wallet"
)

const shareColumns = `id, document_id, owner_iin, created_by, max_views, views, created_at, expires_at, revoked_at`

func scanShare(sc scanner) (wallet.Share, error) {
	var r struct { // the scan's targets, in one allocation (see scanner)
		sh               wallet.Share
		owner, createdBy string
		created, expires int64
		revoked          sql.NullInt64
	}
	sh := &r.sh
	err := sc.Scan(&sh.ID, &sh.DocumentID, &r.owner, &r.createdBy, &sh.MaxViews, &sh.Views, &r.created, &r.expires, &r.revoked)
	sh.OwnerIIN, sh.CreatedBy = wallet.IIN(r.owner), wallet.IIN(r.createdBy)
	sh.CreatedAt, sh.ExpiresAt, sh.RevokedAt = fromMicros(r.created), fromMicros(r.expires), fromNullMicros(r.revoked)
	return *sh, err
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
