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

// LogSize returns the number of leaves: one more than the highest index.
// EUNAVAILABLE.
func (s *Store) LogSize(ctx context.Context) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(idx) + 1, 0) FROM log_leaves`).Scan(&n)
	return n, wrapErr(err, "history log size")
}

// writeLeaves inserts a checked batch (historylog.CheckBatch) in tx: each
// table's rows in one statement (insertRows), then the leaves' records.
func writeLeaves(ctx context.Context, tx *sql.Tx, firstIndex int64, leaves []historylog.StoredLeaf, hashes []tlog.Hash, cp historylog.StoredCheckpoint) error {
	err := insertRows(ctx, tx, `INSERT INTO log_leaves (idx, leaf, leaf_hash) VALUES `, `(?, ?, ?)`, len(leaves),
		func(i int, args []any) []any {
			l := &leaves[i]
			return append(args, l.Index, l.Data, l.Hash[:])
		})
	if err != nil {
		return err
	}
	type party struct {
		leaf int64
		p    historylog.Party
	}
	var parties []party
	var payloads []*historylog.StoredLeaf
	for i := range leaves {
		l := &leaves[i]
		for _, p := range l.Parties {
			parties = append(parties, party{l.Index, p})
		}
		if l.Payload != nil {
			payloads = append(payloads, l)
		}
	}
	err = insertRows(ctx, tx, `INSERT INTO log_parties (subject, seq, leaf_index) VALUES `, `(?, ?, ?)`, len(parties),
		func(i int, args []any) []any {
			return append(args, parties[i].p.Subject, parties[i].p.Seq, parties[i].leaf)
		})
	if err != nil {
		return err
	}
	err = insertRows(ctx, tx, `INSERT INTO log_payloads (leaf_index, at, payload) VALUES `, `(?, ?, ?)`, len(payloads),
		func(i int, args []any) []any {
			l := payloads[i]
			return append(args, l.Index, micros(l.At), l.Payload)
		})
	if err != nil {
		return err
	}
	for _, l := range leaves {
		if err := writeRecord(ctx, tx, l.Index, l.Record); err != nil {
			return err
		}
	}
	base := tlog.StoredHashIndex(0, firstIndex)
	err = insertRows(ctx, tx, `INSERT INTO log_hashes (id, hash) VALUES `, `(?, ?)`, len(hashes),
		func(i int, args []any) []any {
			return append(args, base+int64(i), hashes[i][:])
		})
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO log_checkpoints (size, root, note) VALUES (?, ?, ?)`,
		cp.Size, cp.Root[:], string(cp.Note))
	return err
}

// maxRowVariables bounds the variables of one insertRows statement, well
// under SQLite's limit of bound variables.
const maxRowVariables = 900

// insertRows inserts n rows with statements of many rows each: insert is
// the statement up to VALUES, tuple one row's placeholders ("(?, ?)"), and
// row appends the i-th row's values to args. One statement per table and
// batch, rather than one per row, is what keeps a batch's cost per leaf low.
func insertRows(ctx context.Context, tx *sql.Tx, insert, tuple string, n int, row func(i int, args []any) []any) error {
	cols := strings.Count(tuple, "?")
	per := maxRowVariables / cols
	for lo := 0; lo < n; lo += per {
		hi := min(n, lo+per)
		var q strings.Builder
		q.Grow(len(insert) + (hi-lo)*(len(tuple)+2))
		q.WriteString(insert)
		args := make([]any, 0, (hi-lo)*cols)
		for i := lo; i < hi; i++ {
			if i > lo {
				q.WriteString(", ")
			}
			q.WriteString(tuple)
			args = row(i, args)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
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
	return readHashes(ctx, s.r, indexes)
}

// querier is a connection pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readHashes(ctx context.Context, q querier, indexes []int64) ([]tlog.Hash, error) {
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
		rows, err := q.QueryContext(ctx, `SELECT id, hash FROM log_hashes WHERE id IN (?`+
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
	return subjectHeads(ctx, s.r, pseudonyms)
}

func subjectHeads(ctx context.Context, q querier, pseudonyms []string) (map[string]historylog.Head, error) {
	out := make(map[string]historylog.Head, len(pseudonyms))
	for _, p := range pseudonyms {
		var h historylog.Head
		err := q.QueryRowContext(ctx, `SELECT seq, leaf_index FROM log_parties WHERE subject = ? ORDER BY seq DESC LIMIT 1`, p).
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
