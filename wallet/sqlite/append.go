package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/tlog"
)

// The history log's tables (migration 00002) live beside the wallet's; the
// Store is also the log's store, and the only writer of the tables whose
// changes have history (shares, consents, views, events, documents), which
// it writes only through the log's batches (wallet.Op, applied by
// appendTx.Apply).
var _ historylog.LogStore = (*Store)(nil)

// BeginAppend starts a log batch's transaction on the writer connection
// (BEGIN IMMEDIATE: SQLite's write lock, which is also the log's append
// lock, across processes). EUNAVAILABLE.
func (s *Store) BeginAppend(ctx context.Context) (historylog.AppendTx, error) {
	// Prepared before the transaction takes the writer connection.
	if err := s.prepareHot(ctx); err != nil {
		return nil, wrapErr(err, "append to the history log")
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrapErr(err, "append to the history log")
	}
	return &appendTx{s: s, tx: tx}, nil
}

// appendTx is one log batch's transaction.
type appendTx struct {
	s  *Store
	tx *sql.Tx
	// size is the log's size as Apply read it in tx, if sized. Nothing in
	// the transaction appends leaves before Commit, which holds the batch
	// to it.
	size  int64
	sized bool
}

const appendWhat = "append to the history log"

// statements returns the context of a batch's statements: ctx's values
// without its cancellation, or ctx's error if it has ended. The
// transaction holds SQLite's write lock from its BEGIN IMMEDIATE on
// (BeginAppend, which waits for it under ctx), so no statement of it waits
// for another connection; ctx still bounds the batch, as database/sql rolls
// the transaction back when ctx ends and every step checks ctx first
// (settled). A context without a Done channel spares the driver a watcher
// goroutine, a channel and a closure per statement.
func statements(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}

// settled translates an error of the transaction. A statement of a
// transaction that database/sql rolled back because ctx ended fails with
// sql.ErrTxDone: that is ctx's error (EUNAVAILABLE), as it was when the
// statement itself watched ctx.
func settled(ctx context.Context, err error) error {
	if errors.Is(err, sql.ErrTxDone) && ctx.Err() != nil {
		err = ctx.Err()
	}
	return wrapErr(err, appendWhat)
}

// Apply applies each state (a []wallet.Op) under its own savepoint, rolled
// back alone when one of its ops fails, and returns the log's size.
func (a *appendTx) Apply(ctx context.Context, states []any) (int64, []error, error) {
	sctx, err := statements(ctx)
	if err != nil {
		return 0, nil, settled(ctx, err)
	}
	var size int64
	if err := a.tx.QueryRowContext(sctx, `SELECT coalesce(max(idx) + 1, 0) FROM log_leaves`).Scan(&size); err != nil {
		return 0, nil, settled(ctx, err)
	}
	a.size, a.sized = size, true
	refused := make([]error, len(states))
	for i, st := range states {
		if st == nil {
			continue
		}
		ops, ok := st.([]wallet.Op)
		if !ok {
			refused[i] = wallet.Errorf(wallet.EINTERNAL, "history log: a change of %T is not the wallet's", st)
			continue
		}
		err, txErr := a.applyIsolated(sctx, ops)
		if txErr != nil {
			return 0, nil, settled(ctx, txErr)
		}
		refused[i] = err
	}
	return size, refused, nil
}

// applyIsolated applies ops under a savepoint. err is the ops' refusal
// (everything they did is rolled back); txErr an error of the transaction
// itself, which is then lost.
func (a *appendTx) applyIsolated(ctx context.Context, ops []wallet.Op) (err, txErr error) {
	if _, err := a.tx.ExecContext(ctx, `SAVEPOINT change`); err != nil {
		return nil, wrapErr(err, appendWhat)
	}
	for _, op := range ops {
		if err = a.apply(ctx, op); err != nil {
			break
		}
	}
	if err != nil {
		what := "change"
		if len(ops) > 0 {
			what = ops[0].What()
		}
		err = wrapErr(err, what)
		if wallet.IsCode(err, wallet.EUNAVAILABLE) {
			return nil, err
		}
		if _, rerr := a.tx.ExecContext(ctx, `ROLLBACK TO change`); rerr != nil {
			return nil, wrapErr(rerr, appendWhat)
		}
	}
	if _, rerr := a.tx.ExecContext(ctx, `RELEASE change`); rerr != nil {
		return nil, wrapErr(rerr, appendWhat)
	}
	return err, nil
}

func (a *appendTx) apply(ctx context.Context, op wallet.Op) error {
	switch op := op.(type) {
	case wallet.CreateShare:
		return a.createShare(ctx, op.Share)
	case wallet.RevokeShare:
		return a.revokeShare(ctx, op)
	case wallet.RedeemShare:
		return a.redeemShare(ctx, op.ShareID, op.View)
	case wallet.CreateConsent:
		return a.createConsent(ctx, op.Consent)
	case wallet.UpdateConsent:
		return a.updateConsent(ctx, op)
	case wallet.AppendVersion:
		return a.appendVersion(ctx, op.Document, op.Version)
	case wallet.QueueMessage:
		return a.queueMessage(ctx, op.Message)
	case wallet.SaveIdempotency:
		return a.saveIdempotency(ctx, op)
	case wallet.CreateDuplicate:
		return a.createDuplicate(ctx, op.Duplicate)
	case wallet.CertifyDuplicate:
		return a.certifyDuplicate(ctx, op)
	case wallet.PurgeDuplicate:
		return a.purgeDuplicate(ctx, op)
	case wallet.CreateRegistryRecord:
		return a.createRegistryRecord(ctx, op.Record)
	case wallet.AppendRegistryVersion:
		return a.appendRegistryVersion(ctx, op.Version)
	case wallet.SignRegistryVersion:
		return a.signRegistryVersion(ctx, op.Version)
	case wallet.CreateExtract:
		return a.createExtract(ctx, op.Extract)
	case wallet.CreateCase:
		return a.createCase(ctx, op.Case)
	case wallet.UpdateCase:
		return a.updateCase(ctx, op)
	case wallet.RecordExchange:
		return a.recordExchange(ctx, op.Message)
	}
	return wallet.Errorf(wallet.EINTERNAL, "history log: unknown op %T", op)
}

// ReadHashes reads stored hashes in the transaction. ENOTFOUND if one is missing.
func (a *appendTx) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	return read(ctx, func(sctx context.Context) ([]tlog.Hash, error) { return readHashes(sctx, a.tx, indexes) })
}

// SubjectHeads reads the chains' heads in the transaction.
func (a *appendTx) SubjectHeads(ctx context.Context, pseudonyms []string) (map[string]historylog.Head, error) {
	return read(ctx, func(sctx context.Context) (map[string]historylog.Head, error) {
		return subjectHeads(sctx, a.tx, pseudonyms)
	})
}

// read runs a read of the batch with its statements' context
// (statements), its error settled.
func read[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	var zero T
	sctx, err := statements(ctx)
	if err != nil {
		return zero, settled(ctx, err)
	}
	v, err := f(sctx)
	if err != nil {
		return zero, settled(ctx, err)
	}
	return v, nil
}

// Commit writes the leaves with their records and the checkpoint, and
// commits.
func (a *appendTx) Commit(ctx context.Context, firstIndex int64, leaves []historylog.StoredLeaf, hashes []tlog.Hash, cp historylog.StoredCheckpoint) error {
	if len(leaves) > 0 {
		if err := historylog.CheckBatch(firstIndex, leaves, hashes, cp); err != nil {
			return err
		}
		sctx, err := statements(ctx)
		if err != nil {
			return settled(ctx, err)
		}
		if err := a.checkLogSize(sctx, firstIndex); err != nil {
			return settled(ctx, err)
		}
		if err := writeLeaves(sctx, a.tx, firstIndex, leaves, hashes, cp); err != nil {
			return settled(ctx, err)
		}
	}
	if err := a.tx.Commit(); err != nil {
		return settled(ctx, err)
	}
	return nil
}

// Rollback ends the transaction; after Commit it does nothing.
func (a *appendTx) Rollback() { _ = a.tx.Rollback() }

// checkLogSize returns ECONFLICT unless the log in the transaction has
// firstIndex leaves: as Apply read it, or read now if Apply was not called.
func (a *appendTx) checkLogSize(ctx context.Context, firstIndex int64) error {
	size := a.size
	if !a.sized {
		if err := a.tx.QueryRowContext(ctx, `SELECT coalesce(max(idx) + 1, 0) FROM log_leaves`).Scan(&size); err != nil {
			return err
		}
	}
	if size != firstIndex {
		return wallet.Errorf(wallet.ECONFLICT, "history log: the log has %d leaves, the batch starts at %d", size, firstIndex)
	}
	return nil
}

// writeRecord writes what a leaf stands for, with the leaf's index.
func writeRecord(ctx context.Context, tx *sql.Tx, index int64, record any) error {
	switch r := record.(type) {
	case nil:
		return nil
	case wallet.Event:
		r.LogIndex = index
		return insertEvent(ctx, tx, r)
	case wallet.View:
		r.LogIndex = index
		return insertView(ctx, tx, r, 0)
	case wallet.RedeemedView:
		return setLogIndex(ctx, tx, `UPDATE views SET log_index = ? WHERE id = ? AND log_index IS NULL`, index, r.ID)
	case wallet.NewVersion:
		return setLogIndex(ctx, tx, `UPDATE document_versions SET log_index = ? WHERE document_id = ? AND version = ? AND log_index IS NULL`, index, r.DocumentID, r.Version)
	}
	return wallet.Errorf(wallet.EINTERNAL, "history log: unknown record %T", record)
}

// setLogIndex runs an update that must mark exactly one row.
func setLogIndex(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return wallet.Errorf(wallet.EINTERNAL, "history log: %d rows for one leaf (%v)", n, args[1:])
	}
	return nil
}

func (a *appendTx) createShare(ctx context.Context, sh wallet.Share) error {
	if err := requireID(sh.ID, "create share"); err != nil {
		return err
	}
	_, err := a.tx.ExecContext(ctx, `INSERT INTO shares
		(id, document_id, owner_iin, created_by, max_views, views, created_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sh.ID, sh.DocumentID, string(sh.OwnerIIN), string(sh.CreatedBy), sh.MaxViews, sh.Views,
		micros(sh.CreatedAt), micros(sh.ExpiresAt), nullMicros(sh.RevokedAt))
	return err
}

func (a *appendTx) revokeShare(ctx context.Context, op wallet.RevokeShare) error {
	res, err := a.tx.ExecContext(ctx, `UPDATE shares SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, micros(op.At), op.ID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 1 {
		return nil
	}
	var one int
	if err := a.tx.QueryRowContext(ctx, `SELECT 1 FROM shares WHERE id = ?`, op.ID).Scan(&one); err != nil {
		return err // ENOTFOUND for sql.ErrNoRows
	}
	return wallet.Errorf(wallet.ECONFLICT, "revoke share: the share was revoked already")
}

const (
	redeemCountSQL = `UPDATE shares SET views = views + 1
		WHERE id = ? AND revoked_at IS NULL AND views < max_views AND expires_at > ?
		RETURNING views, document_id, owner_iin`
	redeemExistsSQL = `SELECT 1 FROM shares WHERE id = ?`
)

// redeemShare counts one more view of the share, if it may be, and stores
// the view with the use number it took (unique per share).
func (a *appendTx) redeemShare(ctx context.Context, shareID string, v wallet.View) error {
	if err := requireID(v.ID, "redeem share"); err != nil {
		return err
	}
	var (
		seq        int
		documentID string
		owner      string
	)
	err := a.s.queryRow(ctx, a.tx, redeemCountSQL, []any{shareID, micros(v.At)}, &seq, &documentID, &owner)
	if errors.Is(err, sql.ErrNoRows) {
		var one int
		if err := a.s.queryRow(ctx, a.tx, redeemExistsSQL, []any{shareID}, &one); err != nil {
			return err // ENOTFOUND for sql.ErrNoRows
		}
		return wallet.Errorf(wallet.EEXPIRED, "redeem share: the share is expired, revoked or used up")
	}
	if err != nil {
		return err
	}
	if v.DocumentID == "" {
		v.DocumentID = documentID
	}
	if v.OwnerIIN == "" {
		v.OwnerIIN = wallet.IIN(owner)
	}
	if v.DocumentID != documentID || string(v.OwnerIIN) != owner {
		return wallet.Errorf(wallet.EINVALID, "redeem share: the view does not match the share's document")
	}
	v.ShareID, v.LogIndex = shareID, -1
	return insertView(ctx, a.tx, v, seq)
}

func (a *appendTx) createConsent(ctx context.Context, c wallet.Consent) error {
	if err := requireID(c.ID, "create consent"); err != nil {
		return err
	}
	_, err := a.tx.ExecContext(ctx, `INSERT INTO consents
		(id, client_id, subject_iin, phone, document_types, purpose, method, status, valid_for_ns,
		 created_at, request_expires_at, decided_at, grant_expires_at, revoked_at, revision)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.ClientID, string(c.SubjectIIN), c.Phone, encodeTypes(c.DocumentTypes), c.Purpose, c.Method,
		c.Status, int64(c.ValidFor), micros(c.CreatedAt), micros(c.RequestExpiresAt),
		nullMicros(c.DecidedAt), nullMicros(c.GrantExpiresAt), nullMicros(c.RevokedAt), c.Revision)
	return err
}

// updateConsent reads the consent in the transaction (which holds the
// database's write lock, so nobody changes it meanwhile), updates it and
// stores the result.
func (a *appendTx) updateConsent(ctx context.Context, op wallet.UpdateConsent) error {
	old, err := scanConsent(a.tx.QueryRowContext(ctx, `SELECT `+consentColumns+` WHERE id = ?`, op.ID))
	if err != nil {
		return err // ENOTFOUND for sql.ErrNoRows
	}
	c, err := op.Update(old)
	if err != nil {
		return err
	}
	c.ID, c.Revision = old.ID, old.Revision+1
	_, err = a.tx.ExecContext(ctx, `UPDATE consents SET
		client_id = ?, subject_iin = ?, phone = ?, document_types = ?, purpose = ?, method = ?, status = ?,
		valid_for_ns = ?, created_at = ?, request_expires_at = ?, decided_at = ?, grant_expires_at = ?,
		revoked_at = ?, revision = ?
		WHERE id = ?`,
		c.ClientID, string(c.SubjectIIN), c.Phone, encodeTypes(c.DocumentTypes), c.Purpose, c.Method, c.Status,
		int64(c.ValidFor), micros(c.CreatedAt), micros(c.RequestExpiresAt), nullMicros(c.DecidedAt),
		nullMicros(c.GrantExpiresAt), nullMicros(c.RevokedAt), c.Revision, op.ID)
	if err != nil {
		return err
	}
	if op.Result != nil {
		*op.Result = normalizeConsent(c)
	}
	return nil
}

func (a *appendTx) appendVersion(ctx context.Context, d wallet.StoredDocument, v wallet.Version) error {
	const what = "append document version"
	if err := requireID(d.ID, what); err != nil {
		return err
	}
	if v.Version < 1 {
		return wallet.Errorf(wallet.EINVALID, "%s: version %d is below 1", what, v.Version)
	}
	if v.DocumentID != "" && v.DocumentID != d.ID {
		return wallet.Errorf(wallet.EINVALID, "%s: version of document %q given for %q", what, v.DocumentID, d.ID)
	}
	tx := a.tx
	if v.Version == 1 {
		fetched := d.FetchedAt
		if fetched.IsZero() {
			fetched = v.CreatedAt
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO documents (id, subject_iin, type, source, fetched_at, latest_version)
			VALUES (?, ?, ?, ?, ?, 1)`, d.ID, string(d.SubjectIIN), string(d.Type), d.Source, micros(fetched))
		if err != nil {
			return err // ECONFLICT if the document exists
		}
	} else {
		var fetched any
		if !d.FetchedAt.IsZero() {
			fetched = micros(d.FetchedAt)
		}
		res, err := tx.ExecContext(ctx, `UPDATE documents SET latest_version = ?, fetched_at = COALESCE(?, fetched_at)
			WHERE id = ? AND subject_iin = ? AND latest_version = ?`,
			v.Version, fetched, d.ID, string(d.SubjectIIN), v.Version-1)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return wallet.Errorf(wallet.ECONFLICT, "%s: version %d is not the next version of the subject's document", what, v.Version)
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO document_versions (document_id, version, content, jws, prev_hash, hash, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, d.ID, v.Version, nonNilBytes(v.Content), v.JWS, v.PrevHash, v.Hash, micros(v.CreatedAt))
	return err
}

// hotSQL are the statements of the hot paths, prepared on the writer
// once (prepareHot) and bound to each batch's transaction.
var hotSQL = []string{redeemCountSQL, redeemExistsSQL}

// prepareHot prepares hotSQL on the writer, once per Store. It must not be
// called while a transaction holds the writer (its only connection).
func (s *Store) prepareHot(ctx context.Context) error {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if len(s.stmts) == len(hotSQL) {
		return nil
	}
	if s.stmts == nil {
		s.stmts = make(map[string]*sql.Stmt, len(hotSQL))
	}
	for _, q := range hotSQL {
		if s.stmts[q] != nil {
			continue
		}
		p, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		s.stmts[q] = p
	}
	return nil
}

// stmt returns query bound to tx: prepared on the writer if it is one of
// hotSQL, else prepared in tx.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	p := s.stmts[query]
	s.stmtMu.Unlock()
	if p == nil {
		return tx.PrepareContext(ctx, query)
	}
	return tx.StmtContext(ctx, p), nil
}

// queryRow runs a prepared query in tx.
func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, query string, args []any, dest ...any) error {
	p, err := s.stmt(ctx, tx, query)
	if err != nil {
		return err
	}
	return p.QueryRowContext(ctx, args...).Scan(dest...)
}
