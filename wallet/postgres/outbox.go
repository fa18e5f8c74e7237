package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

const insertMessageSQL = `INSERT INTO outbox_messages
	(id, to_phone, sealed, purpose, ref, status, created_at, not_after, next_attempt_at, done_at)
	VALUES ($1, NULLIF($2, ''), $3, $4, $5, $6, $7, $8, $7, $9)
	ON CONFLICT DO NOTHING`

func messageArgs(m wallet.Message) []any {
	status, done := wallet.MessagePending, (*time.Time)(nil)
	if m.Decoy {
		at := ts(m.CreatedAt)
		status, done = wallet.MessageDropped, &at
	}
	sealed := m.Sealed
	if sealed == nil {
		sealed = []byte{}
	}
	return []any{m.ID, m.To, sealed, m.Purpose, m.Ref, status, ts(m.CreatedAt), ts(m.NotAfter), done}
}

// EnqueueMessage stores a message on its own.
func (s *Store) EnqueueMessage(ctx context.Context, m wallet.Message) error {
	const what = "queue message"
	if err := m.Check(); err != nil {
		return err
	}
	n, err := s.exec(ctx, what, insertMessageSQL, messageArgs(m)...)
	if err != nil {
		return err
	}
	if n != 1 {
		return wallet.Errorf(wallet.ECONFLICT, "%s: already exists", what)
	}
	return nil
}

// queueMessage is the QueueMessage op: ECONFLICT if the id exists (the
// INSERT does nothing).
func (r *applyRun) queueMessage(i, k int, m wallet.Message) {
	const what = "queue message"
	if err := m.Check(); err != nil {
		r.refuse(i, k, err)
		return
	}
	r.queue(i, k, insertMessageSQL, messageArgs(m),
		execOne(func() error { return wallet.Errorf(wallet.ECONFLICT, "%s: already exists", what) }))
}

const messageColumns = `id, COALESCE(to_phone, ''), COALESCE(sealed, ''::bytea), purpose, ref, status, attempts, last_error, created_at, not_after`

func scanMessage(row pgx.Row) (wallet.Message, error) {
	var m wallet.Message
	if err := row.Scan(&m.ID, &m.To, &m.Sealed, &m.Purpose, &m.Ref, &m.Status, &m.Attempts, &m.LastError, &m.CreatedAt, &m.NotAfter); err != nil {
		return wallet.Message{}, err
	}
	m.CreatedAt, m.NotAfter = m.CreatedAt.UTC(), m.NotAfter.UTC()
	m.Decoy = m.Status == wallet.MessageDropped
	return m, nil
}

func (s *Store) queryMessages(ctx context.Context, what, query string, args ...any) ([]wallet.Message, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, wrapErr(err, what)
	}
	defer rows.Close()
	var out []wallet.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, wrapErr(err, what)
		}
		out = append(out, m)
	}
	return out, wrapErr(rows.Err(), what)
}

// ClaimMessages leases up to max due messages to the caller; rows another
// worker is claiming are skipped, not waited for.
func (s *Store) ClaimMessages(ctx context.Context, now time.Time, lease time.Duration, max int) ([]wallet.Message, error) {
	return s.queryMessages(ctx, "claim messages", `UPDATE outbox_messages
		SET attempts = attempts + 1, lease_until = $1
		WHERE id IN (SELECT id FROM outbox_messages
			WHERE status = 'pending' AND next_attempt_at <= $2 AND not_after > $2
			AND (lease_until IS NULL OR lease_until <= $2)
			ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING `+messageColumns, ts(now.Add(lease)), ts(now), max)
}

// MessageSent marks a pending message delivered, erasing phone and text.
func (s *Store) MessageSent(ctx context.Context, id string, at time.Time) error {
	return s.finishMessage(ctx, "message sent", `UPDATE outbox_messages
		SET status = 'sent', done_at = $1, to_phone = NULL, sealed = NULL, lease_until = NULL
		WHERE id = $2 AND status = 'pending'`, ts(at), id)
}

// MessageRetry makes a pending message due again at next.
func (s *Store) MessageRetry(ctx context.Context, id string, next time.Time, reason string) error {
	return s.finishMessage(ctx, "message retry", `UPDATE outbox_messages
		SET next_attempt_at = $1, last_error = $2, lease_until = NULL
		WHERE id = $3 AND status = 'pending'`, ts(next), reason, id)
}

func (s *Store) finishMessage(ctx context.Context, what, query string, args ...any) error {
	n, err := s.exec(ctx, what, query, args...)
	if err != nil {
		return err
	}
	if n != 1 {
		return wallet.Errorf(wallet.ENOTFOUND, "%s: no such pending message", what)
	}
	return nil
}

// ExpireMessages fails the pending messages past their NotAfter.
func (s *Store) ExpireMessages(ctx context.Context, now time.Time, max int) ([]wallet.Message, error) {
	return s.queryMessages(ctx, "expire messages", `UPDATE outbox_messages
		SET status = 'failed', done_at = $1, to_phone = NULL, sealed = NULL, lease_until = NULL
		WHERE id IN (SELECT id FROM outbox_messages
			WHERE status = 'pending' AND not_after <= $1 AND (lease_until IS NULL OR lease_until <= $1)
			ORDER BY not_after LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING `+messageColumns, ts(now), max)
}

// OutboxMessage returns one message. ENOTFOUND.
func (s *Store) OutboxMessage(ctx context.Context, id string) (wallet.Message, error) {
	m, err := scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM outbox_messages WHERE id = $1`, id))
	if err != nil {
		return wallet.Message{}, wrapErr(err, "outbox message")
	}
	return m, nil
}

// PurgeMessages deletes up to max finished messages done before before.
func (s *Store) PurgeMessages(ctx context.Context, before time.Time, max int) (int, error) {
	n, err := s.exec(ctx, "purge messages", `DELETE FROM outbox_messages WHERE id IN (
		SELECT id FROM outbox_messages WHERE status <> 'pending' AND done_at < $1 LIMIT $2
		FOR UPDATE SKIP LOCKED)`, ts(before), max)
	return int(n), err
}
