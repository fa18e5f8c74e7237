package postgres

import (
	"context"
	"errors"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/qujat/qujat/wallet"
)

// The ops of a log batch (wallet.Op), each queued on the batch's pipeline
// as one statement that applies whole or changes nothing, with how to read
// from its result whether it applied or why it was refused (see append.go).
// The checks that need no data are made before anything is queued.

// op queues op k of state i, or refuses it.
func (r *applyRun) op(ctx context.Context, i, k int, op wallet.Op) error {
	switch op := op.(type) {
	case wallet.CreateShare:
		r.createShare(i, k, op.Share)
	case wallet.RevokeShare:
		r.revokeShare(i, k, op)
	case wallet.RedeemShare:
		r.redeemShare(i, k, op)
	case wallet.CreateConsent:
		r.createConsent(i, k, op.Consent)
	case wallet.UpdateConsent:
		return r.updateConsent(ctx, i, k, op)
	case wallet.AppendVersion:
		r.appendVersion(i, k, op.Document, op.Version)
	case wallet.QueueMessage:
		r.queueMessage(i, k, op.Message)
	case wallet.SaveIdempotency:
		r.saveIdempotency(i, k, op)
	case wallet.CreateDuplicate:
		r.createDuplicate(i, k, op.Duplicate)
	case wallet.CertifyDuplicate:
		r.certifyDuplicate(i, k, op)
	case wallet.PurgeDuplicate:
		r.purgeDuplicate(i, k, op)
	case wallet.CreateRegistryRecord:
		r.createRegistryRecord(i, k, op.Record)
	case wallet.AppendRegistryVersion:
		r.appendRegistryVersion(i, k, op.Version)
	case wallet.SignRegistryVersion:
		r.signRegistryVersion(i, k, op.Version)
	case wallet.CreateExtract:
		r.createExtract(i, k, op.Extract)
	case wallet.CreateCase:
		r.createCase(i, k, op.Case)
	case wallet.UpdateCase:
		return r.updateCase(ctx, i, k, op)
	case wallet.RecordExchange:
		r.recordExchange(i, k, op.Message)
	default:
		r.refuse(i, k, wallet.Errorf(wallet.EINTERNAL, "history log: unknown op %T", op))
	}
	return nil
}

// int4 refuses numbers that do not fit the integer columns they go to
// (the driver would refuse them when the pipeline is built, failing the
// whole batch).
func int4(what string, ns ...int) error {
	for _, n := range ns {
		if n < math.MinInt32 || n > math.MaxInt32 {
			return wallet.Errorf(wallet.EINVALID, "%s: %d is out of range", what, n)
		}
	}
	return nil
}

// execOne reads the result of a statement that affects one row, or none
// when the op is refused with refusal.
func execOne(refusal func() error) func(pgx.BatchResults) (error, error) {
	return func(br pgx.BatchResults) (error, error) {
		tag, err := br.Exec()
		if err != nil {
			return nil, err
		}
		if tag.RowsAffected() != 1 {
			return refusal(), nil
		}
		return nil, nil
	}
}

const (
	purgeIdempotencySQL = `DELETE FROM idempotency_keys WHERE expires_at <= $1`
	saveIdempotencySQL  = `INSERT INTO idempotency_keys
	(caller, key, request_hash, outcome, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (caller, key) DO NOTHING`
)

// saveIdempotency purges expired keys and stores the record: ECONFLICT if
// the caller has a live record of the key (the INSERT does nothing; a
// concurrent insert of the same key is waited for).
func (r *applyRun) saveIdempotency(i, k int, op wallet.SaveIdempotency) {
	const what = "save idempotency key"
	rec := op.Record
	if rec.Caller == "" || rec.Key == "" || rec.RequestHash == "" {
		r.refuse(i, k, wallet.Errorf(wallet.EINVALID, "%s: caller, key and request hash are required", what))
		return
	}
	outcome := rec.Outcome
	if outcome == nil {
		outcome = []byte{}
	}
	r.queue(i, k, purgeIdempotencySQL, []any{ts(op.At)}, func(br pgx.BatchResults) (error, error) {
		_, err := br.Exec()
		return nil, err
	})
	r.queue(i, k, saveIdempotencySQL, []any{rec.Caller, rec.Key, rec.RequestHash, outcome, ts(rec.CreatedAt), ts(rec.ExpiresAt)},
		execOne(func() error { return wallet.Errorf(wallet.ECONFLICT, "%s: the key was used already", what) }))
}

const createShareSQL = `INSERT INTO shares
	(id, document_id, owner_iin, created_by, max_views, views, created_at, expires_at, revoked_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	ON CONFLICT DO NOTHING`

// createShare: ECONFLICT if the id exists (the INSERT does nothing).
func (r *applyRun) createShare(i, k int, sh wallet.Share) {
	const what = "create share"
	if err := requireID(sh.ID, what); err != nil {
		r.refuse(i, k, err)
		return
	}
	if err := int4(what, sh.MaxViews, sh.Views); err != nil {
		r.refuse(i, k, err)
		return
	}
	r.queue(i, k, createShareSQL, []any{sh.ID, sh.DocumentID, string(sh.OwnerIIN), string(sh.CreatedBy), sh.MaxViews, sh.Views,
		ts(sh.CreatedAt), ts(sh.ExpiresAt), tsp(sh.RevokedAt)},
		execOne(func() error { return wallet.Errorf(wallet.ECONFLICT, "%s: already exists", what) }))
}

// revokeShareSQL revokes a share not revoked yet and returns whether it
// did and whether the share exists.
const revokeShareSQL = `WITH r AS (
	UPDATE shares SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM r), EXISTS (SELECT 1 FROM shares WHERE id = $1)`

// revokeShare: ENOTFOUND if there is no such share; ECONFLICT if it was
// revoked already.
func (r *applyRun) revokeShare(i, k int, op wallet.RevokeShare) {
	const what = "revoke share"
	r.queue(i, k, revokeShareSQL, []any{op.ID, ts(op.At)}, func(br pgx.BatchResults) (error, error) {
		var revoked, exists bool
		if err := br.QueryRow().Scan(&revoked, &exists); err != nil {
			return nil, err
		}
		switch {
		case revoked:
			return nil, nil
		case exists:
			return wallet.Errorf(wallet.ECONFLICT, "%s: the share was revoked already", what), nil
		}
		return wallet.Errorf(wallet.ENOTFOUND, "%s: not found", what), nil
	})
}

// redeemSQL is one redemption: $1 share id, $2 the view's time, $3 and $4
// the view's document id and owner (empty: the share's), $5 the view's id.
// The share's count is raised only if the share is live at $2, matches the
// view and no view has the id $5. The view itself is not inserted here but
// with its leaf, by Commit (recordRows), with its log index, so that
// the row is written once instead of inserted and then marked (an UPDATE of
// an indexed column, which PostgreSQL cannot do in place: it would write
// the row and every index entry of it twice). It returns one row: the count
// the view takes (0 if refused), the share's document and owner, whether
// the share was live at $2, and whether the view id is taken; or no row if
// there is no such share. (The second SELECT reads the statement's
// snapshot, so it sees the share before this statement's UPDATE, and it
// runs only when the UPDATE took nothing.)
const redeemSQL = `WITH t AS (
	SELECT EXISTS (SELECT 1 FROM views WHERE id = $5) AS taken
), s AS (
	UPDATE shares SET views = views + 1
	WHERE id = $1 AND revoked_at IS NULL AND views < max_views AND expires_at > $2
	  AND ($3::text = '' OR document_id = $3::text) AND ($4::text = '' OR owner_iin = $4::text)
	  AND NOT (SELECT taken FROM t)
	RETURNING views, document_id, owner_iin
)
SELECT views, document_id, owner_iin, true, false FROM s
UNION ALL
SELECT 0, document_id, owner_iin, revoked_at IS NULL AND views < max_views AND expires_at > $2, (SELECT taken FROM t)
FROM shares WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM s)`

// redeemedView is a view a RedeemShare op took a share's count for, to be
// inserted with its leaf; state is the op's state in the batch.
type redeemedView struct {
	state int
	view  wallet.View
	seq   int
}

// redeemShare: EEXPIRED if the share is revoked, expired at the view's
// time or used up; ENOTFOUND if there is no such share; EINVALID if the
// view names another document or owner; ECONFLICT if the view's id is
// taken (by a stored view, or by another redemption of this batch).
func (r *applyRun) redeemShare(i, k int, op wallet.RedeemShare) {
	const what = "redeem share"
	v := op.View
	if err := requireID(v.ID, what); err != nil {
		r.refuse(i, k, err)
		return
	}
	if _, dup := r.redeemed[v.ID]; dup {
		r.refuse(i, k, wallet.Errorf(wallet.ECONFLICT, "%s: view %q is taken", what, v.ID))
		return
	}
	if r.redeemed == nil {
		r.redeemed = make(map[string]*redeemedView)
	}
	pending := &redeemedView{state: i}
	r.redeemed[v.ID] = pending
	v.ShareID, v.At = op.ShareID, ts(v.At)
	r.queue(i, k, redeemSQL, []any{v.ShareID, v.At, v.DocumentID, string(v.OwnerIIN), v.ID},
		func(br pgx.BatchResults) (error, error) {
			var (
				seq        int
				documentID string
				owner      string
				live       bool
				taken      bool
			)
			err := br.QueryRow().Scan(&seq, &documentID, &owner, &live, &taken)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				return wallet.Wrap(wallet.ENOTFOUND, err, what+": not found"), nil
			case err != nil:
				return nil, err
			case seq > 0:
				v.DocumentID, v.OwnerIIN = documentID, wallet.IIN(owner)
				pending.view, pending.seq = v, seq
				return nil, nil
			case taken:
				return wallet.Errorf(wallet.ECONFLICT, "%s: view %q is taken", what, v.ID), nil
			}
			return redeemRefusal(v, documentID, owner, live), nil
		})
}

// redeemRefusal is the error of a redemption of v that the share refused:
// the share's document and owner, and whether it was live at v.At, are as
// the redemption found them.
func redeemRefusal(v wallet.View, documentID, owner string, live bool) error {
	if !live {
		return wallet.Errorf(wallet.EEXPIRED, "redeem share: the share is expired, revoked or used up")
	}
	if (v.DocumentID != "" && v.DocumentID != documentID) || (v.OwnerIIN != "" && string(v.OwnerIIN) != owner) {
		return wallet.Errorf(wallet.EINVALID, "redeem share: the view does not match the share's document")
	}
	// Live and matching as of the statement's snapshot, yet the UPDATE
	// took nothing: someone used it up or revoked it meanwhile (not a
	// log batch, which holds the log's lock).
	return wallet.Errorf(wallet.EEXPIRED, "redeem share: the share is expired, revoked or used up")
}

const createConsentSQL = `INSERT INTO consents
	(id, client_id, subject_iin, phone, document_types, purpose, method, status, valid_for_ns,
	 created_at, request_expires_at, decided_at, grant_expires_at, revoked_at, revision)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
	ON CONFLICT DO NOTHING`

// createConsent: ECONFLICT if the id exists (the INSERT does nothing).
func (r *applyRun) createConsent(i, k int, c wallet.Consent) {
	const what = "create consent"
	if err := requireID(c.ID, what); err != nil {
		r.refuse(i, k, err)
		return
	}
	if err := int4(what, c.Revision); err != nil {
		r.refuse(i, k, err)
		return
	}
	r.queue(i, k, createConsentSQL, []any{c.ID, c.ClientID, string(c.SubjectIIN), c.Phone, encodeTypes(c.DocumentTypes),
		c.Purpose, c.Method, c.Status, int64(c.ValidFor), ts(c.CreatedAt), ts(c.RequestExpiresAt),
		tsp(c.DecidedAt), tsp(c.GrantExpiresAt), tsp(c.RevokedAt), c.Revision},
		execOne(func() error { return wallet.Errorf(wallet.ECONFLICT, "%s: already exists", what) }))
}

const updateConsentSQL = `UPDATE consents SET
	client_id = $1, subject_iin = $2, phone = $3, document_types = $4, purpose = $5, method = $6, status = $7,
	valid_for_ns = $8, created_at = $9, request_expires_at = $10, decided_at = $11, grant_expires_at = $12,
	revoked_at = $13, revision = $14
	WHERE id = $15`

// updateConsent reads the consent locked (FOR UPDATE, the last statement
// of a round trip), calls Update on it and queues the UPDATE of what it
// returns, with Revision bumped. ENOTFOUND if there is no such consent;
// Update's error as it is (EINTERNAL around one that is not a
// *wallet.Error).
func (r *applyRun) updateConsent(ctx context.Context, i, k int, op wallet.UpdateConsent) error {
	const what = "update consent"
	if op.Update == nil {
		r.refuse(i, k, wallet.Errorf(wallet.EINVALID, "%s: no update", what))
		return nil
	}
	var (
		old   wallet.Consent
		found bool
	)
	r.queue(i, k, `SELECT `+consentColumns+` WHERE id = $1 FOR UPDATE`, []any{op.ID}, func(br pgx.BatchResults) (error, error) {
		c, err := scanConsent(br.QueryRow())
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
	if err != nil {
		if wallet.AsError(err) == nil {
			err = wallet.Wrap(wallet.EINTERNAL, err, what)
		}
		r.refuse(i, k, err)
		return nil
	}
	c.ID, c.Revision = old.ID, old.Revision+1
	r.queue(i, k, updateConsentSQL, []any{c.ClientID, string(c.SubjectIIN), c.Phone, encodeTypes(c.DocumentTypes),
		c.Purpose, c.Method, c.Status, int64(c.ValidFor), ts(c.CreatedAt), ts(c.RequestExpiresAt), tsp(c.DecidedAt),
		tsp(c.GrantExpiresAt), tsp(c.RevokedAt), c.Revision, op.ID},
		execOne(func() error { return wallet.Errorf(wallet.EINTERNAL, "%s: the locked consent was not updated", what) }))
	if op.Result != nil {
		r.results = append(r.results, consentResult{state: i, dst: op.Result, c: normalizeConsent(c)})
	}
	return nil
}

// appendFirstSQL creates a document with its version 1; appendNextSQL
// appends a version to the subject's document if it is the next one
// (latest_version is the compare-and-swap guard). Each returns how many
// versions it stored: 0 if refused, and then it changed nothing.
const (
	appendFirstSQL = `WITH d AS (
	INSERT INTO documents (id, subject_iin, type, source, fetched_at, latest_version)
	VALUES ($1, $2, $3, $4, $5, 1)
	ON CONFLICT DO NOTHING
	RETURNING id
), v AS (
	INSERT INTO document_versions (document_id, version, content, jws, prev_hash, hash, created_at)
	SELECT d.id, 1, $6::bytea, $7::text, $8::text, $9::text, $10::timestamptz FROM d
	RETURNING version
)
SELECT count(*) FROM v`
	appendNextSQL = `WITH d AS (
	UPDATE documents SET latest_version = $2::int, fetched_at = COALESCE($3::timestamptz, fetched_at)
	WHERE id = $1 AND subject_iin = $4 AND latest_version = $2::int - 1
	RETURNING id
), v AS (
	INSERT INTO document_versions (document_id, version, content, jws, prev_hash, hash, created_at)
	SELECT d.id, $2::int, $5::bytea, $6::text, $7::text, $8::text, $9::timestamptz FROM d
	RETURNING version
)
SELECT count(*) FROM v`
)

// appendVersion: EINVALID for a version below 1 or of another document;
// ECONFLICT if version 1's document exists, or a later version is not
// the next version of the subject's document.
func (r *applyRun) appendVersion(i, k int, d wallet.StoredDocument, v wallet.Version) {
	const what = "append document version"
	var err error
	switch {
	case d.ID == "":
		err = requireID(d.ID, what)
	case v.Version < 1:
		err = wallet.Errorf(wallet.EINVALID, "%s: version %d is below 1", what, v.Version)
	case v.DocumentID != "" && v.DocumentID != d.ID:
		err = wallet.Errorf(wallet.EINVALID, "%s: version of document %q given for %q", what, v.DocumentID, d.ID)
	default:
		err = int4(what, v.Version)
	}
	if err != nil {
		r.refuse(i, k, err)
		return
	}
	content := v.Content
	if content == nil {
		content = []byte{}
	}
	var (
		sql     string
		args    []any
		refusal error
	)
	if v.Version == 1 {
		fetched := d.FetchedAt
		if fetched.IsZero() {
			fetched = v.CreatedAt
		}
		sql = appendFirstSQL
		args = []any{d.ID, string(d.SubjectIIN), string(d.Type), d.Source, ts(fetched),
			content, v.JWS, v.PrevHash, v.Hash, ts(v.CreatedAt)}
		refusal = wallet.Errorf(wallet.ECONFLICT, "%s: the document exists", what)
	} else {
		fetched := tsp(&d.FetchedAt)
		if d.FetchedAt.IsZero() {
			fetched = nil
		}
		sql = appendNextSQL
		args = []any{d.ID, v.Version, fetched, string(d.SubjectIIN),
			content, v.JWS, v.PrevHash, v.Hash, ts(v.CreatedAt)}
		refusal = wallet.Errorf(wallet.ECONFLICT, "%s: version %d is not the next version of the subject's document", what, v.Version)
	}
	r.queue(i, k, sql, args, func(br pgx.BatchResults) (error, error) {
		var n int64
		if err := br.QueryRow().Scan(&n); err != nil {
			return nil, err
		}
		if n != 1 {
			return refusal, nil
		}
		return nil, nil
	})
}
