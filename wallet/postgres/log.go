package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
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
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(idx) + 1, 0) FROM log_leaves`).Scan(&n)
	return n, wrapErr(err, "history log size")
}

// logLock takes the transaction-level advisory lock of the history log of
// the current schema: one appender at a time, across processes. It needs no
// privilege, so the restricted service role can take it.
const logLock = `SELECT pg_advisory_xact_lock(hashtextextended('qujat history log ' || current_schema(), 0))`

// AppendBatch stores a batch of leaves, their hashes, payloads and parties
// and its checkpoint in one transaction, under the log's advisory lock: all
// or nothing. ECONFLICT if firstIndex is not the current size; EINVALID if
// the arguments do not fit (historylog.CheckBatch); EUNAVAILABLE.
func (s *Store) AppendBatch(ctx context.Context, firstIndex int64, leaves []historylog.StoredLeaf, hashes []tlog.Hash, cp historylog.StoredCheckpoint) error {
	const what = "append to the history log"
	if err := historylog.CheckBatch(firstIndex, leaves, hashes, cp); err != nil {
		return err
	}
	return s.write(ctx, what, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, logLock); err != nil {
			return err
		}
		var size int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(idx) + 1, 0) FROM log_leaves`).Scan(&size); err != nil {
			return err
		}
		if size != firstIndex {
			return wallet.Errorf(wallet.ECONFLICT, "history log: the log has %d leaves, the batch starts at %d", size, firstIndex)
		}
		return writeLeaves(ctx, tx, firstIndex, leaves, hashes, cp, false)
	})
}

// pipeliner is what writeLeaves needs of a transaction or a connection.
type pipeliner interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, rows pgx.CopyFromSource) (int64, error)
}

// writeLeaves inserts a checked batch (historylog.CheckBatch) in the
// transaction open on db; with commit, it sends COMMIT with the last
// statements and returns an error unless the transaction committed.
func writeLeaves(ctx context.Context, db pipeliner, firstIndex int64, leaves []historylog.StoredLeaf, hashes []tlog.Hash, cp historylog.StoredCheckpoint, commit bool) error {
	var leafRows, partyRows, payloadRows, hashRows [][]any
	for _, l := range leaves {
		leafRows = append(leafRows, []any{l.Index, l.Data, l.Hash[:]})
		for _, p := range l.Parties {
			partyRows = append(partyRows, []any{p.Subject, p.Seq, l.Index})
		}
		if l.Payload != nil {
			payloadRows = append(payloadRows, []any{l.Index, ts(l.At), l.Payload})
		}
	}
	base := tlog.StoredHashIndex(0, firstIndex)
	for i, h := range hashes {
		hashRows = append(hashRows, []any{base + int64(i), h[:]})
	}
	b := &pgx.Batch{}
	// Small batches go faster as one pipelined round trip of INSERTs;
	// COPY pays off for large ones.
	if len(leaves) < 16 {
		for _, r := range leafRows {
			b.Queue(`INSERT INTO log_leaves (idx, leaf, leaf_hash) VALUES ($1, $2, $3)`, r...)
		}
		for _, r := range partyRows {
			b.Queue(`INSERT INTO log_parties (subject, seq, leaf_index) VALUES ($1, $2, $3)`, r...)
		}
		for _, r := range payloadRows {
			b.Queue(`INSERT INTO log_payloads (leaf_index, at, payload) VALUES ($1, $2, $3)`, r...)
		}
		for _, r := range hashRows {
			b.Queue(`INSERT INTO log_hashes (id, hash) VALUES ($1, $2)`, r...)
		}
	} else {
		copies := []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"log_leaves", []string{"idx", "leaf", "leaf_hash"}, leafRows},
			{"log_parties", []string{"subject", "seq", "leaf_index"}, partyRows},
			{"log_payloads", []string{"leaf_index", "at", "payload"}, payloadRows},
			{"log_hashes", []string{"id", "hash"}, hashRows},
		}
		for _, c := range copies {
			if len(c.rows) == 0 {
				continue
			}
			if _, err := db.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
				return err
			}
		}
	}
	for _, l := range leaves {
		if l.RedeemedView != "" {
			b.Queue(`UPDATE views SET log_index = $1 WHERE id = $2`, l.Index, l.RedeemedView)
		}
		if v := l.NewView; v != nil {
			w := *v
			w.LogIndex = l.Index
			b.Queue(insertViewSQL, viewArgs(w, nil)...)
		}
		if e := l.NewEvent; e != nil {
			b.Queue(insertEventSQL, e.ID, e.Kind, string(e.SubjectIIN), e.ActorKind, e.ActorID, e.ObjectID,
				eventDetails(e.Details), ts(e.At), l.Index)
		}
	}
	b.Queue(`INSERT INTO log_checkpoints (size, root, note) VALUES ($1, $2, $3)`, cp.Size, cp.Root[:], string(cp.Note))
	if commit {
		b.Queue(`COMMIT`)
	}
	br := db.SendBatch(ctx, b)
	n := b.Len()
	for i := 0; i < n; i++ {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return err
		}
		if commit && i == n-1 && tag.String() != "COMMIT" {
			br.Close()
			return wallet.Errorf(wallet.EUNAVAILABLE, "history log: the transaction did not commit (%s)", tag)
		}
	}
	return br.Close()
}

// Leaves returns up to limit leaves from index from on, with their
// payloads (nil if erased). EUNAVAILABLE.
func (s *Store) Leaves(ctx context.Context, from int64, limit int) ([]historylog.StoredLeaf, error) {
	rows, err := s.pool.Query(ctx, `SELECT l.idx, l.leaf, l.leaf_hash, p.payload, p.leaf_index IS NOT NULL
		FROM log_leaves l LEFT JOIN log_payloads p ON p.leaf_index = l.idx
		WHERE l.idx >= $1 ORDER BY l.idx LIMIT $2`, from, limit)
	return collect(rows, err, "read history log leaves", func(row pgx.Row) (historylog.StoredLeaf, error) {
		var (
			l       historylog.StoredLeaf
			hash    []byte
			payload []byte
			kept    bool
		)
		if err := row.Scan(&l.Index, &l.Data, &hash, &payload, &kept); err != nil {
			return l, err
		}
		copy(l.Hash[:], hash)
		if kept {
			l.Payload = append([]byte{}, payload...) // nil means erased
		}
		return l, nil
	})
}

// ReadHashes returns the stored hashes with those indexes, in order.
// ENOTFOUND if one is missing; EUNAVAILABLE.
func (s *Store) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	const what = "read history log hashes"
	if len(indexes) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id, hash FROM log_hashes WHERE id = ANY($1)`, indexes)
	type idHash struct {
		id   int64
		hash tlog.Hash
	}
	got, err := collect(rows, err, what, func(row pgx.Row) (idHash, error) {
		var (
			r idHash
			h []byte
		)
		err := row.Scan(&r.id, &h)
		copy(r.hash[:], h)
		return r, err
	})
	if err != nil {
		return nil, err
	}
	found := make(map[int64]tlog.Hash, len(got))
	for _, r := range got {
		found[r.id] = r.hash
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

func scanCheckpoint(row pgx.Row) (historylog.StoredCheckpoint, error) {
	var (
		c    historylog.StoredCheckpoint
		root []byte
		note string
	)
	err := row.Scan(&c.Size, &root, &note)
	copy(c.Root[:], root)
	c.Note = []byte(note)
	return c, err
}

// LatestCheckpoint returns the checkpoint of the largest size. ENOTFOUND
// if there is none; EUNAVAILABLE.
func (s *Store) LatestCheckpoint(ctx context.Context) (historylog.StoredCheckpoint, error) {
	c, err := scanCheckpoint(s.pool.QueryRow(ctx, `SELECT size, root, note FROM log_checkpoints ORDER BY size DESC LIMIT 1`))
	return c, wrapErr(err, "read the history log checkpoint")
}

// Checkpoints returns up to limit checkpoints of size ≥ fromSize, smallest
// first. EUNAVAILABLE.
func (s *Store) Checkpoints(ctx context.Context, fromSize int64, limit int) ([]historylog.StoredCheckpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT size, root, note FROM log_checkpoints WHERE size >= $1 ORDER BY size LIMIT $2`, fromSize, limit)
	return collect(rows, err, "read history log checkpoints", scanCheckpoint)
}

// SubjectHeads returns the latest event of each pseudonym that has one.
// EUNAVAILABLE.
func (s *Store) SubjectHeads(ctx context.Context, pseudonyms []string) (map[string]historylog.Head, error) {
	out := make(map[string]historylog.Head, len(pseudonyms))
	if len(pseudonyms) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT s.subject, p.seq, p.leaf_index
		FROM unnest($1::text[]) AS s (subject),
		LATERAL (SELECT seq, leaf_index FROM log_parties
			WHERE subject = s.subject ORDER BY seq DESC LIMIT 1) AS p`, pseudonyms)
	type head struct {
		subject string
		h       historylog.Head
	}
	got, err := collect(rows, err, "read history log chains", func(row pgx.Row) (head, error) {
		var r head
		err := row.Scan(&r.subject, &r.h.Seq, &r.h.Index)
		return r, err
	})
	if err != nil {
		return nil, err
	}
	for _, r := range got {
		out[r.subject] = r.h
	}
	return out, nil
}

// ErasePayloads deletes the payloads of events before before. EUNAVAILABLE.
func (s *Store) ErasePayloads(ctx context.Context, before time.Time) (int64, error) {
	return s.exec(ctx, "erase history log payloads", `DELETE FROM log_payloads WHERE at < $1`, ts(before))
}
