package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/tlog"
)

// The history log's tables (migration 00002) live beside the wallet's; the
// Store is also the log's store. Batches are written by BeginAppend's
// transaction (append.go).
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

// statement is one statement of a batch's round trip.
type statement struct {
	sql  string
	args []any
	fail func(error) error // translates the statement's error; nil: as it is
}

// pipeliner is what writeLeaves needs of the batch's connection.
type pipeliner interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// writeLeaves stores a checked batch (historylog.CheckBatch) in the
// transaction open on db: the leaves, their parties and payloads, the
// hashes, the checkpoint and what each leaf stands for (its Record: see
// recordRows), each table's rows as one multi-row INSERT, and sends COMMIT
// with the last statements, in one round trip, whatever the batch's size.
// It returns an error unless the transaction committed; an error before
// the COMMIT leaves the transaction aborted, nothing stored.
func writeLeaves(ctx context.Context, db pipeliner, firstIndex int64, leaves []historylog.StoredLeaf, hashes []tlog.Hash, cp historylog.StoredCheckpoint, redeemed map[string]*redeemedView) error {
	// The records first: one that cannot be written is refused before
	// anything is sent.
	var records recordRows
	for _, l := range leaves {
		if err := records.add(l.Index, l.Record, redeemed); err != nil {
			return err
		}
	}
	stmts := logRowStatements(firstIndex, leaves, hashes)
	stmts = append(stmts, records.statements()...)
	stmts = append(stmts,
		statement{sql: `INSERT INTO log_checkpoints (size, root, note) VALUES ($1, $2, $3)`, args: []any{cp.Size, cp.Root[:], string(cp.Note)}},
		statement{sql: `COMMIT`})
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(stmts))}
	for _, st := range stmts {
		b.Queue(st.sql, st.args...)
	}
	br := db.SendBatch(ctx, b)
	for i, st := range stmts {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			if st.fail != nil {
				return st.fail(err)
			}
			return err
		}
		// An error before the COMMIT made the server skip it; this is
		// its answer, ROLLBACK if the transaction had failed.
		if i == len(stmts)-1 && tag.String() != "COMMIT" {
			br.Close()
			return wallet.Errorf(wallet.EUNAVAILABLE, "history log: the transaction did not commit (%s)", tag)
		}
	}
	return br.Close()
}

// markVersionSQL sets the log index of the document version a leaf stands
// for, stored earlier in the transaction by the batch's ops. COMMIT is sent
// in the same round trip, so a statement that marks no row must fail rather
// than report it: 1 / 0 (division_by_zero) aborts the transaction unless
// exactly one row was marked.
const (
	markVersionSQL = `WITH m AS (
	UPDATE document_versions SET log_index = $1 WHERE document_id = $2 AND version = $3 AND log_index IS NULL RETURNING 1
) SELECT 1 / (count(*) = 1)::int FROM m`
)

// recordRows gathers what a batch's leaves stand for (their Records):
// events and views as columns, each table's rows sent as one multi-row
// INSERT, and the marks of new document versions as statements.
type recordRows struct {
	events eventRows
	views  viewRows
	marks  []statement
}

// add adds what the leaf at index stands for, with the leaf's index: an
// Event or a View is inserted, and so is the view a RedeemedView names, as
// its RedeemShare op took it (redeemed; EINTERNAL if no op of the batch
// did); the version a NewVersion names is marked (exactly one, or the
// statement fails: EINTERNAL). EINVALID for a record without id, EINTERNAL
// for a record of another type.
func (rr *recordRows) add(index int64, record any, redeemed map[string]*redeemedView) error {
	switch r := record.(type) {
	case nil:
		return nil
	case wallet.Event:
		if err := requireID(r.ID, "append event"); err != nil {
			return err
		}
		rr.events.add(r, index)
		return nil
	case wallet.View:
		if err := requireID(r.ID, "record view"); err != nil {
			return err
		}
		r.LogIndex = index
		rr.views.add(r, nil)
		return nil
	case wallet.RedeemedView:
		p := redeemed[r.ID]
		if p == nil {
			return wallet.Errorf(wallet.EINTERNAL, "history log: leaf %d: no redemption of this batch took view %q", index, r.ID)
		}
		v := p.view
		v.LogIndex = index
		seq := p.seq
		rr.views.add(v, &seq)
		return nil
	case wallet.NewVersion:
		what := fmt.Sprintf("version %d of document %q", r.Version, r.DocumentID)
		rr.marks = append(rr.marks, statement{sql: markVersionSQL, args: []any{index, r.DocumentID, r.Version},
			fail: func(err error) error {
				var pe *pgconn.PgError
				if errors.As(err, &pe) && pe.Code == "22012" { // division_by_zero: no row marked
					return wallet.Wrap(wallet.EINTERNAL, err, fmt.Sprintf("history log: leaf %d: no %s without a leaf", index, what))
				}
				return wrapErr(err, appendWhat)
			}})
		return nil
	}
	return wallet.Errorf(wallet.EINTERNAL, "history log: unknown record %T", record)
}

// statements returns the statements that write the gathered records.
func (rr *recordRows) statements() []statement {
	var stmts []statement
	if len(rr.events.id) > 0 {
		stmts = append(stmts, statement{sql: insertEventsSQL, args: rr.events.args(),
			fail: func(err error) error { return wrapErr(err, "append event") }})
	}
	if len(rr.views.id) > 0 {
		stmts = append(stmts, statement{sql: insertViewsSQL, args: rr.views.args(),
			fail: func(err error) error { return wrapErr(err, "record view") }})
	}
	return append(stmts, rr.marks...)
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
	return readHashes(ctx, s.pool, indexes)
}

// querier is the pool, or the connection of a batch's transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func readHashes(ctx context.Context, q querier, indexes []int64) ([]tlog.Hash, error) {
	const what = "read history log hashes"
	if len(indexes) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT id, hash FROM log_hashes WHERE id = ANY($1)`, indexes)
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
	return subjectHeads(ctx, s.pool, pseudonyms)
}

func subjectHeads(ctx context.Context, q querier, pseudonyms []string) (map[string]historylog.Head, error) {
	out := make(map[string]historylog.Head, len(pseudonyms))
	if len(pseudonyms) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT s.subject, p.seq, p.leaf_index
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

// logRowStatements returns the INSERTs of a batch's log rows: one
// statement per table, each row's columns sent as arrays and unnested, so
// that a batch of n leaves costs four statements, not ≈ 6n.
func logRowStatements(firstIndex int64, leaves []historylog.StoredLeaf, hashes []tlog.Hash) []statement {
	var (
		idx, partySeq, partyLeaf, payloadLeaf []int64
		leafData, leafHash, payload           [][]byte
		partySubject                          []string
		payloadAt                             []time.Time
	)
	for i := range leaves {
		l := &leaves[i]
		idx, leafData, leafHash = append(idx, l.Index), append(leafData, l.Data), append(leafHash, l.Hash[:])
		for _, p := range l.Parties {
			partySubject, partySeq, partyLeaf = append(partySubject, p.Subject), append(partySeq, p.Seq), append(partyLeaf, l.Index)
		}
		if l.Payload != nil {
			payloadLeaf, payloadAt, payload = append(payloadLeaf, l.Index), append(payloadAt, ts(l.At)), append(payload, l.Payload)
		}
	}
	hashID, hash := make([]int64, len(hashes)), make([][]byte, len(hashes))
	base := tlog.StoredHashIndex(0, firstIndex)
	for i := range hashes {
		hashID[i], hash[i] = base+int64(i), hashes[i][:]
	}
	stmts := []statement{
		{sql: `INSERT INTO log_leaves (idx, leaf, leaf_hash) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])`,
			args: []any{idx, leafData, leafHash}},
	}
	if len(partySubject) > 0 {
		stmts = append(stmts, statement{sql: `INSERT INTO log_parties (subject, seq, leaf_index) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])`,
			args: []any{partySubject, partySeq, partyLeaf}})
	}
	if len(payload) > 0 {
		stmts = append(stmts, statement{sql: `INSERT INTO log_payloads (leaf_index, at, payload) SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::bytea[])`,
			args: []any{payloadLeaf, payloadAt, payload}})
	}
	if len(hashes) > 0 {
		stmts = append(stmts, statement{sql: `INSERT INTO log_hashes (id, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])`,
			args: []any{hashID, hash}})
	}
	return stmts
}
