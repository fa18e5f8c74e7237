package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/internal/redeemqueue"
)

// Group commit of redemptions.
//
// RedeemShare does not run its own transaction: it queues the redemption for
// the store's committer, a goroutine that takes everything waiting (up to
// redeemqueue.MaxBatch) and runs it in one write transaction on the writer
// connection, each redemption under its own SAVEPOINT, then commits once.
// A redemption that fails (EEXPIRED, ENOTFOUND, EINVALID, ECONFLICT) rolls
// back to its savepoint and returns its own error; the others go on. Every
// caller is answered only after the commit, so no redemption is reported
// before it is durable, and a failed commit fails every member of the batch
// with nothing stored. The single writer then pays one BEGIN IMMEDIATE and
// one WAL commit (with its fsync, at the store's synchronous setting) per
// batch instead of per redemption.
//
// Redemptions of one share within a batch run in the order they were queued,
// each seeing the count the previous one left, so single use is judged
// exactly as with one transaction each.

// redeemResult is the outcome of one redemption of a batch.
type redeemResult struct {
	view wallet.View
	err  error
}

// redeemBatch runs the batch in one transaction and answers every member
// once it has committed, or every member with the error if it failed.
//
// The batch's statements run without a deadline: on a local file, what can
// wait is taking the write lock from another process, which the busy timeout
// bounds; and a context that can be cancelled costs the driver a watcher per
// statement.
func (s *Store) redeemBatch(batch []*redeemqueue.Request) {
	results, err := s.redeemTx(context.Background(), batch)
	for i, r := range batch {
		if err != nil {
			r.Answer(wallet.View{}, err)
			continue
		}
		r.Answer(results[i].view, results[i].err)
	}
}

// redeemSQLs are the statements of a batch. They are prepared on the writer
// connection once, by the committer, and used in each batch's transaction
// through Tx.StmtContext, which finds them prepared on that connection: the
// SQL is not compiled again for every redemption, nor for every batch.
var redeemSQLs = []string{savepointSQL, releaseSQL, rollbackToSQL, redeemCountSQL, redeemExistsSQL, redeemInsertSQL}

// prepareRedeem prepares redeemSQLs on the writer, those not prepared yet,
// and returns them. It must be called outside any transaction on the writer
// (the writer is one connection).
func (s *Store) prepareRedeem(ctx context.Context) (map[string]*sql.Stmt, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if len(s.redeemStmts) == len(redeemSQLs) {
		return s.redeemStmts, nil
	}
	stmts := make(map[string]*sql.Stmt, len(redeemSQLs))
	for q, p := range s.redeemStmts {
		stmts[q] = p
	}
	var err error
	for _, q := range redeemSQLs {
		if stmts[q] != nil {
			continue
		}
		var p *sql.Stmt
		if p, err = s.w.PrepareContext(ctx, q); err != nil {
			break
		}
		stmts[q] = p
	}
	s.redeemStmts = stmts
	return stmts, err
}

// closeRedeemer waits for the committer to finish what is queued, then
// closes its statements.
func (s *Store) closeRedeemer() {
	s.redeemer.Close()
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	for _, p := range s.redeemStmts {
		p.Close()
	}
	s.redeemStmts = nil
}

// redeemStmts are the statements of one batch transaction.
type redeemStmts struct {
	ctx      context.Context
	tx       *sql.Tx
	prepared map[string]*sql.Stmt // the store's, on the writer
	stmts    map[string]*sql.Stmt // the transaction's
}

// stmt returns the statement q in the transaction.
func (st *redeemStmts) stmt(q string) (*sql.Stmt, error) {
	if p, ok := st.stmts[q]; ok {
		return p, nil
	}
	var p *sql.Stmt
	if parent := st.prepared[q]; parent != nil {
		p = st.tx.StmtContext(st.ctx, parent)
	} else {
		var err error
		if p, err = st.tx.PrepareContext(st.ctx, q); err != nil {
			return nil, err
		}
	}
	st.stmts[q] = p
	return p, nil
}

// exec runs the statement q with args.
func (st *redeemStmts) exec(q string, args ...any) error {
	p, err := st.stmt(q)
	if err != nil {
		return err
	}
	_, err = p.ExecContext(st.ctx, args...)
	return err
}

// scan runs the query q with args and scans its first row into dest;
// sql.ErrNoRows if it has none.
func (st *redeemStmts) scan(q string, args []any, dest ...any) error {
	p, err := st.stmt(q)
	if err != nil {
		return err
	}
	return p.QueryRowContext(st.ctx, args...).Scan(dest...)
}

const (
	redeemCountSQL = `UPDATE shares SET views = views + 1
		WHERE id = ? AND revoked_at IS NULL AND views < max_views AND expires_at > ?
		RETURNING views, document_id, owner_iin`
	redeemExistsSQL = `SELECT 1 FROM shares WHERE id = ?`
	redeemInsertSQL = `INSERT INTO views
		(id, document_id, document_type, owner_iin, viewer_kind, viewer_id, channel,
		 share_id, share_seq, consent_id, shared_by, at, log_index)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	savepointSQL  = `SAVEPOINT redeem`
	releaseSQL    = `RELEASE redeem`
	rollbackToSQL = `ROLLBACK TO redeem`
)

// redeemTx runs the batch's redemptions, each under its own savepoint, in one
// write transaction, and commits. A member's own failure is in its result;
// the error is the transaction's (nothing stored). A batch of one needs no
// savepoint: if it fails, the transaction is rolled back.
func (s *Store) redeemTx(ctx context.Context, batch []*redeemqueue.Request) ([]redeemResult, error) {
	const what = "redeem share"
	prepared, err := s.prepareRedeem(ctx)
	if err != nil {
		return nil, wrapErr(err, what)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrapErr(err, what)
	}
	defer tx.Rollback() // after Commit, a no-op
	st := &redeemStmts{ctx: ctx, tx: tx, prepared: prepared, stmts: make(map[string]*sql.Stmt, len(redeemSQLs))}
	results := make([]redeemResult, len(batch))
	if len(batch) == 1 {
		v, err := st.redeemOne(batch[0].ShareID, batch[0].View)
		if err != nil {
			results[0].err = wrapErr(err, what)
			return results, nil // rolled back
		}
		results[0].view = v
	} else {
		for i, r := range batch {
			v, err, txErr := st.redeemIsolated(r.ShareID, r.View)
			if txErr != nil {
				return nil, txErr
			}
			results[i] = redeemResult{v, err}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, wrapErr(err, what)
	}
	return results, nil
}

// redeemIsolated runs one redemption under its own savepoint: if it fails,
// it is rolled back alone and its error (EEXPIRED, ENOTFOUND, EINVALID,
// ECONFLICT) returned as err. txErr is an error of the transaction itself
// (EUNAVAILABLE, a failed savepoint): the transaction is then in doubt and
// must be rolled back.
func (st *redeemStmts) redeemIsolated(shareID string, v wallet.View) (stored wallet.View, err, txErr error) {
	const what = "redeem share"
	if err := st.exec(savepointSQL); err != nil {
		return wallet.View{}, nil, wrapErr(err, what)
	}
	stored, err = st.redeemOne(shareID, v)
	if err != nil {
		err = wrapErr(err, what)
		if wallet.IsCode(err, wallet.EUNAVAILABLE) {
			return wallet.View{}, nil, err
		}
		if rerr := st.exec(rollbackToSQL); rerr != nil {
			return wallet.View{}, nil, wrapErr(rerr, what)
		}
		stored = wallet.View{}
	}
	if rerr := st.exec(releaseSQL); rerr != nil {
		return wallet.View{}, nil, wrapErr(rerr, what)
	}
	return stored, err, nil
}

// redeemOne is one redemption inside the batch transaction: the share's
// count raised if it may be, and the view stored with the slot it took.
func (st *redeemStmts) redeemOne(shareID string, v wallet.View) (wallet.View, error) {
	var (
		seq        int
		documentID string
		owner      string
	)
	err := st.scan(redeemCountSQL, []any{shareID, micros(v.At)}, &seq, &documentID, &owner)
	if errors.Is(err, sql.ErrNoRows) {
		var one int
		if err := st.scan(redeemExistsSQL, []any{shareID}, &one); err != nil {
			return wallet.View{}, err // ENOTFOUND for sql.ErrNoRows
		}
		return wallet.View{}, wallet.Errorf(wallet.EEXPIRED, "redeem share: the share is expired, revoked or used up")
	}
	if err != nil {
		return wallet.View{}, err
	}
	if v.DocumentID == "" {
		v.DocumentID = documentID
	}
	if v.OwnerIIN == "" {
		v.OwnerIIN = wallet.IIN(owner)
	}
	if v.DocumentID != documentID || string(v.OwnerIIN) != owner {
		return wallet.View{}, wallet.Errorf(wallet.EINVALID, "redeem share: the view does not match the share's document")
	}
	v.ShareID, v.At = shareID, fromMicros(micros(v.At))
	err = st.exec(redeemInsertSQL,
		v.ID, v.DocumentID, string(v.DocumentType), string(v.OwnerIIN), v.ViewerKind, v.ViewerID, v.Channel,
		v.ShareID, seq, v.ConsentID, string(v.SharedBy), micros(v.At), logIndex(v.LogIndex))
	if err != nil {
		return wallet.View{}, err
	}
	return v, nil
}
