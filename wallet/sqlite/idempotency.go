package sqlite

import (
	"context"
	"time"

	"github.com/qujat/qujat/wallet"
)

// Idempotency returns the caller's live record of key. ENOTFOUND.
func (s *Store) Idempotency(ctx context.Context, caller, key string, now time.Time) (wallet.IdempotencyRecord, error) {
	r := wallet.IdempotencyRecord{Caller: caller, Key: key}
	var created, expires int64
	err := s.r.QueryRowContext(ctx, `SELECT request_hash, outcome, created_at, expires_at FROM idempotency_keys
		WHERE caller = ? AND key = ? AND expires_at > ?`, caller, key, micros(now)).
		Scan(&r.RequestHash, &r.Outcome, &created, &expires)
	if err != nil {
		return wallet.IdempotencyRecord{}, wrapErr(err, "idempotency key")
	}
	r.CreatedAt, r.ExpiresAt = fromMicros(created), fromMicros(expires)
	return r, nil
}

// saveIdempotency purges expired keys and stores the record. ECONFLICT if
// the caller has a live record of the key.
func (a *appendTx) saveIdempotency(ctx context.Context, op wallet.SaveIdempotency) error {
	rec := op.Record
	if rec.Caller == "" || rec.Key == "" || rec.RequestHash == "" {
		return wallet.Errorf(wallet.EINVALID, "save idempotency key: caller, key and request hash are required")
	}
	if _, err := a.tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE expires_at <= ?`, micros(op.At)); err != nil {
		return err
	}
	res, err := a.tx.ExecContext(ctx, `INSERT INTO idempotency_keys
		(caller, key, request_hash, outcome, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (caller, key) DO NOTHING`,
		rec.Caller, rec.Key, rec.RequestHash, nonNil(rec.Outcome), micros(rec.CreatedAt), micros(rec.ExpiresAt))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return wallet.Errorf(wallet.ECONFLICT, "save idempotency key: the key was used already")
	}
	return nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
