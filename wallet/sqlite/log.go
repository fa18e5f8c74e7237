package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/tlog"
)

// The history log's tables (migration 00002) live beside the wallet's; the
// Store is also the log's store.
var _ historylog.LogStore = (*Store)(nil)

// LogSize returns the number of leaves: one more than the highest index.
// EUNAVAILABLE.
func (s *Store) LogSize(ctx context.Context) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(idx) + 1, 0) FROM log_leaves`).Scan(&n)
	return n, wrapErr(err, "history log size")
}

// AppendBatch stores a batch of leaves, their hashes, payloads and parties
// and its checkpoint in one IMMEDIATE transaction: all or nothing.
// ECONFLICT if firstIndex is not the current size; EINVALID if the
// arguments do not fit (historylog.CheckBatch); EUNAVAILABLE.
func (s *Store) AppendBatch(ctx context.Context, firstIndex int64, leaves []historylog.StoredLeaf, hashes []tlog.Hash, cp historylog.StoredCheckpoint) error {
	const what = "append to the history log"
	if err := historylog.CheckBatch(firstIndex, leaves, hashes, cp); err != nil {
		return err
	}
	return s.write(ctx, what, func(tx *sql.Tx) error {
		if err := checkLogSize(ctx, tx, firstIndex); err != nil {
			return err
		}
		return writeLeaves(ctx, tx, firstIndex, leaves, hashes, cp)
	})
}

// AppendBatchWithRedemptions runs a log batch's share redemptions and
// stores its leaves, hashes, payloads, parties and checkpoint in one
// IMMEDIATE transaction (see historylog.LogStore): each redemption under its
// own savepoint, rolled back alone when it fails with RedeemShare's error
// (EEXPIRED, ENOTFOUND, EINVALID, ECONFLICT); then build, then the leaves,
// then one commit. ECONFLICT (nothing run) if firstIndex is not the current
// size; EINVALID if what build returns does not fit
// (historylog.CheckBatch); build's own error; EUNAVAILABLE. On any error
// nothing is stored.
func (s *Store) AppendBatchWithRedemptions(ctx context.Context, firstIndex int64, redemptions []historylog.Redemption, build historylog.BuildFunc) ([]historylog.RedemptionResult, error) {
	const what = "append to the history log"
	for _, r := range redemptions {
		if err := requireID(r.View.ID, "redeem share"); err != nil {
			return nil, err
		}
	}
	prepared, err := s.prepareRedeem(ctx)
	if err != nil {
		return nil, wrapErr(err, what)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrapErr(err, what)
	}
	defer tx.Rollback() // after Commit, a no-op
	if err := checkLogSize(ctx, tx, firstIndex); err != nil {
		return nil, wrapErr(err, what)
	}
	st := &redeemStmts{ctx: ctx, tx: tx, prepared: prepared, stmts: make(map[string]*sql.Stmt, len(redeemSQLs))}
	outcomes := make([]historylog.RedemptionResult, len(redemptions))
	redeemed := 0
	for i, r := range redemptions {
		v, err, txErr := st.redeemIsolated(r.ShareID, r.View)
		if txErr != nil {
			return nil, txErr
		}
		outcomes[i] = historylog.RedemptionResult{View: v, Err: err}
		if err == nil {
			redeemed++
		}
	}
	leaves, hashes, cp, err := build(outcomes)
	if err != nil {
		return nil, err
	}
	if len(leaves) == 0 {
		if redeemed > 0 {
			return nil, wallet.Errorf(wallet.EINTERNAL, "history log: %d redemptions and no leaf", redeemed)
		}
		return outcomes, nil // nothing to store: rolled back
	}
	if err := historylog.CheckBatch(firstIndex, leaves, hashes, cp); err != nil {
		return nil, err
	}
	if err := writeLeaves(ctx, tx, firstIndex, leaves, hashes, cp); err != nil {
		return nil, wrapErr(err, what)
	}
	if err := tx.Commit(); err != nil {
		return nil, wrapErr(err, what)
	}
	return outcomes, nil
}

// checkLogSize returns ECONFLICT unless the log in tx has firstIndex leaves.
func checkLogSize(ctx context.Context, tx *sql.Tx, firstIndex int64) error {
	var size int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(idx) + 1, 0) FROM log_leaves`).Scan(&size); err != nil {
		return err
	}
	if size != firstIndex {
		return wallet.Errorf(wallet.ECONFLICT, "history log: the log has %d leaves, the batch starts at %d", size, firstIndex)
	}
	return nil
}

// writeLeaves inserts a checked batch (historylog.CheckBatch) in tx.
func writeLeaves(ctx context.Context, tx *sql.Tx, firstIndex int64, leaves []historylog.StoredLeaf, hashes []tlog.Hash, cp historylog.StoredCheckpoint) error {
	leafStmt, err := tx.PrepareContext(ctx, `INSERT INTO log_leaves (idx, leaf, leaf_hash) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	defer leafStmt.Close()
	partyStmt, err := tx.PrepareContext(ctx, `INSERT INTO log_parties (subject, seq, leaf_index) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	defer partyStmt.Close()
	payloadStmt, err := tx.PrepareContext(ctx, `INSERT INTO log_payloads (leaf_index, at, payload) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	defer payloadStmt.Close()
	hashStmt, err := tx.PrepareContext(ctx, `INSERT INTO log_hashes (id, hash) VALUES (?, ?)`)
	if err != nil {
		return err
	}
	defer hashStmt.Close()
	for _, l := range leaves {
		if _, err := leafStmt.ExecContext(ctx, l.Index, l.Data, l.Hash[:]); err != nil {
			return err
		}
		for _, p := range l.Parties {
			if _, err := partyStmt.ExecContext(ctx, p.Subject, p.Seq, l.Index); err != nil {
				return err
			}
		}
		if l.Payload != nil {
			if _, err := payloadStmt.ExecContext(ctx, l.Index, micros(l.At), l.Payload); err != nil {
				return err
			}
		}
		if l.RedeemedView != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE views SET log_index = ? WHERE id = ?`, l.Index, l.RedeemedView); err != nil {
				return err
			}
		}
		if v := l.NewView; v != nil {
			w := *v
			w.LogIndex = l.Index
			if err := insertView(ctx, tx, w, 0); err != nil {
				return err
			}
		}
		if e := l.NewEvent; e != nil {
			details, err := eventDetails(e.Details)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, insertEventSQL, e.ID, e.Kind, string(e.SubjectIIN), e.ActorKind,
				e.ActorID, e.ObjectID, details, micros(e.At), l.Index); err != nil {
				return err
			}
		}
	}
	base := tlog.StoredHashIndex(0, firstIndex)
	for i, h := range hashes {
		if _, err := hashStmt.ExecContext(ctx, base+int64(i), h[:]); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO log_checkpoints (size, root, note) VALUES (?, ?, ?)`,
		cp.Size, cp.Root[:], string(cp.Note))
	return err
}

// Leaves returns up to limit leaves from index from on, with their
// payloads (nil if erased). EUNAVAILABLE.
func (s *Store) Leaves(ctx context.Context, from int64, limit int) ([]historylog.StoredLeaf, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT l.idx, l.leaf, l.leaf_hash, p.payload, p.leaf_index IS NOT NULL
		FROM log_leaves l LEFT JOIN log_payloads p ON p.leaf_index = l.idx
		WHERE l.idx >= ? ORDER BY l.idx LIMIT ?`, from, limit)
	return collect(rows, err, "read history log leaves", func(sc scanner) (historylog.StoredLeaf, error) {
		var (
			l       historylog.StoredLeaf
			hash    []byte
			payload []byte
			kept    bool
		)
		if err := sc.Scan(&l.Index, &l.Data, &hash, &payload, &kept); err != nil {
			return l, err
		}
		copy(l.Hash[:], hash)
		if kept {
			// An empty BLOB scans as nil; nil means erased.
			l.Payload = append([]byte{}, payload...)
		}
		return l, nil
	})
}

// ReadHashes returns the stored hashes with those indexes, in order.
// ENOTFOUND if one is missing; EUNAVAILABLE.
func (s *Store) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	const what = "read history log hashes"
	type idHash struct {
		id   int64
		hash tlog.Hash
	}
	found := make(map[int64]tlog.Hash, len(indexes))
	// Chunks keep the statement under SQLite's limit of bound variables.
	for rest := indexes; len(rest) > 0; {
		chunk := rest[:min(len(rest), 500)]
		rest = rest[len(chunk):]
		args := make([]any, len(chunk))
		for i, x := range chunk {
			args[i] = x
		}
		rows, err := s.r.QueryContext(ctx, `SELECT id, hash FROM log_hashes WHERE id IN (?`+
			strings.Repeat(", ?", len(chunk)-1)+`)`, args...)
		got, err := collect(rows, err, what, func(sc scanner) (idHash, error) {
			var (
				r idHash
				h []byte
			)
			err := sc.Scan(&r.id, &h)
			copy(r.hash[:], h)
			return r, err
		})
		if err != nil {
			return nil, err
		}
		for _, r := range got {
			found[r.id] = r.hash
		}
	}
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := found[x]
		if !ok {
			return nil, wallet.Errorf(wallet.ENOTFOUND, "history log: no stored hash %d", x)
		}
		out[i] = h
	}
	return out, nil
}

func scanCheckpoint(sc scanner) (historylog.StoredCheckpoint, error) {
	var (
		c    historylog.StoredCheckpoint
		root []byte
		note string
	)
	err := sc.Scan(&c.Size, &root, &note)
	copy(c.Root[:], root)
	c.Note = []byte(note)
	return c, err
}

// LatestCheckpoint returns the checkpoint of the largest size. ENOTFOUND
// if there is none; EUNAVAILABLE.
func (s *Store) LatestCheckpoint(ctx context.Context) (historylog.StoredCheckpoint, error) {
	c, err := scanCheckpoint(s.r.QueryRowContext(ctx, `SELECT size, root, note FROM log_checkpoints ORDER BY size DESC LIMIT 1`))
	return c, wrapErr(err, "read the history log checkpoint")
}

// Checkpoints returns up to limit checkpoints of size ≥ fromSize, smallest
// first. EUNAVAILABLE.
func (s *Store) Checkpoints(ctx context.Context, fromSize int64, limit int) ([]historylog.StoredCheckpoint, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT size, root, note FROM log_checkpoints WHERE size >= ? ORDER BY size LIMIT ?`, fromSize, limit)
	return collect(rows, err, "read history log checkpoints", scanCheckpoint)
}

// SubjectHeads returns the latest event of each pseudonym that has one.
// EUNAVAILABLE.
func (s *Store) SubjectHeads(ctx context.Context, pseudonyms []string) (map[string]historylog.Head, error) {
	out := make(map[string]historylog.Head, len(pseudonyms))
	for _, p := range pseudonyms {
		var h historylog.Head
		err := s.r.QueryRowContext(ctx, `SELECT seq, leaf_index FROM log_parties WHERE subject = ? ORDER BY seq DESC LIMIT 1`, p).
			Scan(&h.Seq, &h.Index)
		if err == sql.ErrNoRows {
			continue
		}
		if err != nil {
			return nil, wrapErr(err, "read history log chains")
		}
		out[p] = h
	}
	return out, nil
}

// ErasePayloads deletes the payloads of events before before. EUNAVAILABLE.
func (s *Store) ErasePayloads(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, "erase history log payloads", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM log_payloads WHERE at < ?`, micros(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
