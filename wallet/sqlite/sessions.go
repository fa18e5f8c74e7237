package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/qujat/qujat/wallet"
)

// CreateRefreshToken stores a new token. ECONFLICT if the id or hash exists.
func (s *Store) CreateRefreshToken(ctx context.Context, t wallet.RefreshToken) error {
	const what = "create refresh token"
	if err := requireID(t.ID, what); err != nil {
		return err
	}
	return s.write(ctx, what, func(tx *sql.Tx) error { return insertRefreshToken(ctx, tx, t) })
}

func insertRefreshToken(ctx context.Context, tx *sql.Tx, t wallet.RefreshToken) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens
		(id, family_id, subject_iin, hash, created_at, expires_at, rotated_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.FamilyID, string(t.Subject), t.Hash, micros(t.CreatedAt), micros(t.ExpiresAt),
		nullMicros(t.RotatedAt), nullMicros(t.RevokedAt))
	return err
}

// RefreshTokenByHash returns the token with that hash. ENOTFOUND.
func (s *Store) RefreshTokenByHash(ctx context.Context, hash string) (wallet.RefreshToken, error) {
	var (
		t                wallet.RefreshToken
		subject          string
		created, expires int64
		rotated, revoked sql.NullInt64
	)
	err := s.r.QueryRowContext(ctx, `SELECT id, family_id, subject_iin, hash, created_at, expires_at, rotated_at, revoked_at
		FROM refresh_tokens WHERE hash = ?`, hash).
		Scan(&t.ID, &t.FamilyID, &subject, &t.Hash, &created, &expires, &rotated, &revoked)
	if err != nil {
		return wallet.RefreshToken{}, wrapErr(err, "refresh token")
	}
	t.Subject, t.CreatedAt, t.ExpiresAt = wallet.IIN(subject), fromMicros(created), fromMicros(expires)
	t.RotatedAt, t.RevokedAt = fromNullMicros(rotated), fromNullMicros(revoked)
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
	return s.write(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET rotated_at = ?
			WHERE id = ? AND rotated_at IS NULL AND revoked_at IS NULL`, micros(at), oldID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM refresh_tokens WHERE id = ?`, oldID).Scan(&one)
			if err != nil {
				return err // ENOTFOUND for sql.ErrNoRows
			}
			return wallet.Errorf(wallet.ECONFLICT, "%s: the token was already rotated or revoked", what)
		}
		return insertRefreshToken(ctx, tx, next)
	})
}

// RevokeRefreshFamily revokes every token of the family that is not revoked
// yet. Idempotent.
func (s *Store) RevokeRefreshFamily(ctx context.Context, familyID string, at time.Time) error {
	return s.write(ctx, "revoke refresh tokens", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL`,
			micros(at), familyID)
		return err
	})
}
