package historylog

import (
	"context"
	"crypto/rand"
	"io"
	"maps"
	"math/bits"
	"sync"
	"time"

	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/tlog"
)

// Entry is one event to append.
type Entry struct {
	// Kind is KindView or one of wallet's Event kinds ([a-z0-9_], 1..64).
	Kind string
	// At is when the event happened; it is stored truncated to the
	// microsecond, in UTC.
	At time.Time
	// Subjects are the event's parties (CitizenSubject, OrganisationSubject):
	// 1 to MaxParties after dropping repeats (the first of each is kept).
	Subjects []string
	// Payload is what the history item shows, kept apart from the leaf
	// (which commits to it) and erasable. May be nil.
	Payload []byte
	// RedeemedView, if set, is the id of the view that a redemption of the
	// same batch stored: the store sets its log index in the batch's own
	// transaction, so the row carries its index exactly when its leaf is
	// durable.
	RedeemedView string
	// NewEvent, if set, is an event the store inserts in the batch's own
	// transaction, with its log index: the event and its leaf are
	// committed together or not at all.
	NewEvent *wallet.Event
	// NewView, likewise, is a view (not a share redemption) the store
	// inserts in the batch's own transaction, with its log index.
	NewView *wallet.View
}

// Config configures a Log.
type Config struct {
	Store LogStore
	Keys  Keys
	// Rand is the source of the leaves' salts; crypto/rand if nil.
	Rand io.Reader
	// MaxBatch is the most entries one batch (one transaction, one
	// checkpoint) takes; 256 if 0. 1 gives one transaction per event.
	MaxBatch int
	// CommitTimeout bounds one batch's store work; 30 s if 0.
	CommitTimeout time.Duration
}

// Log is the history log service. It is safe for concurrent use; Close it
// to stop its sequencer.
type Log struct {
	store    LogStore
	keys     Keys
	rand     io.Reader
	maxBatch int
	timeout  time.Duration

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	queue  chan *request
	done   chan struct{} // closed when the sequencer has returned

	// Sequencer state, touched only by the sequencer goroutine.
	known    bool                // size and frontier are those of the store
	size     int64               // leaves in the store
	frontier map[int64]tlog.Hash // stored hashes of the maximal complete subtrees of [0, size)
	// heads caches the latest event of subjects seen lately, valid while
	// known: any append by another writer changes the size, so the next
	// batch fails with ECONFLICT and the state, heads included, is read
	// again. It saves reading the chains' heads from the store per batch.
	heads map[string]Head
}

// maxCachedHeads bounds the heads cache; it is emptied when full.
const maxCachedHeads = 100000

// request is one Append or Redeem call waiting for its batch.
type request struct {
	ctx     context.Context
	entries []Entry
	// redeem is set for Redeem: entries then holds the view's entry as
	// far as it is known before the redemption runs.
	redeem *Redemption
	result chan result // buffered, 1
}

type result struct {
	indexes []int64
	view    wallet.View // Redeem's view, as stored
	err     error
}

// New returns a Log on cfg.Store and starts its sequencer. The sequencer
// reads the store's current size before its first batch (and again after
// any failed batch), so a restarted process continues where the log ends.
// EINVALID if the store or keys are missing.
func New(cfg Config) (*Log, error) {
	if cfg.Store == nil || cfg.Keys.Signer == nil || cfg.Keys.Verifier == nil || len(cfg.Keys.SubjectKey) == 0 {
		return nil, wallet.Errorf(wallet.EINVALID, "history log: a store and keys are required")
	}
	if err := checkOrigin(cfg.Keys.Origin); err != nil {
		return nil, err
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = 30 * time.Second
	}
	l := &Log{
		store:    cfg.Store,
		keys:     cfg.Keys,
		rand:     cfg.Rand,
		maxBatch: cfg.MaxBatch,
		timeout:  cfg.CommitTimeout,
		queue:    make(chan *request, 4*cfg.MaxBatch),
		done:     make(chan struct{}),
	}
	go l.sequence()
	return l, nil
}

// Queued returns how many Append and Redeem calls wait for a batch (for
// metrics, and for tests that need callers queued behind a held batch).
func (l *Log) Queued() int { return len(l.queue) }

// Origin returns the log's origin, the first line of its checkpoints.
func (l *Log) Origin() string { return l.keys.Origin }

// VerifierKey returns the note verifier key of the checkpoints.
func (l *Log) VerifierKey() string { return l.keys.VerifierKey }

// Pseudonym returns the pseudonym of a subject (CitizenSubject or
// OrganisationSubject) as the leaves hold it: lowercase hex of
// HMAC-SHA256(subject key, subject). The API compares it with a leaf's
// parties (Leaf.HasParty) before showing the leaf.
func (l *Log) Pseudonym(subject string) string { return pseudonym(l.keys.SubjectKey, subject) }

// Append appends the entries as leaves and returns their indexes, in
// order, once they are durable: the batch holding them committed, with a
// new signed checkpoint. If the batch fails, nothing of it is stored and
// the error is returned. EINVALID for a malformed entry (nothing is
// appended); EUNAVAILABLE if the Log is closed, or ctx ended before the
// entries were taken into a batch; the store's error code (EUNAVAILABLE,
// ECONFLICT, ...) if the batch failed. Once taken into a batch, entries are
// committed or not whatever happens to ctx, and Append waits for the outcome.
func (l *Log) Append(ctx context.Context, entries ...Entry) ([]int64, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	checked := make([]Entry, len(entries))
	for i, e := range entries {
		var err error
		if checked[i], err = checkEntry(e); err != nil {
			return nil, err
		}
	}
	r := l.enqueue(ctx, &request{ctx: ctx, entries: checked, result: make(chan result, 1)})
	return r.indexes, r.err
}

// Redeem redeems the share and appends the view's entry in one
// transaction, the batch's: the share's count goes up, the view is stored
// and its leaf appended together, or nothing is. It returns the view as
// stored (ShareID, DocumentID and OwnerIIN set as wallet.Store.RedeemShare
// sets them) with LogIndex set, once durable.
//
// EINVALID, with nothing run, if the view has no id, owner or viewer. A
// redemption the share refuses gets wallet.Store.RedeemShare's error
// (EEXPIRED, ENOTFOUND, EINVALID for a view of another document or owner,
// ECONFLICT for a taken view id); nothing of it is stored and it has no
// leaf, while the rest of its batch goes on. EUNAVAILABLE if the Log is
// closed, or ctx ended before the redemption was taken into a batch (it is
// then never run). If the batch fails, nothing of it is stored and its
// error (EUNAVAILABLE, ...) is returned. Once taken into a batch, the
// redemption is committed or not whatever happens to ctx.
func (l *Log) Redeem(ctx context.Context, shareID string, v wallet.View) (wallet.View, error) {
	v.ShareID = shareID
	e, err := ViewEntry(v)
	if err != nil {
		return wallet.View{}, err
	}
	if e, err = checkEntry(e); err != nil {
		return wallet.View{}, err
	}
	r := l.enqueue(ctx, &request{ctx: ctx, entries: []Entry{e}, redeem: &Redemption{ShareID: shareID, View: v}, result: make(chan result, 1)})
	if r.err != nil {
		return wallet.View{}, r.err
	}
	return r.view, nil
}

// enqueue queues req for the sequencer and waits for its outcome.
func (l *Log) enqueue(ctx context.Context, req *request) result {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return result{err: wallet.Errorf(wallet.EUNAVAILABLE, "history log: closed")}
	}
	select {
	case l.queue <- req:
	case <-ctx.Done():
		l.mu.RUnlock()
		return result{err: wallet.Wrap(wallet.EUNAVAILABLE, ctx.Err(), "history log: not appended")}
	}
	l.mu.RUnlock()
	return <-req.result
}

// Close stops taking entries, waits until every entry already queued has
// been committed (or failed) and returns. It does not close the store.
func (l *Log) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.queue)
	}
	l.mu.Unlock()
	<-l.done
	return nil
}

// checkEntry validates an entry and returns it with its time truncated
// and its subjects without repeats.
func checkEntry(e Entry) (Entry, error) {
	if err := checkKind(e.Kind); err != nil {
		return e, err
	}
	if e.At.IsZero() {
		return e, wallet.Errorf(wallet.EINVALID, "history log: an entry needs a time")
	}
	e.At = e.At.Truncate(time.Microsecond).UTC()
	subjects := make([]string, 0, len(e.Subjects))
	seen := make(map[string]bool, len(e.Subjects))
	for _, s := range e.Subjects {
		if s == "" {
			return e, wallet.Errorf(wallet.EINVALID, "history log: an empty subject")
		}
		if !seen[s] {
			seen[s] = true
			subjects = append(subjects, s)
		}
	}
	if len(subjects) < 1 || len(subjects) > MaxParties {
		return e, wallet.Errorf(wallet.EINVALID, "history log: an entry has 1 to %d subjects", MaxParties)
	}
	e.Subjects = subjects
	return e, nil
}

// sequence is the sequencer goroutine: it takes what has queued up, up to
// maxBatch entries, and commits it as one batch, until the queue is closed
// and drained.
func (l *Log) sequence() {
	defer close(l.done)
	var next *request // taken from the queue but left for the next batch
	for {
		if next == nil {
			r, ok := <-l.queue
			if !ok {
				return
			}
			next = r
		}
		batch := []*request{next}
		n := len(next.entries)
		next = nil
	collect:
		for n < l.maxBatch {
			select {
			case r, ok := <-l.queue:
				if !ok {
					break collect
				}
				if n+len(r.entries) > l.maxBatch {
					next = r
					break collect
				}
				batch = append(batch, r)
				n += len(r.entries)
			default:
				break collect
			}
		}
		l.commit(batch)
	}
}

// maxConflictRetries is how often a batch is rebuilt after another writer
// appended first (ECONFLICT from AppendBatch).
const maxConflictRetries = 3

// commit appends one batch and answers its callers.
func (l *Log) commit(batch []*request) {
	// Callers whose context ended while queued are answered at once; their
	// entries are not appended.
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.result <- result{err: wallet.Wrap(wallet.EUNAVAILABLE, err, "history log: not appended")}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	var (
		results []result
		err     error
	)
	for attempt := 0; ; attempt++ {
		results, err = l.appendBatch(ctx, live)
		if err == nil || !wallet.IsCode(err, wallet.ECONFLICT) || attempt == maxConflictRetries {
			break
		}
	}
	for i, r := range live {
		if err != nil {
			r.result <- result{err: err}
			continue
		}
		r.result <- results[i]
	}
}

// appendBatch builds the leaves, hashes and checkpoint of the batch on the
// known state of the store, stores them (running the batch's redemptions
// in the same transaction), and returns each request's outcome. On any
// error the state is forgotten, to be read again from the store.
func (l *Log) appendBatch(ctx context.Context, batch []*request) ([]result, error) {
	if !l.known {
		if err := l.load(ctx); err != nil {
			return nil, err
		}
	}
	results, size, newFrontier, err := l.tryAppend(ctx, batch)
	if err != nil {
		l.known = false
		return nil, err
	}
	l.frontier = newFrontier
	l.size = size
	return results, nil
}

func countEntries(batch []*request) int {
	n := 0
	for _, r := range batch {
		n += len(r.entries)
	}
	return n
}

// load reads the store's size and the hashes on the right edge of its tree.
func (l *Log) load(ctx context.Context) error {
	size, err := l.store.LogSize(ctx)
	if err != nil {
		return err
	}
	idx := frontierIndexes(size)
	hs, err := HashReader(ctx, l.store).ReadHashes(idx)
	if err != nil {
		return err
	}
	l.frontier = make(map[int64]tlog.Hash, len(idx))
	for i, x := range idx {
		l.frontier[x] = hs[i]
	}
	l.size, l.known = size, true
	l.heads = map[string]Head{}
	return nil
}

// tryAppend does the work of appendBatch on the current state. It returns
// each request's outcome, the log's new size and its new frontier.
func (l *Log) tryAppend(ctx context.Context, batch []*request) ([]result, int64, map[int64]tlog.Hash, error) {
	first := l.size
	// The chains: the latest event of every subject of the batch. A
	// redemption's subjects are known before it runs: it fails if the
	// share's owner is not the view's.
	var pseudonyms []string
	pseudo := map[string]string{} // subject → pseudonym
	var redemptions []Redemption
	for _, r := range batch {
		if r.redeem != nil {
			redemptions = append(redemptions, *r.redeem)
		}
		for _, e := range r.entries {
			for _, s := range e.Subjects {
				if _, ok := pseudo[s]; !ok {
					p := l.Pseudonym(s)
					pseudo[s] = p
					pseudonyms = append(pseudonyms, p)
				}
			}
		}
	}
	heads := make(map[string]Head, len(pseudonyms))
	var unknown []string
	for _, p := range pseudonyms {
		if h, ok := l.heads[p]; ok {
			heads[p] = h
		} else {
			unknown = append(unknown, p)
		}
	}
	if len(unknown) > 0 {
		stored, err := l.store.SubjectHeads(ctx, unknown)
		if err != nil {
			return nil, 0, nil, err
		}
		for p, h := range stored {
			heads[p] = h
		}
	}

	// build runs inside the store's transaction (for a batch with
	// redemptions): it reads nothing from the store, only the frontier and
	// the heads loaded above. It starts from them afresh on each call.
	var (
		results  []result
		newHeads map[string]Head
		overlay  map[int64]tlog.Hash
		end      int64
	)
	build := func(outcomes []RedemptionResult) ([]StoredLeaf, []tlog.Hash, StoredCheckpoint, error) {
		if len(outcomes) != len(redemptions) {
			return nil, nil, StoredCheckpoint{}, wallet.Errorf(wallet.EINTERNAL, "history log: %d outcomes for %d redemptions", len(outcomes), len(redemptions))
		}
		res := make([]result, len(batch))
		hs := maps.Clone(heads)
		ov := make(map[int64]tlog.Hash, len(l.frontier)+4*countEntries(batch))
		for k, v := range l.frontier {
			ov[k] = v
		}
		reader := overlayReader{overlay: ov}
		var (
			leaves []StoredLeaf
			hashes []tlog.Hash
			index  = first
			k      = 0
		)
		for i, r := range batch {
			entries := r.entries
			if r.redeem != nil {
				o := outcomes[k]
				k++
				if o.Err != nil {
					res[i] = result{err: o.Err}
					continue
				}
				e, err := ViewEntry(o.View)
				e.RedeemedView = o.View.ID
				if err == nil {
					e, err = checkEntry(e)
				}
				if err != nil {
					return nil, nil, StoredCheckpoint{}, err
				}
				entries = []Entry{e}
				res[i].view = o.View
			}
			res[i].indexes = make([]int64, len(entries))
			for j, e := range entries {
				leaf, err := l.leaf(e, pseudo, hs, index, reader, ov, &hashes)
				if err != nil {
					return nil, nil, StoredCheckpoint{}, err
				}
				leaves = append(leaves, leaf)
				res[i].indexes[j] = index
				index++
			}
			if r.redeem != nil {
				res[i].view.LogIndex = res[i].indexes[0]
			}
		}
		results, newHeads, overlay, end = res, hs, ov, index
		if index == first {
			return nil, nil, StoredCheckpoint{}, nil
		}
		root, err := tlog.TreeHash(index, reader)
		if err != nil {
			return nil, nil, StoredCheckpoint{}, wallet.Wrap(wallet.EINTERNAL, err, "history log: tree hash")
		}
		signed, err := SignCheckpoint(Checkpoint{Origin: l.keys.Origin, Size: index, Root: root}, l.keys.Signer)
		if err != nil {
			return nil, nil, StoredCheckpoint{}, err
		}
		return leaves, hashes, StoredCheckpoint{Size: index, Root: root, Note: signed}, nil
	}

	if len(redemptions) == 0 {
		leaves, hashes, cp, err := build(nil)
		if err != nil {
			return nil, 0, nil, err
		}
		if err := l.store.AppendBatch(ctx, first, leaves, hashes, cp); err != nil {
			return nil, 0, nil, err
		}
	} else if _, err := l.store.AppendBatchWithRedemptions(ctx, first, redemptions, build); err != nil {
		return nil, 0, nil, err
	}
	if results == nil {
		return nil, 0, nil, wallet.Errorf(wallet.EINTERNAL, "history log: the store did not build the batch")
	}
	if end == first { // every redemption refused, nothing appended
		return results, first, l.frontier, nil
	}
	if len(l.heads)+len(newHeads) > maxCachedHeads {
		l.heads = map[string]Head{}
	}
	for p, h := range newHeads {
		l.heads[p] = h
	}
	next := make(map[int64]tlog.Hash)
	for _, x := range frontierIndexes(end) {
		next[x] = overlay[x]
	}
	return results, end, next, nil
}

// leaf builds the leaf of entry e at index, advancing the chains' heads,
// adding its stored hashes to overlay and to hashes.
func (l *Log) leaf(e Entry, pseudo map[string]string, heads map[string]Head, index int64, reader tlog.HashReader, overlay map[int64]tlog.Hash, hashes *[]tlog.Hash) (StoredLeaf, error) {
	leaf := Leaf{Kind: e.Kind, At: e.At, Parties: make([]Party, len(e.Subjects))}
	if _, err := io.ReadFull(l.rand, leaf.Salt[:]); err != nil {
		return StoredLeaf{}, wallet.Wrap(wallet.EINTERNAL, err, "random source failed")
	}
	leaf.PayloadHash = PayloadCommitment(leaf.Salt, e.Payload)
	for i, s := range e.Subjects {
		p, ok := pseudo[s]
		if !ok {
			return StoredLeaf{}, wallet.Errorf(wallet.EINTERNAL, "history log: a subject of the batch was not known before it ran")
		}
		h, ok := heads[p]
		if !ok {
			h = Head{Seq: 0, Index: -1}
		}
		leaf.Parties[i] = Party{Subject: p, Seq: h.Seq + 1, Prev: h.Index}
		heads[p] = Head{Seq: h.Seq + 1, Index: index}
	}
	data, err := leaf.MarshalBinary()
	if err != nil {
		return StoredLeaf{}, err
	}
	hs, err := tlog.StoredHashes(index, data, reader)
	if err != nil {
		return StoredLeaf{}, wallet.Wrap(wallet.EINTERNAL, err, "history log: hashes")
	}
	base := tlog.StoredHashIndex(0, index)
	for i, h := range hs {
		overlay[base+int64(i)] = h
	}
	*hashes = append(*hashes, hs...)
	payload := e.Payload
	if payload == nil {
		payload = []byte{}
	}
	return StoredLeaf{Index: index, Data: data, Hash: hs[0], At: e.At, Parties: leaf.Parties, Payload: payload, RedeemedView: e.RedeemedView, NewEvent: e.NewEvent, NewView: e.NewView}, nil
}

// frontierIndexes returns the stored-hash indexes of the maximal complete
// subtrees that make up a tree of size n, left to right: all that
// tlog.StoredHashes and tlog.TreeHash read of the tree as it was.
func frontierIndexes(n int64) []int64 {
	var out []int64
	var lo int64
	for lo < n {
		level := 63 - bits.LeadingZeros64(uint64(n-lo)) // largest 2^level ≤ n-lo
		out = append(out, tlog.StoredHashIndex(level, lo>>level))
		lo += 1 << level
	}
	return out
}

// overlayReader reads hashes from a map, and those it lacks from the store
// (EINTERNAL if it has none).
type overlayReader struct {
	overlay map[int64]tlog.Hash
	store   tlog.HashReader
}

func (r overlayReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	for i, x := range indexes {
		h, ok := r.overlay[x]
		if !ok {
			missing = append(missing, x)
			continue
		}
		out[i] = h
	}
	if len(missing) == 0 {
		return out, nil
	}
	if r.store == nil {
		return nil, wallet.Errorf(wallet.EINTERNAL, "history log: hash %d is not on the tree's right edge", missing[0])
	}
	hs, err := r.store.ReadHashes(missing)
	if err != nil {
		return nil, err
	}
	j := 0
	for i, x := range indexes {
		if _, ok := r.overlay[x]; !ok {
			out[i] = hs[j]
			j++
		}
	}
	return out, nil
}
