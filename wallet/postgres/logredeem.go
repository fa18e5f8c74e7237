package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
)

// AppendBatchWithRedemptions runs a log batch's share redemptions and
// stores its leaves, hashes, payloads, parties and checkpoint in one
// transaction, under the log's advisory lock (see historylog.LogStore).
//
// The first round trip is one pipeline: BEGIN, the advisory lock, the log's
// size, and one statement per redemption (redeemSQL, as RedeemShare's group
// commit runs them, ordered by share id so that concurrent batches lock
// shares in one order). A refused redemption changes nothing and gets
// RedeemShare's error (EEXPIRED, ENOTFOUND, EINVALID); a statement that
// fails on its own data (ECONFLICT for a taken view id) aborts the
// transaction: it gets its error and the whole is run again without it.
// Then build runs, and the second round trip stores the leaves and sends
// COMMIT (COPY first for large batches).
//
// ECONFLICT (nothing stored) if firstIndex is not the current size;
// EINVALID if what build returns does not fit (historylog.CheckBatch);
// build's own error; EUNAVAILABLE. On any error nothing is stored.
func (s *Store) AppendBatchWithRedemptions(ctx context.Context, firstIndex int64, redemptions []historylog.Redemption, build historylog.BuildFunc) ([]historylog.RedemptionResult, error) {
	const what = "append to the history log"
	views := make([]wallet.View, len(redemptions))
	for i, r := range redemptions {
		if err := requireID(r.View.ID, "redeem share"); err != nil {
			return nil, err
		}
		views[i] = redemptionView(r.ShareID, r.View)
	}
	pending := make([]int, len(redemptions))
	for i := range pending {
		pending[i] = i
	}
	slices.SortStableFunc(pending, func(a, b int) int { return strings.Compare(views[a].ShareID, views[b].ShareID) })
	outcomes := make([]historylog.RedemptionResult, len(redemptions))
	for retries := 0; ; {
		failed, err := s.logRedeemTx(ctx, firstIndex, views, pending, outcomes, build)
		if err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01") && retries < maxRedeemRetries {
				retries++
				continue
			}
			return nil, wrapErr(err, what)
		}
		if failed < 0 {
			return outcomes, nil
		}
		pending = slices.Delete(pending, failed, failed+1)
	}
}

// logRedeemTx runs one attempt of AppendBatchWithRedemptions with the
// redemptions views[pending...]. It returns -1 and nil if the transaction
// committed (or had nothing to store), with outcomes set; k and nil if the
// statement of pending[k] failed on its own data, with its error in
// outcomes and nothing stored; or the batch's error, nothing stored.
func (s *Store) logRedeemTx(ctx context.Context, firstIndex int64, views []wallet.View, pending []int, outcomes []historylog.RedemptionResult, build historylog.BuildFunc) (failed int, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return -1, err
	}
	// The pool destroys the connection if it is left in a transaction.
	defer conn.Release()
	defer func() {
		if err == nil && failed < 0 {
			return
		}
		if conn.Conn().PgConn().TxStatus() != 'I' && !conn.Conn().IsClosed() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			conn.Exec(rctx, `ROLLBACK`)
			cancel()
		}
	}()

	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(pending)+3)}
	b.Queue(`BEGIN`)
	b.Queue(logLock)
	b.Queue(`SELECT coalesce(max(idx) + 1, 0) FROM log_leaves`)
	for _, i := range pending {
		queueRedemption(b, views[i])
	}
	br := conn.SendBatch(ctx, b)
	failed = -1
	redeemed := 0
	err = func() error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		if _, err := br.Exec(); err != nil {
			return err
		}
		var size int64
		if err := br.QueryRow().Scan(&size); err != nil {
			return err
		}
		if size != firstIndex {
			return wallet.Errorf(wallet.ECONFLICT, "history log: the log has %d leaves, the batch starts at %d", size, firstIndex)
		}
		for k, i := range pending {
			res, member, err := scanRedemption(br.QueryRow(), views[i])
			if err != nil {
				return err
			}
			outcomes[i] = historylog.RedemptionResult{View: res.view, Err: res.err}
			if member {
				failed = k
				return nil
			}
			if res.err == nil {
				redeemed++
			}
		}
		return nil
	}()
	if cerr := br.Close(); err == nil && failed < 0 {
		err = cerr
	}
	if err != nil || failed >= 0 {
		return failed, err
	}

	leaves, hashes, cp, err := build(outcomes)
	if err != nil {
		return -1, err
	}
	if len(leaves) == 0 {
		if redeemed > 0 {
			return -1, wallet.Errorf(wallet.EINTERNAL, "history log: %d redemptions and no leaf", redeemed)
		}
		// Nothing to store: roll back.
		if _, err := conn.Exec(ctx, `ROLLBACK`); err != nil {
			return -1, err
		}
		return -1, nil
	}
	if err := historylog.CheckBatch(firstIndex, leaves, hashes, cp); err != nil {
		return -1, err
	}
	return -1, writeLeaves(ctx, conn.Conn(), firstIndex, leaves, hashes, cp, true)
}
