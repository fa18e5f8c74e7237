package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/qujat/qujat/wallet"
)

// insertMessage stores m pending (dropped if it is a decoy).
func insertMessage(ctx context.Context, tx *sql.Tx, m wallet.Message) error {
	status, done := wallet.MessagePending, sql.NullInt64{}
	if m.Decoy {
		status, done = wallet.MessageDropped, sql.NullInt64{Int64: micros(m.CreatedAt), Valid: true}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox_messages
		(id, to_phone, sealed, purpose, ref, status, created_at, not_after, next_attempt_at, done_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, nullString(m.To), nonNil(m.Sealed), m.Purpose, m.Ref, status,
		micros(m.CreatedAt), micros(m.NotAfter), micros(m.CreatedAt), done)
	return wrapErr(err, "queue message")
}

// EnqueueMessage stores a message on its own.
func (s *Store) EnqueueMessage(ctx context.Context, m wallet.Message) error {
	if err := m.Check(); err != nil {
		return err
	}
	return s.write(ctx, "queue message", func(tx *sql.Tx) error { return insertMessage(ctx, tx, m) })
}

// queueMessage is the QueueMessage op.
func (a *appendTx) queueMessage(ctx context.Context, m wallet.Message) error {
	if err := m.Check(); err != nil {
		return err
	}
	return insertMessage(ctx, a.tx, m)
}

const messageColumns = `id, COALESCE(to_phone, ''), COALESCE(sealed, x''), purpose, ref, status, attempts, last_error, created_at, not_after`

func scanMessage(row scanner) (wallet.Message, error) {
	var (
		m                wallet.Message
		created, notAftr int64
	)
	if err := row.Scan(&m.ID, &m.To, &m.Sealed, &m.Purpose, &m.Ref, &m.Status, &m.Attempts, &m.LastError, &created, &notAftr); err != nil {
		return wallet.Message{}, err
	}
	m.CreatedAt, m.NotAfter = fromMicros(created), fromMicros(notAftr)
	m.Decoy = m.Status == wallet.MessageDropped
	return m, nil
}

// ClaimMessages leases up to max due messages to the caller.
func (s *Store) ClaimMessages(ctx context.Context, now time.Time, lease time.Duration, max int) ([]wallet.Message, error) {
	return s.updateMessages(ctx, "claim messages", `UPDATE outbox_messages
		SET attempts = attempts + 1, lease_until = ?
		WHERE id IN (SELECT id FROM outbox_messages
			WHERE status = 'pending' AND next_attempt_at <= ? AND not_after > ?
			AND (lease_until IS NULL OR lease_until <= ?)
			ORDER BY next_attempt_at LIMIT ?)
		RETURNING `+messageColumns,
		micros(now.Add(lease)), micros(now), micros(now), micros(now), max)
}

// updateMessages runs an UPDATE ... RETURNING of messages in a write
// transaction and returns the rows.
func (s *Store) updateMessages(ctx context.Context, what, query string, args ...any) ([]wallet.Message, error) {
	var out []wallet.Message
	err := s.write(ctx, what, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMessage(rows)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, err
}

// MessageSent marks a pending message delivered, erasing phone and text.
func (s *Store) MessageSent(ctx context.Context, id string, at time.Time) error {
	return s.finishMessage(ctx, "message sent", `UPDATE outbox_messages
		SET status = 'sent', done_at = ?, to_phone = NULL, sealed = NULL, lease_until = NULL
		WHERE id = ? AND status = 'pending'`, micros(at), id)
}

// MessageRetry makes a pending message due again at next.
func (s *Store) MessageRetry(ctx context.Context, id string, next time.Time, reason string) error {
	return s.finishMessage(ctx, "message retry", `UPDATE outbox_messages
		SET next_attempt_at = ?, last_error = ?, lease_until = NULL
		WHERE id = ? AND status = 'pending'`, micros(next), reason, id)
}

func (s *Store) finishMessage(ctx context.Context, what, query string, args ...any) error {
	return s.write(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return wallet.Errorf(wallet.ENOTFOUND, "%s: no such pending message", what)
		}
		return nil
	})
}

// ExpireMessages fails the pending messages past their NotAfter.
func (s *Store) ExpireMessages(ctx context.Context, now time.Time, max int) ([]wallet.Message, error) {
	return s.updateMessages(ctx, "expire messages", `UPDATE outbox_messages
		SET status = 'failed', done_at = ?, to_phone = NULL, sealed = NULL, lease_until = NULL
		WHERE id IN (SELECT id FROM outbox_messages
			WHERE status = 'pending' AND not_after <= ? AND (lease_until IS NULL OR lease_until <= ?)
			ORDER BY not_after LIMIT ?)
		RETURNING `+messageColumns,
		micros(now), micros(now), micros(now), max)
}

// OutboxMessage returns one message. ENOTFOUND.
func (s *Store) OutboxMessage(ctx context.Context, id string) (wallet.Message, error) {
	m, err := scanMessage(s.r.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM outbox_messages WHERE id = ?`, id))
	if err != nil {
		return wallet.Message{}, wrapErr(err, "outbox message")
	}
	return m, nil
}

// PurgeMessages deletes up to max finished messages done before before.
func (s *Store) PurgeMessages(ctx context.Context, before time.Time, max int) (int, error) {
	var n int64
	err := s.write(ctx, "purge messages", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM outbox_messages WHERE id IN (
			SELECT id FROM outbox_messages WHERE status <> 'pending' AND done_at < ? LIMIT ?)`, micros(before), max)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
