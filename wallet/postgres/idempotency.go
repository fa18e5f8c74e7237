package postgres

import (
	"context"
	"time"

	"github.com/qujat/qujat/wallet"
)

// Idempotency returns the caller's live record of key. ENOTFOUND.
func (s *Store) Idempotency(ctx context.Context, caller, key string, now time.Time) (wallet.IdempotencyRecord, error) {
	r := wallet.IdempotencyRecord{Caller: caller, Key: key}
	err := s.pool.QueryRow(ctx, `SELECT request_hash, outcome, created_at, expires_at FROM idempotency_keys
		WHERE caller = $1 AND key = $2 AND expires_at > $3`, caller, key, ts(now)).
		Scan(&r.RequestHash, &r.Outcome, &r.CreatedAt, &r.ExpiresAt)
	if err != nil {
		return wallet.IdempotencyRecord{}, wrapErr(err, "idempotency key")
	}
	r.CreatedAt, r.ExpiresAt = r.CreatedAt.UTC(), r.ExpiresAt.UTC()
	return r, nil
}
