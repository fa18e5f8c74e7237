package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/internal/redeemqueue"
)

// Group commit of redemptions.
//
// RedeemShare does not run its own transaction: it queues the redemption for
// the store's committer, a goroutine that takes everything waiting (up to
// redeemqueue.MaxBatch) and sends it to the server as one pipeline on one
// connection: BEGIN, one statement per redemption, COMMIT, in a single round
// trip. Every caller is answered only after that COMMIT, so no redemption is
// reported before it is durable; a failed commit fails every member of the
// batch with nothing stored.
//
// Each redemption is one statement (redeemSQL): the share's count is raised
// only if the share is live and matches the view, and the view is inserted
// from the row the UPDATE returned, so a redemption that may not happen
// changes nothing, without an error; the statement then returns the share as
// it stood before it (after the batch's earlier redemptions), from which the
// refusal's code is decided: ENOTFOUND, EEXPIRED or EINVALID, as with one
// transaction each. Because a statement either applies whole or not at all,
// no savepoint is needed: a
// subtransaction per member would also exceed PostgreSQL's cache of 64
// subtransactions per transaction in large batches. When a member's statement
// fails (ECONFLICT for a taken view id, EINVALID for bad data), the server
// aborts the pipeline there: that member gets its error, the transaction is
// rolled back, and the batch runs again without it. Errors that are not one
// member's (a lost connection, a failed commit) fail the whole batch.
//
// Within a batch the redemptions run ordered by share id (stably, so those of
// one share keep their queue order): batches of several processes then lock
// shares in the same order and cannot deadlock each other.

// redeemTimeout bounds the store work of one batch.
const redeemTimeout = 30 * time.Second

// maxRedeemRetries is how often a batch is run again after a deadlock or a
// serialization failure.
const maxRedeemRetries = 3

// redeemSQL is one redemption: $1 share id, $2 the view's time, $3 and $4
// the view's document id and owner (empty: the share's), $5.. the rest of
// the view. It returns one row: the slot the view took (0 if refused), the
// share's document and owner, and whether the share was live at $2; or no
// row if there is no such share. (The second SELECT reads the statement's
// snapshot, so it sees the share before this statement's UPDATE, and it runs
// only when the UPDATE took nothing.)
const redeemSQL = `WITH s AS (
	UPDATE shares SET views = views + 1
	WHERE id = $1 AND revoked_at IS NULL AND views < max_views AND expires_at > $2
	  AND ($3::text = '' OR document_id = $3::text) AND ($4::text = '' OR owner_iin = $4::text)
	RETURNING views, document_id, owner_iin
), i AS (
	INSERT INTO views
		(id, document_id, document_type, owner_iin, viewer_kind, viewer_id, channel,
		 share_id, share_seq, consent_id, shared_by, at, log_index)
	SELECT $5, s.document_id, $6, s.owner_iin, $7, $8, $9, $1, s.views, $10, $11, $2, $12 FROM s
	RETURNING share_seq, document_id, owner_iin
)
SELECT share_seq, document_id, owner_iin, true FROM i
UNION ALL
SELECT 0, document_id, owner_iin, revoked_at IS NULL AND views < max_views AND expires_at > $2
FROM shares WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM s)`

// redeemResult is the outcome of one redemption of a batch.
type redeemResult struct {
	view wallet.View
	err  error
}

// redeemBatch runs the batch in one transaction and answers every member
// once it has committed, or every member with the error if it failed.
func (s *Store) redeemBatch(batch []*redeemqueue.Request) {
	ctx, cancel := context.WithTimeout(context.Background(), redeemTimeout)
	defer cancel()
	results := make([]redeemResult, len(batch))
	done := make([]bool, len(batch)) // results[i] is final
	pending := make([]int, len(batch))
	for i := range pending {
		pending[i] = i
	}
	slices.SortStableFunc(pending, func(a, b int) int { return strings.Compare(batch[a].ShareID, batch[b].ShareID) })

	var err error
	for retries := 0; len(pending) > 0; {
		var failed int
		failed, err = s.redeemPipeline(ctx, batch, pending, results)
		if err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01") && retries < maxRedeemRetries {
				retries++
				continue
			}
			break
		}
		if failed < 0 {
			break
		}
		done[pending[failed]] = true
		pending = slices.Delete(pending, failed, failed+1)
	}
	if err != nil {
		err = wrapErr(err, "redeem share")
		for i, r := range batch {
			if done[i] {
				r.Answer(results[i].view, results[i].err)
			} else {
				r.Answer(wallet.View{}, err)
			}
		}
		return
	}
	for i, r := range batch {
		r.Answer(results[i].view, results[i].err)
	}
}

// redeemPipeline sends BEGIN, the redemptions of batch[pending...] and
// COMMIT in one pipeline. If all ran and the transaction committed, it
// returns -1 and nil, with results set. If the statement of
// pending[k] failed with an error of its own, it returns k with that error
// in results; nothing was stored. Any other error is the batch's, and
// nothing was stored.
func (s *Store) redeemPipeline(ctx context.Context, batch []*redeemqueue.Request, pending []int, results []redeemResult) (failed int, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return -1, err
	}
	// The pool destroys the connection if it is left in a transaction.
	defer conn.Release()

	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(pending)+2)}
	b.Queue(`BEGIN`)
	views := make([]wallet.View, len(pending))
	for k, i := range pending {
		views[k] = redemptionView(batch[i].ShareID, batch[i].View)
		queueRedemption(b, views[k])
	}
	b.Queue(`COMMIT`)

	br := conn.SendBatch(ctx, b)
	failed = -1
	err = func() error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		for k := range pending {
			res, member, err := scanRedemption(br.QueryRow(), views[k])
			if err != nil {
				return err
			}
			results[pending[k]] = res
			if member {
				failed = k
				return nil
			}
		}
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		if tag.String() != "COMMIT" {
			return wallet.Errorf(wallet.EUNAVAILABLE, "redeem share: the transaction did not commit (%s)", tag)
		}
		return nil
	}()
	if cerr := br.Close(); err == nil && failed < 0 {
		err = cerr
	}
	if err == nil && failed < 0 {
		return -1, nil
	}
	if conn.Conn().PgConn().TxStatus() != 'I' && !conn.Conn().IsClosed() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		conn.Exec(rctx, `ROLLBACK`)
		cancel()
	}
	return failed, err
}

// redemptionView is the view v of a redemption of the share as redeemSQL
// stores it.
func redemptionView(shareID string, v wallet.View) wallet.View {
	v.ShareID, v.At = shareID, ts(v.At)
	return v
}

// queueRedemption queues redeemSQL for v (a redemptionView) on b.
func queueRedemption(b *pgx.Batch, v wallet.View) {
	b.Queue(redeemSQL, v.ShareID, v.At, v.DocumentID, string(v.OwnerIIN),
		v.ID, string(v.DocumentType), v.ViewerKind, v.ViewerID, v.Channel,
		v.ConsentID, string(v.SharedBy), logIndex(v.LogIndex))
}

// scanRedemption reads the row redeemSQL returned for the view v. It
// returns the redemption's outcome: the stored view, or the refusal's error
// (EEXPIRED, ENOTFOUND, EINVALID). member is set when the statement failed
// on its own data (ECONFLICT for a taken view id, ...): res holds that
// error and the transaction is aborted. err is any other error, the
// batch's.
func scanRedemption(row pgx.Row, v wallet.View) (res redeemResult, member bool, err error) {
	var (
		seq        int
		documentID string
		owner      string
		live       bool
	)
	err = row.Scan(&seq, &documentID, &owner, &live)
	switch {
	case err == nil && seq > 0:
		v.DocumentID, v.OwnerIIN = documentID, wallet.IIN(owner)
		return redeemResult{view: v}, false, nil
	case err == nil:
		return redeemResult{err: refusal(v, documentID, owner, live)}, false, nil
	case errors.Is(err, pgx.ErrNoRows):
		return redeemResult{err: wallet.Wrap(wallet.ENOTFOUND, err, "redeem share: not found")}, false, nil
	case memberError(err):
		return redeemResult{err: wrapErr(err, "redeem share")}, true, nil
	}
	return redeemResult{}, false, err
}

// memberError reports whether a statement's error belongs to that
// redemption alone (its data: a taken view id, a value the table refuses)
// rather than to the batch.
func memberError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return false
	}
	class := pe.Code[:2]
	return class == "22" || class == "23"
}

// refusal is the error of a redemption of v that the share refused: the
// share's document and owner, and whether it was live at v.At, are as the
// redemption found them.
func refusal(v wallet.View, documentID, owner string, live bool) error {
	if !live {
		return wallet.Errorf(wallet.EEXPIRED, "redeem share: the share is expired, revoked or used up")
	}
	if (v.DocumentID != "" && v.DocumentID != documentID) || (v.OwnerIIN != "" && string(v.OwnerIIN) != owner) {
		return wallet.Errorf(wallet.EINVALID, "redeem share: the view does not match the share's document")
	}
	// Live and matching as of the statement's snapshot, yet the UPDATE took
	// nothing: another process used it up or revoked it meanwhile.
	return wallet.Errorf(wallet.EEXPIRED, "redeem share: the share is expired, revoked or used up")
}
