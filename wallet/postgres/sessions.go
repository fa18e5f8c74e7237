package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// CreateRefreshToken stores a new token. ECONFLICT if the id or hash exists.
func (s *Store) CreateRefreshToken(ctx context.Context, t wallet.RefreshToken) error {
	const what = "create refresh token"
	if err := requireID(t.ID, what); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, insertRefreshToken, refreshTokenArgs(t)...)
	return wrapErr(err, what)
}

const insertRefreshToken = `INSERT INTO refresh_tokens
	(id, family_id, subject_iin, hash, created_at, expires_at, rotated_at, revoked_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

func refreshTokenArgs(t wallet.RefreshToken) []any {
	return []any{t.ID, t.FamilyID, string(t.Subject), t.Hash, ts(t.CreatedAt), ts(t.ExpiresAt), tsp(t.RotatedAt), tsp(t.RevokedAt)}
}

// RefreshTokenByHash returns the token with that hash. ENOTFOUND.
func (s *Store) RefreshTokenByHash(ctx context.Context, hash string) (wallet.RefreshToken, error) {
	var (
		t       wallet.RefreshToken
		subject string
	)
	err := s.pool.QueryRow(ctx, `SELECT id, family_id, subject_iin, hash, created_at, expires_at, rotated_at, revoked_at
		FROM refresh_tokens WHERE hash = $1`, hash).
		Scan(&t.ID, &t.FamilyID, &subject, &t.Hash, &t.CreatedAt, &t.ExpiresAt, &t.RotatedAt, &t.RevokedAt)
	if err != nil {
		return wallet.RefreshToken{}, wrapErr(err, "refresh token")
	}
	t.Subject, t.CreatedAt, t.ExpiresAt = wallet.IIN(subject), t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	t.RotatedAt, t.RevokedAt = utc(t.RotatedAt), utc(t.RevokedAt)
	return t, nil
}

// RotateRefreshToken marks oldID rotated at `at` and stores next, in one
// transaction. ECONFLICT if oldID was already rotated or revoked, or next's
// id or hash exists; ENOTFOUND if there is no token oldID.
func (s *Store) RotateRefreshToken(ctx context.Context, oldID string, next wallet.RefreshToken, at time.Time) error {
	const what = "rotate refresh token"
	if err := requireID(next.ID, what); err != nil {
		return err
	}
	return s.write(ctx, what, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = $1
			WHERE id = $2 AND rotated_at IS NULL AND revoked_at IS NULL`, ts(at), oldID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var one int
			if err := tx.QueryRow(ctx, `SELECT 1 FROM refresh_tokens WHERE id = $1`, oldID).Scan(&one); err != nil {
				return err // ENOTFOUND for pgx.ErrNoRows
			}
			return wallet.Errorf(wallet.ECONFLICT, "%s: the token was already rotated or revoked", what)
		}
		_, err = tx.Exec(ctx, insertRefreshToken, refreshTokenArgs(next)...)
		return err
	})
}

// RevokeRefreshFamily revokes every token of the family that is not revoked
// yet. Idempotent.
func (s *Store) RevokeRefreshFamily(ctx context.Context, familyID string, at time.Time) error {
	_, err := s.exec(ctx, "revoke refresh tokens",
		`UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL`, ts(at), familyID)
	return err
}
