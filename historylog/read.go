package historylog

import (
	"context"
	"time"

	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint returns the latest signed checkpoint (a note in the C2SP
// tlog-checkpoint form). For an empty log it signs one of size 0 (the root
// of the empty tree) without storing it. EUNAVAILABLE if the store cannot
// be reached.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	cp, err := lagTolerant(l, func(r LogReader) (StoredCheckpoint, error) { return r.LatestCheckpoint(ctx) })
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		empty, err := tlog.TreeHash(0, nil)
		if err != nil {
			return nil, wallet.Wrap(wallet.EINTERNAL, err, "history log: empty tree")
		}
		return SignCheckpoint(Checkpoint{Origin: l.keys.Origin, Size: 0, Root: empty}, l.keys.Signer)
	}
	if err != nil {
		return nil, err
	}
	return cp.Note, nil
}

// Leaf returns the leaf at index, decoded and as its bytes. The caller
// shows it only to its parties (Leaf.HasParty with Pseudonym). EINVALID for
// a negative index; ENOTFOUND if there is no such leaf; EINTERNAL if the
// stored bytes are not a leaf.
func (l *Log) Leaf(ctx context.Context, index int64) (Leaf, []byte, error) {
	if index < 0 {
		return Leaf{}, nil, wallet.Errorf(wallet.EINVALID, "history log: negative index")
	}
	ls, err := lagTolerant(l, func(r LogReader) ([]StoredLeaf, error) {
		ls, err := r.Leaves(ctx, index, 1)
		if err == nil && (len(ls) == 0 || ls[0].Index != index) {
			err = wallet.Errorf(wallet.ENOTFOUND, "history log: no leaf %d", index)
		}
		return ls, err
	})
	if err != nil {
		return Leaf{}, nil, err
	}
	leaf, err := ParseLeaf(ls[0].Data)
	if err != nil {
		return Leaf{}, nil, wallet.Wrap(wallet.EINTERNAL, err, "history log: stored leaf is damaged")
	}
	return leaf, ls[0].Data, nil
}

// Payload returns the payload of the leaf at index, checked against the
// leaf's commitment. EINVALID for a negative index; ENOTFOUND if the leaf
// does not exist or its payload was erased; EINTERNAL if the payload does
// not match the leaf.
func (l *Log) Payload(ctx context.Context, index int64) ([]byte, error) {
	if index < 0 {
		return nil, wallet.Errorf(wallet.EINVALID, "history log: negative index")
	}
	ls, err := l.store.Leaves(ctx, index, 1)
	if err != nil {
		return nil, err
	}
	if len(ls) == 0 || ls[0].Index != index {
		return nil, wallet.Errorf(wallet.ENOTFOUND, "history log: no leaf %d", index)
	}
	p := ls[0].Payload
	if p == nil {
		return nil, wallet.Errorf(wallet.ENOTFOUND, "history log: the payload of leaf %d was erased", index)
	}
	leaf, err := ParseLeaf(ls[0].Data)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "history log: stored leaf is damaged")
	}
	if !leaf.CheckPayload(p) {
		return nil, wallet.Errorf(wallet.EINTERNAL, "history log: payload %d does not match its leaf", index)
	}
	return p, nil
}

// ErasePayloads deletes the payloads of events before before (retention);
// leaves and proofs stay. It returns how many were deleted. EUNAVAILABLE.
func (l *Log) ErasePayloads(ctx context.Context, before time.Time) (int64, error) {
	return l.store.ErasePayloads(ctx, before)
}

// InclusionProof is the RFC 6962 audit path of one leaf in the tree of
// one size.
type InclusionProof struct {
	Index    int64
	Size     int64
	LeafHash tlog.Hash
	Proof    tlog.RecordProof
}

// InclusionProof proves that the leaf at index is in the tree of size
// size; check it with tlog.CheckRecord(p.Proof, size, root, index,
// p.LeafHash). EINVALID unless 0 ≤ index < size; ENOTFOUND if size is
// larger than the log.
func (l *Log) InclusionProof(ctx context.Context, index, size int64) (InclusionProof, error) {
	if index < 0 || index >= size {
		return InclusionProof{}, wallet.Errorf(wallet.EINVALID, "history log: an inclusion proof needs 0 ≤ index < size")
	}
	return lagTolerant(l, func(store LogReader) (InclusionProof, error) {
		if err := checkSize(ctx, store, size); err != nil {
			return InclusionProof{}, err
		}
		r := HashReader(ctx, store)
		hs, err := r.ReadHashes([]int64{tlog.StoredHashIndex(0, index)})
		if err != nil {
			return InclusionProof{}, err
		}
		p, err := tlog.ProveRecord(size, index, r)
		if err != nil {
			return InclusionProof{}, proofErr(err)
		}
		return InclusionProof{Index: index, Size: size, LeafHash: hs[0], Proof: p}, nil
	})
}

// ConsistencyProof proves that the tree of size from is a prefix of the
// tree of size to (RFC 6962); check it with tlog.CheckTree(p, to, rootTo,
// from, rootFrom). EINVALID unless 1 ≤ from ≤ to; ENOTFOUND if to is larger
// than the log.
func (l *Log) ConsistencyProof(ctx context.Context, from, to int64) (tlog.TreeProof, error) {
	if from < 1 || from > to {
		return nil, wallet.Errorf(wallet.EINVALID, "history log: a consistency proof needs 1 ≤ from ≤ to")
	}
	return lagTolerant(l, func(store LogReader) (tlog.TreeProof, error) {
		if err := checkSize(ctx, store, to); err != nil {
			return nil, err
		}
		p, err := tlog.ProveTree(to, from, HashReader(ctx, store))
		if err != nil {
			return nil, proofErr(err)
		}
		return p, nil
	})
}

// lagTolerant runs read on the log's public reads (Config.Reads), and
// again on the store when those do not have what was asked for yet
// (ENOTFOUND: a replica behind the primary does not have the newest
// leaves), so that a replica's lag never makes a leaf or a tree size that
// the log has look missing.
func lagTolerant[T any](l *Log, read func(LogReader) (T, error)) (T, error) {
	v, err := read(l.reads)
	if err != nil && l.separate && wallet.IsCode(err, wallet.ENOTFOUND) {
		return read(l.store)
	}
	return v, err
}

// checkSize returns ENOTFOUND if the log in store has fewer than size
// leaves.
func checkSize(ctx context.Context, store LogReader, size int64) error {
	n, err := store.LogSize(ctx)
	if err != nil {
		return err
	}
	if size > n {
		return wallet.Errorf(wallet.ENOTFOUND, "history log: the log has %d leaves, not %d", n, size)
	}
	return nil
}

// proofErr keeps a store's error and calls anything else internal.
func proofErr(err error) error {
	if wallet.AsError(err) != nil {
		return err
	}
	return wallet.Wrap(wallet.EINTERNAL, err, "history log: proof")
}
