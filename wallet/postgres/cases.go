package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

const caseColumns = `body, attempts, next_attempt_at, lease_until, last_error FROM cases`

func scanCase(row pgx.Row) (wallet.Case, error) {
	var (
		body        string
		next, lease *time.Time
		attempts    int
		lastErr     string
	)
	if err := row.Scan(&body, &attempts, &next, &lease, &lastErr); err != nil {
		return wallet.Case{}, err
	}
	c, err := wallet.DecodeCase([]byte(body))
	if err != nil {
		return c, err
	}
	c.Attempts, c.NextAttemptAt, c.LeaseUntil, c.LastError = attempts, utc(next), utc(lease), lastErr
	return c, nil
}

// Case returns one case. ENOTFOUND.
func (s *Store) Case(ctx context.Context, id string) (wallet.Case, error) {
	c, err := scanCase(s.pool.QueryRow(ctx, `SELECT `+caseColumns+` WHERE id = $1`, id))
	if err != nil {
		return wallet.Case{}, wrapErr(err, "case")
	}
	return c, nil
}

// CasesOfOwner returns the citizen's cases, newest first.
func (s *Store) CasesOfOwner(ctx context.Context, owner wallet.IIN) ([]wallet.Case, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+caseColumns+` WHERE owner_iin = $1 ORDER BY created_at DESC, seq DESC`, string(owner))
	return collect(rows, err, "list cases", scanCase)
}

// LeaseCaseDeliveries leases due queued cases (see wallet.CaseStore); two
// workers never get the same case (SKIP LOCKED, then the lease).
func (s *Store) LeaseCaseDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]wallet.Case, error) {
	rows, err := s.pool.Query(ctx, `WITH due AS (
		SELECT id FROM cases WHERE status = 'queued' AND next_attempt_at <= $1
		AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_attempt_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED
	) UPDATE cases SET lease_until = $2 FROM due WHERE cases.id = due.id
	RETURNING `+caseColumnsOf("cases"), ts(now), ts(now.Add(lease)), limit)
	return collect(rows, err, "lease case deliveries", scanCase)
}

func caseColumnsOf(t string) string {
	return t + `.body, ` + t + `.attempts, ` + t + `.next_attempt_at, ` + t + `.lease_until, ` + t + `.last_error`
}

// DeferCaseDelivery records a failed attempt. ENOTFOUND, ECONFLICT.
func (s *Store) DeferCaseDelivery(ctx context.Context, id string, next time.Time, lastError string) error {
	const what = "defer case delivery"
	var (
		done   bool
		status *string
	)
	err := s.pool.QueryRow(ctx, `WITH d AS (
		UPDATE cases SET attempts = attempts + 1, next_attempt_at = $2, lease_until = NULL, last_error = $3
		WHERE id = $1 AND status = 'queued' RETURNING 1
	) SELECT EXISTS (SELECT 1 FROM d), (SELECT status FROM cases WHERE id = $1)`, id, ts(next), lastError).Scan(&done, &status)
	switch {
	case err != nil:
		return wrapErr(err, what)
	case done:
		return nil
	case status == nil:
		return wallet.Errorf(wallet.ENOTFOUND, "%s: not found", what)
	}
	return wallet.Errorf(wallet.ECONFLICT, "%s: the case is %s", what, *status)
}

const exchangeColumns = `direction, message_id, case_id, kind, digest, body, answer, verified, at FROM exchange_messages`

func scanExchange(row pgx.Row) (wallet.ExchangeMessage, error) {
	var m wallet.ExchangeMessage
	err := row.Scan(&m.Direction, &m.MessageID, &m.CaseID, &m.Kind, &m.Digest, &m.Body, &m.Answer, &m.Verified, &m.At)
	m.At = m.At.UTC()
	return m, err
}

// ExchangeMessage returns a kept message. ENOTFOUND.
func (s *Store) ExchangeMessage(ctx context.Context, direction, messageID string) (wallet.ExchangeMessage, error) {
	m, err := scanExchange(s.pool.QueryRow(ctx, `SELECT `+exchangeColumns+` WHERE direction = $1 AND message_id = $2`, direction, messageID))
	if err != nil {
		return wallet.ExchangeMessage{}, wrapErr(err, "exchange message")
	}
	return m, nil
}

// ExchangeMessages returns the case's kept messages, oldest first.
func (s *Store) ExchangeMessages(ctx context.Context, caseID string) ([]wallet.ExchangeMessage, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+exchangeColumns+` WHERE case_id = $1 ORDER BY at, seq`, caseID)
	return collect(rows, err, "list exchange messages", scanExchange)
}

const createCaseSQL = `INSERT INTO cases
	(id, owner_iin, centre_id, agency_id, status, package_id, revision, created_at, updated_at, retain_until, body, next_attempt_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
	ON CONFLICT (id) DO NOTHING`

// createCase: ECONFLICT if the id exists (the INSERT does nothing).
func (r *applyRun) createCase(i, k int, c wallet.Case) {
	const what = "create case"
	if err := wallet.CheckCase(c, what); err != nil {
		r.refuse(i, k, err)
		return
	}
	body, err := wallet.EncodeCase(c)
	if err != nil {
		r.refuse(i, k, err)
		return
	}
	r.queue(i, k, createCaseSQL, []any{c.ID, string(c.OwnerIIN), c.CentreID, c.AgencyID, c.Status, nullString(c.PackageID), c.Revision,
		ts(c.CreatedAt), ts(c.UpdatedAt), tsp(c.RetainUntil), string(body), tsp(c.NextAttemptAt)},
		execOne(func() error { return wallet.Errorf(wallet.ECONFLICT, "%s: already exists", what) }))
}

const updateCaseSQL = `UPDATE cases SET status = $1, package_id = $2, revision = $3, updated_at = $4, retain_until = $5, body = $6,
	next_attempt_at = $7, lease_until = CASE WHEN $1 = 'queued' THEN lease_until ELSE NULL END WHERE id = $8`

// updateCase reads the case locked (FOR UPDATE, the last statement of a
// round trip), calls Update and queues the UPDATE of what it returns, as
// updateConsent does. ENOTFOUND; Update's error; ECONFLICT for a package
// id taken (the statement fails on its data and the state is refused).
func (r *applyRun) updateCase(ctx context.Context, i, k int, op wallet.UpdateCase) error {
	const what = "update case"
	if op.Update == nil {
		r.refuse(i, k, wallet.Errorf(wallet.EINVALID, "%s: no update", what))
		return nil
	}
	var (
		old   wallet.Case
		found bool
	)
	r.queue(i, k, `SELECT `+caseColumns+` WHERE id = $1 FOR UPDATE`, []any{op.ID}, func(br pgx.BatchResults) (error, error) {
		c, err := scanCase(br.QueryRow())
		if errors.Is(err, pgx.ErrNoRows) {
			return wallet.Wrap(wallet.ENOTFOUND, err, what+": not found"), nil
		}
		if err != nil {
			return nil, err
		}
		old, found = c, true
		return nil, nil
	})
	if err := r.flush(ctx); err != nil || r.member != nil || !found || r.refused(i) {
		return err
	}
	c, err := op.Update(old)
	if err == nil {
		c.ID, c.Revision = old.ID, old.Revision+1
		err = wallet.CheckCase(c, what)
	}
	var body []byte
	if err == nil {
		body, err = wallet.EncodeCase(c)
	}
	if err != nil {
		if wallet.AsError(err) == nil {
			err = wallet.Wrap(wallet.EINTERNAL, err, what)
		}
		r.refuse(i, k, err)
		return nil
	}
	next := old.NextAttemptAt
	if c.Status == wallet.CaseQueued && old.Status != wallet.CaseQueued {
		u := c.UpdatedAt
		next = &u
	}
	r.queue(i, k, updateCaseSQL, []any{c.Status, nullString(c.PackageID), c.Revision, ts(c.UpdatedAt), tsp(c.RetainUntil), string(body), tsp(next), op.ID},
		execOne(func() error { return wallet.Errorf(wallet.EINTERNAL, "%s: the locked case was not updated", what) }))
	if op.Result != nil {
		stored, err := wallet.DecodeCase(body) // as a read gives it back
		if err != nil {
			r.refuse(i, k, err)
			return nil
		}
		stored.NextAttemptAt, stored.Attempts, stored.LastError = tsp(next), old.Attempts, old.LastError
		if c.Status == wallet.CaseQueued {
			stored.LeaseUntil = old.LeaseUntil
		}
		dst := op.Result
		r.after = append(r.after, stateResult{state: i, set: func() { *dst = stored }})
	}
	return nil
}

const recordExchangeSQL = `INSERT INTO exchange_messages (direction, message_id, case_id, kind, digest, body, answer, verified, at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`

// recordExchange: ECONFLICT if the message is kept already.
func (r *applyRun) recordExchange(i, k int, m wallet.ExchangeMessage) {
	const what = "record exchange message"
	if m.MessageID == "" || (m.Direction != "in" && m.Direction != "out") {
		r.refuse(i, k, wallet.Errorf(wallet.EINVALID, "%s: direction and id are required", what))
		return
	}
	r.queue(i, k, recordExchangeSQL, []any{m.Direction, m.MessageID, m.CaseID, m.Kind, m.Digest, m.Body, m.Answer, m.Verified, ts(m.At)},
		execOne(func() error { return wallet.Errorf(wallet.ECONFLICT, "%s: already kept", what) }))
}
