package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/qujat/qujat/wallet"
)

const caseColumns = `body, attempts, next_attempt_at, lease_until, last_error FROM cases`

func scanCase(sc scanner) (wallet.Case, error) {
	var (
		body        string
		next, lease sql.NullInt64
		c           wallet.Case
		attempts    int
		lastErr     string
	)
	if err := sc.Scan(&body, &attempts, &next, &lease, &lastErr); err != nil {
		return c, err
	}
	c, err := wallet.DecodeCase([]byte(body))
	if err != nil {
		return c, err
	}
	c.Attempts, c.NextAttemptAt, c.LeaseUntil, c.LastError = attempts, fromNullMicros(next), fromNullMicros(lease), lastErr
	return c, nil
}

// Case returns one case. ENOTFOUND.
func (s *Store) Case(ctx context.Context, id string) (wallet.Case, error) {
	c, err := scanCase(s.r.QueryRowContext(ctx, `SELECT `+caseColumns+` WHERE id = ?`, id))
	if err != nil {
		return wallet.Case{}, wrapErr(err, "case")
	}
	return c, nil
}

// CasesOfOwner returns the citizen's cases, newest first.
func (s *Store) CasesOfOwner(ctx context.Context, owner wallet.IIN) ([]wallet.Case, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+caseColumns+` WHERE owner_iin = ? ORDER BY created_at DESC, rowid DESC`, string(owner))
	return collect(rows, err, "list cases", scanCase)
}

// LeaseCaseDeliveries leases due queued cases (see wallet.CaseStore).
func (s *Store) LeaseCaseDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]wallet.Case, error) {
	const what = "lease case deliveries"
	var out []wallet.Case
	err := s.write(ctx, what, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM cases WHERE status = 'queued' AND next_attempt_at <= ?
			AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_attempt_at, rowid LIMIT ?`, micros(now), micros(now), limit)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE cases SET lease_until = ? WHERE id = ?`, micros(now.Add(lease)), id); err != nil {
				return err
			}
			c, err := scanCase(tx.QueryRowContext(ctx, `SELECT `+caseColumns+` WHERE id = ?`, id))
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// DeferCaseDelivery records a failed attempt. ENOTFOUND, ECONFLICT.
func (s *Store) DeferCaseDelivery(ctx context.Context, id string, next time.Time, lastError string) error {
	const what = "defer case delivery"
	return s.write(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE cases SET attempts = attempts + 1, next_attempt_at = ?, lease_until = NULL, last_error = ?
			WHERE id = ? AND status = 'queued'`, micros(next), lastError, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			return nil
		}
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM cases WHERE id = ?`, id).Scan(&status); err != nil {
			return err
		}
		return wallet.Errorf(wallet.ECONFLICT, "%s: the case is %s", what, status)
	})
}

const exchangeColumns = `direction, message_id, case_id, kind, digest, body, answer, verified, at FROM exchange_messages`

func scanExchange(sc scanner) (wallet.ExchangeMessage, error) {
	var (
		m  wallet.ExchangeMessage
		at int64
	)
	err := sc.Scan(&m.Direction, &m.MessageID, &m.CaseID, &m.Kind, &m.Digest, &m.Body, &m.Answer, &m.Verified, &at)
	m.At = fromMicros(at)
	return m, err
}

// ExchangeMessage returns a kept message. ENOTFOUND.
func (s *Store) ExchangeMessage(ctx context.Context, direction, messageID string) (wallet.ExchangeMessage, error) {
	m, err := scanExchange(s.r.QueryRowContext(ctx, `SELECT `+exchangeColumns+` WHERE direction = ? AND message_id = ?`, direction, messageID))
	if err != nil {
		return wallet.ExchangeMessage{}, wrapErr(err, "exchange message")
	}
	return m, nil
}

// ExchangeMessages returns the case's kept messages, oldest first.
func (s *Store) ExchangeMessages(ctx context.Context, caseID string) ([]wallet.ExchangeMessage, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+exchangeColumns+` WHERE case_id = ? ORDER BY at, rowid`, caseID)
	return collect(rows, err, "list exchange messages", scanExchange)
}

func (a *appendTx) createCase(ctx context.Context, c wallet.Case) error {
	const what = "create case"
	if err := wallet.CheckCase(c, what); err != nil {
		return err
	}
	body, err := wallet.EncodeCase(c)
	if err != nil {
		return err
	}
	_, err = a.tx.ExecContext(ctx, `INSERT INTO cases
		(id, owner_iin, centre_id, agency_id, status, package_id, revision, created_at, updated_at, retain_until, body, next_attempt_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, string(c.OwnerIIN), c.CentreID, c.AgencyID, c.Status, nullString(c.PackageID), c.Revision,
		micros(c.CreatedAt), micros(c.UpdatedAt), nullMicros(c.RetainUntil), string(body), nullMicros(c.NextAttemptAt))
	return err
}

// updateCase: ENOTFOUND; Update's error; ECONFLICT for a package id taken.
// A case that becomes queued is due at once (next_attempt_at = its
// UpdatedAt); one that leaves queued loses its lease.
func (a *appendTx) updateCase(ctx context.Context, op wallet.UpdateCase) error {
	const what = "update case"
	if op.Update == nil {
		return wallet.Errorf(wallet.EINVALID, "%s: no update", what)
	}
	old, err := scanCase(a.tx.QueryRowContext(ctx, `SELECT `+caseColumns+` WHERE id = ?`, op.ID))
	if err != nil {
		return err
	}
	c, err := op.Update(old)
	if err != nil {
		return err
	}
	c.ID, c.Revision = old.ID, old.Revision+1
	if err := wallet.CheckCase(c, what); err != nil {
		return err
	}
	body, err := wallet.EncodeCase(c)
	if err != nil {
		return err
	}
	next := nullMicros(old.NextAttemptAt)
	if c.Status == wallet.CaseQueued && old.Status != wallet.CaseQueued {
		next = micros(c.UpdatedAt)
	}
	_, err = a.tx.ExecContext(ctx, `UPDATE cases SET status = ?, package_id = ?, revision = ?, updated_at = ?, retain_until = ?, body = ?,
		next_attempt_at = ?, lease_until = CASE WHEN ? = 'queued' THEN lease_until ELSE NULL END WHERE id = ?`,
		c.Status, nullString(c.PackageID), c.Revision, micros(c.UpdatedAt), nullMicros(c.RetainUntil), string(body), next, c.Status, op.ID)
	if err != nil {
		return err
	}
	if op.Result != nil {
		got, err := scanCase(a.tx.QueryRowContext(ctx, `SELECT `+caseColumns+` WHERE id = ?`, op.ID))
		if err != nil {
			return err
		}
		*op.Result = got
	}
	return nil
}

func (a *appendTx) recordExchange(ctx context.Context, m wallet.ExchangeMessage) error {
	if m.MessageID == "" || (m.Direction != "in" && m.Direction != "out") {
		return wallet.Errorf(wallet.EINVALID, "record exchange message: direction and id are required")
	}
	_, err := a.tx.ExecContext(ctx, `INSERT INTO exchange_messages (direction, message_id, case_id, kind, digest, body, answer, verified, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.Direction, m.MessageID, m.CaseID, m.Kind, m.Digest, m.Body, m.Answer, m.Verified, micros(m.At))
	return err
}
