package historylog

import (
	"context"
	"time"

	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/tlog"
)

// StoredLeaf is one leaf as a LogStore keeps it.
type StoredLeaf struct {
	Index int64
	Data  []byte    // the leaf's bytes (Leaf.MarshalBinary)
	Hash  tlog.Hash // tlog.RecordHash(Data)
	// Payload is kept apart from the leaf. AppendTx.Commit stores it unless it
	// is nil; Leaves returns it, nil if it was erased.
	Payload []byte
	// The fields below are given to AppendTx.Commit; Leaves leaves them
	// empty.
	At      time.Time // the event's time, for ErasePayloads
	Parties []Party   // the leaf's parties, indexed for SubjectHeads
	// Record is the entry's Record, opaque to the log: the store writes it
	// (or marks it with Index) in the same transaction.
	Record any
}

// StoredCheckpoint is one signed checkpoint as a LogStore keeps it.
type StoredCheckpoint struct {
	Size int64
	Root tlog.Hash
	Note []byte // the signed note
}

// Head is the latest event of one subject: its sequence number and index.
type Head struct {
	Seq   int64
	Index int64
}

// LogStore keeps the history log: leaves, the hashes tlog stores, payloads
// and signed checkpoints, beside the state whose changes the leaves record.
// The log tables are append-only: a store never updates or deletes a leaf,
// a hash or a checkpoint (the PostgreSQL service role may not). Only
// payloads are deleted, by ErasePayloads. Implementations: wallet/sqlite
// and wallet/postgres, both passing historylogtest.RunLogStoreTests. Every
// method returns EUNAVAILABLE when the database cannot be reached.
type LogStore interface {
	// BeginAppend starts the transaction of one batch. The Log calls, in
	// order, Apply once, then ReadHashes and SubjectHeads as it needs, then
	// Commit, or Rollback at any point after an error. Nothing is stored
	// unless Commit succeeds.
	BeginAppend(ctx context.Context) (AppendTx, error)
	// LogSize returns the number of leaves: one more than the highest
	// index (0 for an empty log).
	LogSize(ctx context.Context) (int64, error)
	// Leaves returns up to limit leaves with index ≥ from, in increasing
	// index order, with Index, Data, Hash and Payload set. A missing index
	// is skipped, not reported: Audit looks for gaps.
	Leaves(ctx context.Context, from int64, limit int) ([]StoredLeaf, error)
	// ReadHashes returns the stored hashes with the given stored-hash
	// indexes, in the same order. ENOTFOUND if one is missing.
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	// LatestCheckpoint returns the checkpoint of the largest size.
	// ENOTFOUND if there is none (an empty log).
	LatestCheckpoint(ctx context.Context) (StoredCheckpoint, error)
	// Checkpoints returns up to limit checkpoints of size ≥ fromSize, in
	// increasing size order.
	Checkpoints(ctx context.Context, fromSize int64, limit int) ([]StoredCheckpoint, error)
	// SubjectHeads returns, for each of the pseudonyms that has events, its
	// latest event. Pseudonyms without events are absent from the map.
	SubjectHeads(ctx context.Context, pseudonyms []string) (map[string]Head, error)
	// ErasePayloads deletes the payloads of events that happened before
	// before and returns how many it deleted. Leaves and proofs are not
	// affected.
	ErasePayloads(ctx context.Context, before time.Time) (int64, error)
}

// LogReader is the part of a LogStore behind the log's public reads
// (checkpoints, leaves, proofs): reads that tolerate lag, which a streaming
// replica may serve (Config.Reads). Every LogStore is one.
type LogReader interface {
	// LogSize is LogStore.LogSize.
	LogSize(ctx context.Context) (int64, error)
	// Leaves is LogStore.Leaves.
	Leaves(ctx context.Context, from int64, limit int) ([]StoredLeaf, error)
	// ReadHashes is LogStore.ReadHashes.
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	// LatestCheckpoint is LogStore.LatestCheckpoint.
	LatestCheckpoint(ctx context.Context) (StoredCheckpoint, error)
}

// HashStore is what HashReader reads from.
type HashStore interface {
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
}

// AppendTx is the transaction of one batch of the log (LogStore.BeginAppend).
// It is used by one goroutine.
type AppendTx interface {
	// Apply takes the log's append lock (other writers, in this process or
	// another, wait until this transaction ends), applies the states in
	// order, each on its own, and returns the log's size under the lock
	// and one outcome per state: nil if it applied (a nil state always
	// does), else the error that refused it, and then nothing of that
	// state is in the transaction while the others go on. An error of its
	// own means the transaction is lost: nothing is stored.
	Apply(ctx context.Context, states []any) (size int64, refused []error, err error)
	// ReadHashes is LogStore.ReadHashes inside the transaction.
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	// SubjectHeads is LogStore.SubjectHeads inside the transaction.
	SubjectHeads(ctx context.Context, pseudonyms []string) (map[string]Head, error)
	// Commit stores leaves (indexes firstIndex, firstIndex+1, ... in
	// order, firstIndex the size Apply returned), hashes (the stored
	// hashes of those leaves, starting at stored index
	// tlog.StoredHashIndex(0, firstIndex)), the leaves' payloads, parties
	// and records, and checkpoint (whose size is firstIndex+len(leaves)),
	// then commits the transaction, applied states included. With no leaf
	// it stores no checkpoint and only commits. EINVALID if the arguments
	// do not fit together (CheckBatch); ECONFLICT if firstIndex is not the
	// log's size; EUNAVAILABLE. On any error nothing is stored.
	Commit(ctx context.Context, firstIndex int64, leaves []StoredLeaf, hashes []tlog.Hash, checkpoint StoredCheckpoint) error
	// Rollback ends the transaction without storing anything; after
	// Commit, and a second time, it does nothing.
	Rollback()
}

// HashReader returns a tlog.HashReader that reads the store's hashes with
// ctx. Its errors are the store's (ENOTFOUND for a missing hash).
func HashReader(ctx context.Context, s HashStore) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		if len(indexes) == 0 {
			return nil, nil
		}
		hs, err := s.ReadHashes(ctx, indexes)
		if err == nil && len(hs) != len(indexes) {
			err = wallet.Errorf(wallet.EINTERNAL, "history log: store returned %d hashes for %d indexes", len(hs), len(indexes))
		}
		return hs, err
	})
}

// CheckBatch checks that the arguments of AppendTx.Commit fit together: at
// least one leaf, indexes firstIndex, firstIndex+1, ..., each leaf's hash
// the record hash of its bytes, as many hashes as tlog stores for those
// leaves, and a checkpoint of the size after them. Stores call it before
// writing. EINVALID if not.
func CheckBatch(firstIndex int64, leaves []StoredLeaf, hashes []tlog.Hash, checkpoint StoredCheckpoint) error {
	if firstIndex < 0 || len(leaves) == 0 {
		return wallet.Errorf(wallet.EINVALID, "history log: an empty batch or a negative index")
	}
	for i, l := range leaves {
		if l.Index != firstIndex+int64(i) || len(l.Data) == 0 || tlog.RecordHash(l.Data) != l.Hash {
			return wallet.Errorf(wallet.EINVALID, "history log: leaf %d of the batch does not fit", i)
		}
	}
	end := firstIndex + int64(len(leaves))
	if int64(len(hashes)) != tlog.StoredHashIndex(0, end)-tlog.StoredHashIndex(0, firstIndex) {
		return wallet.Errorf(wallet.EINVALID, "history log: %d hashes for %d leaves", len(hashes), len(leaves))
	}
	if checkpoint.Size != end || len(checkpoint.Note) == 0 {
		return wallet.Errorf(wallet.EINVALID, "history log: the checkpoint's size is %d, want %d", checkpoint.Size, end)
	}
	return nil
}
