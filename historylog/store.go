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
	// Payload is kept apart from the leaf. AppendBatch stores it unless it
	// is nil; Leaves returns it, nil if it was erased.
	Payload []byte
	// The fields below are given to AppendBatch; Leaves leaves them empty.
	At      time.Time // the event's time, for ErasePayloads
	Parties []Party   // the leaf's parties, indexed for SubjectHeads
	// RedeemedView is the id of a view redeemed in the same transaction,
	// whose log index to set, if any.
	RedeemedView string
	// NewEvent is an event to insert with this leaf's index, if any.
	NewEvent *wallet.Event
	// NewView is a view to insert with this leaf's index, if any.
	NewView *wallet.View
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
// and signed checkpoints. The log tables are append-only: a store never
// updates or deletes a leaf, a hash or a checkpoint (the PostgreSQL service
// role may not). Only payloads are deleted, by ErasePayloads.
// Implementations: wallet/sqlite and wallet/postgres, both passing
// historylogtest.RunLogStoreTests. Every method returns EUNAVAILABLE when
// the database cannot be reached.
type LogStore interface {
	// LogSize returns the number of leaves: one more than the highest
	// index (0 for an empty log).
	LogSize(ctx context.Context) (int64, error)
	// AppendBatch stores, in one transaction, leaves (indexes firstIndex,
	// firstIndex+1, ... in order), hashes (the stored hashes of those
	// leaves, starting at stored index tlog.StoredHashIndex(0, firstIndex)),
	// the leaves' payloads and parties, and checkpoint (whose size is
	// firstIndex+len(leaves)). It is all or nothing. ECONFLICT if firstIndex
	// is not the current size (another writer went first); EINVALID if the
	// arguments do not fit together. On PostgreSQL it holds a
	// transaction-level advisory lock, so two processes append in turn.
	AppendBatch(ctx context.Context, firstIndex int64, leaves []StoredLeaf, hashes []tlog.Hash, checkpoint StoredCheckpoint) error
	// AppendBatchWithRedemptions is AppendBatch for a batch that holds
	// share redemptions. In one transaction it checks that firstIndex is
	// the current size (ECONFLICT otherwise, nothing run), runs the
	// redemptions in order, each on its own as wallet.Store.RedeemShare
	// would (a redemption that fails changes nothing and gets
	// RedeemShare's error: EEXPIRED, ENOTFOUND, EINVALID, ECONFLICT), then
	// calls build once with their outcomes, and stores what build returns
	// as AppendBatch does (the leaves' RedeemedView set the redeemed views' log
	// indexes), and commits. build only computes: it must not use the
	// store. If build returns no leaf, nothing is stored (every
	// redemption must then have failed). The outcomes are returned only if
	// the transaction committed; any other error (build's, EINVALID for
	// arguments that do not fit, EUNAVAILABLE, a failed commit) means
	// nothing at all was stored, redemptions included.
	AppendBatchWithRedemptions(ctx context.Context, firstIndex int64, redemptions []Redemption, build BuildFunc) ([]RedemptionResult, error)
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

// Redemption is a share redemption run in a log batch's transaction
// (LogStore.AppendBatchWithRedemptions): one more view of the share
// ShareID, stored as View, as wallet.Store.RedeemShare takes them.
type Redemption struct {
	ShareID string
	View    wallet.View
}

// RedemptionResult is the outcome of one Redemption: the view as stored
// (ShareID, DocumentID and OwnerIIN set), or the redemption's own error.
type RedemptionResult struct {
	View wallet.View
	Err  error
}

// BuildFunc computes the leaves, hashes and checkpoint of a batch once its
// redemptions have run, from their outcomes (one per redemption, in
// order): the arguments AppendBatch would take. It returns no leaf if the
// batch has nothing to append.
type BuildFunc func(outcomes []RedemptionResult) (leaves []StoredLeaf, hashes []tlog.Hash, checkpoint StoredCheckpoint, err error)

// HashReader returns a tlog.HashReader that reads the store's hashes with
// ctx. Its errors are the store's (ENOTFOUND for a missing hash).
func HashReader(ctx context.Context, s LogStore) tlog.HashReader {
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

// CheckBatch checks that the arguments of AppendBatch fit together: at
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
