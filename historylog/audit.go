package historylog

import (
	"bytes"
	"context"
	"fmt"

	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// AuditReport is what a passed audit saw.
type AuditReport struct {
	Size           int64     // leaves, 0..Size-1
	Root           tlog.Hash // root of the tree of Size leaves
	Checkpoints    int64     // checkpoints checked
	Subjects       int64     // distinct pseudonyms, each with an intact chain
	Payloads       int64     // payloads present and matching their leaves
	ErasedPayloads int64     // leaves whose payload was erased
}

// AuditError is a failed audit: the first bad index found, scanning the
// log from index 0.
type AuditError struct {
	// Index is the first leaf that cannot be trusted. For a bad checkpoint
	// it is the first leaf that checkpoint would vouch for (the size of the
	// last good checkpoint before it).
	Index int64
	// CheckpointSize is the size of the bad checkpoint, 0 if the problem is
	// in the leaves or hashes.
	CheckpointSize int64
	Reason         string
}

func (e *AuditError) Error() string {
	if e.CheckpointSize > 0 {
		return fmt.Sprintf("history log: bad at index %d: checkpoint of size %d: %s", e.Index, e.CheckpointSize, e.Reason)
	}
	return fmt.Sprintf("history log: bad at index %d: %s", e.Index, e.Reason)
}

// auditChunk is how many leaves Audit reads at once.
const auditChunk = 1000

// Audit checks the whole log in store against the verifier key of its
// checkpoints (whose name is the log's origin). It recomputes every leaf
// hash from the leaf bytes and every stored hash from those, and compares
// them with what is stored; checks that indexes are dense (0..n-1) and every
// leaf is canonical; checks every checkpoint's signature, origin and root
// against the recomputed tree of its size, and the consistency proof from
// the previous checkpoint; checks that the last checkpoint covers every
// leaf; follows every subject's chain (seq goes up by one, prev is the
// subject's previous leaf); and checks every payload still kept against
// its leaf's commitment. It needs no secret key: the subject key is not
// used, pseudonyms are compared as they are.
//
// A log that fails returns an *AuditError (errors.As) naming the first bad
// index. EINVALID for a malformed verifier key; the store's codes
// (EUNAVAILABLE, ...) if it cannot be read.
func Audit(ctx context.Context, store LogStore, verifierKey string) (AuditReport, error) {
	verifier, err := note.NewVerifier(verifierKey)
	if err != nil {
		return AuditReport{}, wallet.Wrap(wallet.EINVALID, err, "history log: malformed verifier key")
	}
	a := &auditor{
		ctx: ctx, store: store, verifier: verifier, origin: verifier.Name(),
		frontier: map[int64]tlog.Hash{},
		heads:    map[string]Head{},
	}
	a.prevRoot, _ = tlog.TreeHash(0, nil)
	if err := a.run(); err != nil {
		return AuditReport{}, err
	}
	a.report.Size = a.next
	a.report.Root, _ = tlog.TreeHash(a.next, tlog.HashReaderFunc(a.readFrontier))
	a.report.Subjects = int64(len(a.heads))
	return a.report, nil
}

type auditor struct {
	ctx      context.Context
	store    LogStore
	verifier note.Verifier
	origin   string

	next     int64               // the next index expected
	frontier map[int64]tlog.Hash // recomputed right edge of the tree of size next
	heads    map[string]Head     // each pseudonym's latest leaf
	cps      []StoredCheckpoint  // checkpoints read ahead, increasing size
	cpsDone  bool                // no more checkpoints to read
	prevSize int64               // last good checkpoint
	prevRoot tlog.Hash
	report   AuditReport
}

func (a *auditor) bad(index int64, format string, args ...any) error {
	return &AuditError{Index: index, Reason: fmt.Sprintf(format, args...)}
}

func (a *auditor) badCheckpoint(size int64, format string, args ...any) error {
	return &AuditError{Index: a.prevSize, CheckpointSize: size, Reason: fmt.Sprintf(format, args...)}
}

func (a *auditor) run() error {
	for {
		leaves, err := a.store.Leaves(a.ctx, a.next, auditChunk)
		if err != nil {
			return err
		}
		if len(leaves) == 0 {
			break
		}
		// Every leaf must be where the next index is: a gap is a leaf gone.
		for i, l := range leaves {
			if l.Index != a.next+int64(i) {
				leaves = leaves[:i]
				break
			}
		}
		stored, err := a.storedHashes(leaves)
		if err != nil {
			return err
		}
		for i, l := range leaves {
			if err := a.leaf(l, stored[i]); err != nil {
				return err
			}
			a.next++
			if err := a.checkpointsAt(a.next); err != nil {
				return err
			}
		}
		if len(leaves) < auditChunk {
			// Either the end, or a gap: the next read tells.
			more, err := a.store.Leaves(a.ctx, a.next, 1)
			if err != nil {
				return err
			}
			if len(more) > 0 {
				return a.bad(a.next, "leaf missing (the next stored leaf is %d)", more[0].Index)
			}
			break
		}
	}
	// Checkpoints beyond the leaves: the log was truncated.
	if err := a.readCheckpoints(); err != nil {
		return err
	}
	if len(a.cps) > 0 {
		return a.bad(a.next, "leaf missing: a checkpoint claims %d leaves, the log has %d", a.cps[len(a.cps)-1].Size, a.next)
	}
	if a.prevSize != a.next {
		return a.bad(a.prevSize, "leaves %d to %d are covered by no checkpoint", a.prevSize, a.next-1)
	}
	return nil
}

// storedHashes reads the stored hashes of the leaves (contiguous from
// a.next); entry i holds leaf i's, or nil if some are missing (the leaf
// check reports it).
func (a *auditor) storedHashes(leaves []StoredLeaf) ([][]tlog.Hash, error) {
	out := make([][]tlog.Hash, len(leaves))
	if len(leaves) == 0 {
		return out, nil
	}
	lo := tlog.StoredHashIndex(0, leaves[0].Index)
	hi := tlog.StoredHashIndex(0, leaves[len(leaves)-1].Index+1)
	idx := make([]int64, 0, hi-lo)
	for x := lo; x < hi; x++ {
		idx = append(idx, x)
	}
	hs, err := a.store.ReadHashes(a.ctx, idx)
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		// Find whose are missing, leaf by leaf.
		for i, l := range leaves {
			lo, hi := tlog.StoredHashIndex(0, l.Index), tlog.StoredHashIndex(0, l.Index+1)
			idx := idx[:0]
			for x := lo; x < hi; x++ {
				idx = append(idx, x)
			}
			hs, err := a.store.ReadHashes(a.ctx, idx)
			if wallet.IsCode(err, wallet.ENOTFOUND) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out[i] = hs
		}
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for i, l := range leaves {
		n := tlog.StoredHashIndex(0, l.Index+1) - tlog.StoredHashIndex(0, l.Index)
		out[i], hs = hs[:n], hs[n:]
	}
	return out, nil
}

// leaf checks the leaf at a.next and its stored hashes, and extends the
// recomputed tree and the chains with it.
func (a *auditor) leaf(l StoredLeaf, stored []tlog.Hash) error {
	i := l.Index
	leaf, err := ParseLeaf(l.Data)
	if err != nil {
		return a.bad(i, "%s", wallet.ErrorMessage(err))
	}
	if tlog.RecordHash(l.Data) != l.Hash {
		return a.bad(i, "the stored leaf hash is not the hash of the leaf")
	}
	computed, err := tlog.StoredHashes(i, l.Data, tlog.HashReaderFunc(a.readFrontier))
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "history log: audit")
	}
	if stored == nil {
		return a.bad(i, "stored hashes missing")
	}
	for k := range computed {
		if computed[k] != stored[k] {
			return a.bad(i, "stored hash %d differs from the recomputed tree", tlog.StoredHashIndex(0, i)+int64(k))
		}
	}
	base := tlog.StoredHashIndex(0, i)
	for k, h := range computed {
		a.frontier[base+int64(k)] = h
	}
	keep := map[int64]tlog.Hash{}
	for _, x := range frontierIndexes(i + 1) {
		keep[x] = a.frontier[x]
	}
	a.frontier = keep

	for _, p := range leaf.Parties {
		h, seen := a.heads[p.Subject]
		switch {
		case !seen && (p.Seq != 1 || p.Prev != -1):
			return a.bad(i, "subject chain broken: first leaf of a subject has seq %d and prev %d", p.Seq, p.Prev)
		case seen && (p.Seq != h.Seq+1 || p.Prev != h.Index):
			return a.bad(i, "subject chain broken: seq %d and prev %d follow seq %d at index %d", p.Seq, p.Prev, h.Seq, h.Index)
		}
		if p.Prev >= i {
			return a.bad(i, "subject chain points forward")
		}
		a.heads[p.Subject] = Head{Seq: p.Seq, Index: i}
	}

	if l.Payload == nil {
		a.report.ErasedPayloads++
	} else if !leaf.CheckPayload(l.Payload) {
		return a.bad(i, "the payload does not match the leaf's commitment")
	} else {
		a.report.Payloads++
	}
	return nil
}

func (a *auditor) readFrontier(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := a.frontier[x]
		if !ok {
			return nil, fmt.Errorf("history log: audit: hash %d not on the right edge", x)
		}
		out[i] = h
	}
	return out, nil
}

// readCheckpoints makes sure the next unchecked checkpoint, if any, is in a.cps.
func (a *auditor) readCheckpoints() error {
	if len(a.cps) > 0 || a.cpsDone {
		return nil
	}
	cps, err := a.store.Checkpoints(a.ctx, a.prevSize+1, auditChunk)
	if err != nil {
		return err
	}
	if len(cps) < auditChunk {
		a.cpsDone = true
	}
	a.cps = cps
	return nil
}

// checkpointsAt checks the checkpoint of size n, if there is one, against
// the recomputed tree of n leaves.
func (a *auditor) checkpointsAt(n int64) error {
	if err := a.readCheckpoints(); err != nil {
		return err
	}
	if len(a.cps) == 0 || a.cps[0].Size != n {
		return nil
	}
	cp := a.cps[0]
	a.cps = a.cps[1:]
	root, err := tlog.TreeHash(n, tlog.HashReaderFunc(a.readFrontier))
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "history log: audit")
	}
	c, err := OpenCheckpoint(cp.Note, a.verifier, a.origin)
	if err != nil {
		return a.badCheckpoint(n, "%s", wallet.ErrorMessage(err))
	}
	switch {
	case c.Size != n:
		return a.badCheckpoint(n, "the note says size %d", c.Size)
	case c.Root != cp.Root || !bytes.Equal(c.Root[:], root[:]):
		return a.badCheckpoint(n, "its root is not the root of the recomputed tree")
	}
	if a.prevSize > 0 {
		// The stored hashes below n were all checked above, so the proof is
		// built from checked hashes.
		p, err := tlog.ProveTree(n, a.prevSize, HashReader(a.ctx, a.store))
		if err != nil {
			return a.badCheckpoint(n, "no consistency proof from size %d: %v", a.prevSize, err)
		}
		if err := tlog.CheckTree(p, n, c.Root, a.prevSize, a.prevRoot); err != nil {
			return a.badCheckpoint(n, "not consistent with the checkpoint of size %d", a.prevSize)
		}
	}
	a.prevSize, a.prevRoot = n, c.Root
	a.report.Checkpoints++
	return nil
}
