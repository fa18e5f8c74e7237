package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/tlog"
)

// A log batch's transaction (historylog.AppendTx).
//
// Apply sends, in one pipelined round trip: BEGIN (READ COMMITTED, so that
// each statement sees what committed before it, whatever the server's
// default), the log's advisory lock (logLock: appenders of every process
// take turns, so the size read under it is final until the transaction
// ends), the log's size, and one statement per op of the batch's states
// (ops.go), in the states' order. Each op is one statement that either
// applies whole or changes nothing: an op the data refuses (a used-up
// share, a share or consent id that exists, a version that is not the
// next) changes nothing, without an error, and its result says why (the
// op's documented error: EEXPIRED, ECONFLICT, ENOTFOUND, EINVALID). So a
// state of one op needs no savepoint: a subtransaction per state would
// also overflow PostgreSQL's cache of 64 subtransactions per transaction
// in large batches.
//
// A statement that fails on its own data (SQLSTATE class 22 or 23: a
// redemption whose view id is taken, a value a column refuses) aborts the
// transaction, and the server skips the rest of the pipeline: that state
// is refused with the statement's error (ECONFLICT, EINVALID, ...), the
// transaction is rolled back and Apply runs again without it, from BEGIN.
// A deadlock or a serialization failure runs it again too, at most
// maxRetries times; any other error loses the transaction (EUNAVAILABLE
// for a lost connection).
//
// UpdateConsent needs Go between its read and its write: what is queued is
// sent with its SELECT ... FOR UPDATE last; then Update runs, and the
// UPDATE is queued with what follows, so each costs one round trip more.
// Update runs again if Apply does, so it must depend only on the consent
// it is given; op.Result is set when Apply returns, if the state applied.
//
// A state of several ops (none of the services sends one today) is all or
// nothing under a savepoint: what is queued is sent first, then SAVEPOINT
// and the state's ops; the savepoint is released, or rolled back to if an
// op refused, with the next round trip, or at once if a statement failed.
// The state's error is that of its first op in order that refused. (Run
// again without it instead, such a state would cost a rerun of the whole
// batch for every refusal, as its ops applied before the one that refused
// must be undone.)
//
// Commit then stores the leaves with their records (writeLeaves) and sends
// COMMIT in one more round trip, each log table's rows in one statement. A
// redemption's view is among those records: the op only takes the share's
// count (redeemSQL), and the view is inserted once, with its leaf's index.

// appendWhat describes a log batch in errors.
const appendWhat = "append to the history log"

// maxRetries is how often Apply runs its transaction again after a
// deadlock or a serialization failure.
const maxRetries = 3

// BeginAppend returns a log batch's transaction. It takes a connection
// from the pool only when Apply runs, so it does not fail.
func (s *Store) BeginAppend(ctx context.Context) (historylog.AppendTx, error) {
	return &appendTx{s: s}, nil
}

// appendTx is one log batch's transaction. It is used by one goroutine.
type appendTx struct {
	s       *Store
	conn    *pgxpool.Conn // from Apply until the transaction ends
	applied bool          // Apply was called, or the transaction ended
	size    int64         // the log's size, read under the lock
	// redeemed are the views of the RedeemShare ops that applied, by id,
	// inserted with their leaves by Commit.
	redeemed map[string]*redeemedView
}

// Apply takes the log's lock, reads the log's size and applies the states
// (each a []wallet.Op; nil applies, anything else is refused with
// EINTERNAL) in order, each on its own. See above for how.
func (a *appendTx) Apply(ctx context.Context, states []any) (int64, []error, error) {
	if a.applied {
		return 0, nil, wallet.Errorf(wallet.EINTERNAL, "history log: Apply on a batch transaction that began or ended")
	}
	a.applied = true
	refused := make([]error, len(states))
	ops := make([][]wallet.Op, len(states))
	for i, st := range states {
		switch st := st.(type) {
		case nil:
		case []wallet.Op:
			ops[i] = st
		default:
			refused[i] = wallet.Errorf(wallet.EINTERNAL, "history log: a change of %T is not the wallet's", st)
		}
	}
	conn, err := a.s.pool.Acquire(ctx)
	if err != nil {
		return 0, nil, wrapErr(err, appendWhat)
	}
	a.conn = conn
	for retries := 0; ; {
		r := &applyRun{conn: conn.Conn(), ops: ops, skip: refused, out: make([]opError, len(states)), b: &pgx.Batch{}}
		err := r.run(ctx)
		switch {
		case err == nil && r.member == nil:
			for i, o := range r.out {
				if refused[i] == nil {
					refused[i] = o.err
				}
			}
			for _, res := range r.results {
				if refused[res.state] == nil {
					*res.dst = res.c
				}
			}
			for _, res := range r.after {
				if refused[res.state] == nil {
					res.set()
				}
			}
			for id, p := range r.redeemed {
				if refused[p.state] != nil || p.seq == 0 {
					delete(r.redeemed, id)
				}
			}
			a.size, a.redeemed = r.size, r.redeemed
			return r.size, refused, nil
		case err == nil:
			// A state's statement failed on its own data: run again
			// without that state (so at most once per state).
			refused[r.member.state] = r.member.err
		case retryable(err) && retries < maxRetries:
			retries++
		default:
			a.end()
			return 0, nil, wrapErr(err, appendWhat)
		}
		if err := a.rollback(ctx); err != nil {
			a.end()
			return 0, nil, wrapErr(err, appendWhat)
		}
	}
}

// retryable reports whether err is a deadlock or a serialization failure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// memberError reports whether a statement's error belongs to the op that
// sent it (its data: a taken id, a value the table refuses) rather than to
// the transaction.
func memberError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return false
	}
	class := pe.Code[:2]
	return class == "22" || class == "23"
}

// rollback ends the transaction on the connection, if one is open, and
// keeps the connection.
func (a *appendTx) rollback(ctx context.Context) error {
	if a.conn.Conn().PgConn().TxStatus() == 'I' {
		return nil
	}
	_, err := a.conn.Exec(ctx, `ROLLBACK`)
	return err
}

// end rolls back the transaction if one is open and gives the connection
// back to the pool (which destroys it if it is still in a transaction or
// broken). After end the transaction is over; end again does nothing.
func (a *appendTx) end() {
	a.applied = true
	if a.conn == nil {
		return
	}
	c := a.conn.Conn()
	if !c.IsClosed() && !c.PgConn().IsBusy() && c.PgConn().TxStatus() != 'I' {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.Exec(ctx, `ROLLBACK`)
		cancel()
	}
	a.conn.Release()
	a.conn = nil
}

// open returns an error unless Apply has opened the transaction and it
// has not ended.
func (a *appendTx) open() error {
	if a.conn == nil {
		return wallet.Errorf(wallet.EINTERNAL, "history log: no open batch transaction")
	}
	return nil
}

// ReadHashes reads stored hashes in the transaction. ENOTFOUND if one is
// missing.
func (a *appendTx) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	if err := a.open(); err != nil {
		return nil, err
	}
	return readHashes(ctx, a.conn, indexes)
}

// SubjectHeads reads the chains' heads in the transaction.
func (a *appendTx) SubjectHeads(ctx context.Context, pseudonyms []string) (map[string]historylog.Head, error) {
	if err := a.open(); err != nil {
		return nil, err
	}
	return subjectHeads(ctx, a.conn, pseudonyms)
}

// Commit stores the leaves with their records and the checkpoint, and
// commits, in one round trip (see writeLeaves); with no leaf it only
// commits. On any error the transaction is rolled back and the connection
// released.
func (a *appendTx) Commit(ctx context.Context, firstIndex int64, leaves []historylog.StoredLeaf, hashes []tlog.Hash, cp historylog.StoredCheckpoint) error {
	if err := a.open(); err != nil {
		return err
	}
	if err := a.commit(ctx, firstIndex, leaves, hashes, cp); err != nil {
		a.end()
		return wrapErr(err, appendWhat)
	}
	a.conn.Release()
	a.conn = nil
	return nil
}

func (a *appendTx) commit(ctx context.Context, firstIndex int64, leaves []historylog.StoredLeaf, hashes []tlog.Hash, cp historylog.StoredCheckpoint) error {
	if len(leaves) == 0 {
		tag, err := a.conn.Exec(ctx, `COMMIT`)
		if err != nil {
			return err
		}
		if tag.String() != "COMMIT" {
			return wallet.Errorf(wallet.EUNAVAILABLE, "history log: the transaction did not commit (%s)", tag)
		}
		return nil
	}
	if err := historylog.CheckBatch(firstIndex, leaves, hashes, cp); err != nil {
		return err
	}
	if firstIndex != a.size {
		return wallet.Errorf(wallet.ECONFLICT, "history log: the log has %d leaves, the batch starts at %d", a.size, firstIndex)
	}
	return writeLeaves(ctx, a.conn.Conn(), firstIndex, leaves, hashes, cp, a.redeemed)
}

// Rollback ends the transaction without storing anything and releases the
// connection; after Commit, and a second time, it does nothing.
func (a *appendTx) Rollback() { a.end() }

// applyRun is one run of Apply's transaction, from BEGIN.
type applyRun struct {
	conn *pgx.Conn
	ops  [][]wallet.Op
	skip []error // states refused before the run: not run

	b  *pgx.Batch // statements queued, not sent yet
	hs []reader   // how to read each queued statement's result

	size    int64
	out     []opError       // each state's refusal in this run
	member  *opError        // the state whose statement failed on its own data
	results []consentResult // UpdateConsent results, set if their state applies
	after   []stateResult   // other ops' results (UpdateCase), set if their state applies
	// redeemed are the views of the RedeemShare ops queued, by id (seq 0
	// until the op applied).
	redeemed map[string]*redeemedView
}

// stateResult sets an op's Result once its state applied.
type stateResult struct {
	state int
	set   func()
}

// opError is the error of one op: state and op are its indexes.
type opError struct {
	state, op int
	err       error
}

// consentResult is the consent an UpdateConsent op stored, for its Result.
type consentResult struct {
	state int
	dst   *wallet.Consent
	c     wallet.Consent
}

// reader reads one queued statement's result. state and op are the op's
// indexes; -1 for the transaction's own statements, whose errors are the
// transaction's. read returns the op's refusal, or the statement's error.
type reader struct {
	state, op int
	read      func(br pgx.BatchResults) (refusal, err error)
}

// run opens the transaction and applies the states. On return, with no
// error, either member is set (the transaction is aborted) or every state
// ran, its refusal in out, and nothing is queued.
func (r *applyRun) run(ctx context.Context) error {
	r.control(`BEGIN ISOLATION LEVEL READ COMMITTED`)
	r.control(logLock)
	r.queue(-1, -1, `SELECT coalesce(max(idx) + 1, 0) FROM log_leaves`, nil, func(br pgx.BatchResults) (error, error) {
		return nil, br.QueryRow().Scan(&r.size)
	})
	for i, ops := range r.ops {
		if r.skip[i] != nil || len(ops) == 0 {
			continue
		}
		var err error
		if len(ops) == 1 {
			err = r.op(ctx, i, 0, ops[0])
		} else {
			err = r.isolated(ctx, i, ops)
		}
		if err != nil || r.member != nil {
			return err
		}
	}
	return r.flush(ctx)
}

// queue queues a statement of op (state, op) and how to read its result.
func (r *applyRun) queue(state, op int, sql string, args []any, read func(pgx.BatchResults) (error, error)) {
	r.b.Queue(sql, args...)
	r.hs = append(r.hs, reader{state: state, op: op, read: read})
}

// control queues a statement of the transaction itself.
func (r *applyRun) control(sql string) {
	r.queue(-1, -1, sql, nil, func(br pgx.BatchResults) (error, error) {
		_, err := br.Exec()
		return nil, err
	})
}

// refuse records the refusal of op (state, op); a state keeps the refusal
// of its first op in order.
func (r *applyRun) refuse(state, op int, err error) {
	if o := &r.out[state]; o.err == nil || op < o.op {
		*o = opError{state: state, op: op, err: err}
	}
}

// refused reports whether the state was refused in this run.
func (r *applyRun) refused(state int) bool { return r.out[state].err != nil }

// flush sends what is queued, in one round trip, and reads the results:
// refusals go to out; a statement that failed on its own data sets member
// (and the server skipped the rest); any other error is returned.
func (r *applyRun) flush(ctx context.Context) error {
	if len(r.hs) == 0 {
		return nil
	}
	b, hs := r.b, r.hs
	r.b, r.hs = &pgx.Batch{}, nil
	br := r.conn.SendBatch(ctx, b)
	for _, h := range hs {
		refusal, err := h.read(br)
		if err != nil {
			br.Close()
			if h.state >= 0 && memberError(err) {
				r.member = &opError{state: h.state, op: h.op, err: wrapErr(err, r.ops[h.state][h.op].What())}
				return nil
			}
			return err
		}
		if refusal != nil {
			r.refuse(h.state, h.op, refusal)
		}
	}
	return br.Close()
}

// isolated applies the ops of state i, more than one, under a savepoint.
func (r *applyRun) isolated(ctx context.Context, i int, ops []wallet.Op) error {
	// Send what is queued, so that a statement of this state that fails
	// is known to be this state's, and the rest of the pipeline is not
	// lost with it.
	if err := r.flush(ctx); err != nil || r.member != nil {
		return err
	}
	r.control(`SAVEPOINT change`)
	for k, op := range ops {
		if r.refused(i) || r.member != nil {
			break
		}
		if err := r.op(ctx, i, k, op); err != nil {
			return err
		}
	}
	if r.member == nil {
		if err := r.flush(ctx); err != nil {
			return err
		}
	}
	if m := r.member; m != nil {
		// The transaction is aborted: roll back to the savepoint now (a
		// pipeline could not even prepare its statements).
		r.member = nil
		r.refuse(i, m.op, m.err)
		_, err := r.conn.Exec(ctx, `ROLLBACK TO SAVEPOINT change; RELEASE SAVEPOINT change`)
		return err
	}
	if r.refused(i) {
		r.control(`ROLLBACK TO SAVEPOINT change`)
	}
	r.control(`RELEASE SAVEPOINT change`)
	return nil
}
