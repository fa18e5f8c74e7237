package historylog

import (
	"context"
	"crypto/rand"
	"io"
	"math/bits"
	"slices"
	"sync"
	"time"

	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/tlog"
)

// Entry is one event to append: one leaf.
type Entry struct {
	// Kind is the event's kind ([a-z0-9_], 1..64).
	Kind string
	// At is when the event happened; it is stored truncated to the
	// microsecond, in UTC.
	At time.Time
	// Subjects are the event's parties, opaque strings that the log turns
	// into pseudonyms: 1 to MaxParties after dropping repeats (the first of
	// each is kept).
	Subjects []string
	// Payload is what the history item shows, kept apart from the leaf
	// (which commits to it) and erasable. May be nil.
	Payload []byte
	// Record is opaque to the log: the store writes it, or marks it with
	// the leaf's index, in the batch's own transaction (StoredLeaf.Record),
	// so that it is stored exactly when its leaf is durable.
	Record any
}

// Change is one unit of work the log commits: a state change that the
// store applies in the batch's transaction (AppendTx.Apply) and the entries
// that record it, appended as leaves in the same transaction. Either all of
// it is stored or none of it.
type Change struct {
	// State is opaque to the log and given to the store as it is; nil for
	// a change that is only history.
	State any
	// Entries are the change's leaves, appended in order if State applied.
	Entries []Entry
}

// Config configures a Log.
type Config struct {
	Store LogStore
	// Reads, if set, serves the log's public reads (Checkpoint, Leaf,
	// InclusionProof, ConsistencyProof): a streaming replica that may be a
	// little behind Store. What it does not have yet (ENOTFOUND) is read
	// from Store. Appends, payloads and audits always use Store. Nil: Store.
	Reads LogReader
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
	reads    LogReader // the public reads; store unless Config.Reads
	separate bool      // reads is not store: what it lacks is read from store
	keys     Keys
	rand     io.Reader
	maxBatch int
	timeout  time.Duration
	macs     *wallet.MACs // under keys.SubjectKey: pseudonyms

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	queue  chan *request
	done   chan struct{} // closed when the sequencer has returned

	// Sequencer state, touched only by the sequencer goroutine.
	known    bool                // size and frontier are those of the store
	size     int64               // leaves in the store
	frontier map[int64]tlog.Hash // stored hashes of the maximal complete subtrees of [0, size)
	// heads caches the latest event of subjects seen lately, valid while
	// known: a batch that finds the log longer than size (another writer
	// appended) reads the state, heads included, again. It saves reading
	// the chains' heads from the store per batch.
	heads map[string]Head
}

// maxCachedHeads bounds the heads cache; it is emptied when full.
const maxCachedHeads = 100000

// request is one Commit call waiting for its batch.
type request struct {
	ctx    context.Context
	change Change
	result chan result // buffered, 1
}

type result struct {
	indexes []int64
	err     error
}

// New returns a Log on cfg.Store and starts its sequencer. Every batch
// reads the store's size under the append lock and builds on it (reloading
// the tree's right edge when it is not the size it knew), so a restarted
// process, or one beside another writer, continues where the log ends.
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
	separate := cfg.Reads != nil
	if !separate {
		cfg.Reads = cfg.Store
	}
	l := &Log{
		store:    cfg.Store,
		reads:    cfg.Reads,
		separate: separate,
		keys:     cfg.Keys,
		rand:     cfg.Rand,
		maxBatch: cfg.MaxBatch,
		timeout:  cfg.CommitTimeout,
		queue:    make(chan *request, 4*cfg.MaxBatch),
		macs:     wallet.NewMACs(cfg.Keys.SubjectKey),
		done:     make(chan struct{}),
	}
	go l.sequence()
	return l, nil
}

// Queued returns how many Commit calls wait for a batch (for
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
func (l *Log) Pseudonym(subject string) string { return l.macs.Hex(subject) }

// Append appends the entries as leaves: Commit of a change that is only
// history.
func (l *Log) Append(ctx context.Context, entries ...Entry) ([]int64, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	return l.Commit(ctx, Change{Entries: entries})
}

// Commit applies the change's state and appends its entries as leaves in
// one transaction, the batch's, and returns the leaves' indexes, in order,
// once they are durable: the batch committed, with a new signed
// checkpoint.
//
// EINVALID for a malformed entry or a change with neither state nor
// entries (nothing is run); EUNAVAILABLE if the Log is closed, or ctx
// ended before the change was taken into a batch (it is then never run).
// A state the store refuses gets the store's error for it (its own
// refusal, ECONFLICT, ...): nothing of that change is stored, and the rest
// of its batch goes on. If the batch itself fails, nothing of it is stored
// and its error (EUNAVAILABLE, ...) is returned. Once taken into a batch, a
// change is committed or not whatever happens to ctx, and Commit waits for
// the outcome.
func (l *Log) Commit(ctx context.Context, c Change) ([]int64, error) {
	if c.State == nil && len(c.Entries) == 0 {
		return nil, wallet.Errorf(wallet.EINVALID, "history log: an empty change")
	}
	checked := Change{State: c.State, Entries: make([]Entry, len(c.Entries))}
	for i, e := range c.Entries {
		var err error
		if checked.Entries[i], err = checkEntry(e); err != nil {
			return nil, err
		}
	}
	r := l.enqueue(ctx, &request{ctx: ctx, change: checked, result: make(chan result, 1)})
	return r.indexes, r.err
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
	if slices.Contains(e.Subjects, "") {
		return e, wallet.Errorf(wallet.EINVALID, "history log: an empty subject")
	}
	subjects := make([]string, 0, len(e.Subjects))
	for _, s := range e.Subjects {
		// A leaf has a few parties (MaxParties): a scan beats a map.
		if !slices.Contains(subjects, s) {
			subjects = append(subjects, s)
		}
		if len(subjects) > MaxParties {
			break // refused below
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
		n := weight(next)
		next = nil
	collect:
		for n < l.maxBatch {
			select {
			case r, ok := <-l.queue:
				if !ok {
					break collect
				}
				if n+weight(r) > l.maxBatch {
					next = r
					break collect
				}
				batch = append(batch, r)
				n += weight(r)
			default:
				break collect
			}
		}
		l.commit(batch)
	}
}

// weight is what a request counts against MaxBatch: its entries, and at
// least one for its state.
func weight(r *request) int { return max(1, len(r.change.Entries)) }

// maxConflictRetries is how often a batch is run again after the store
// reported ECONFLICT for the batch as a whole (its start moved under it).
// Each try reads the log's size afresh under the store's append lock.
const maxConflictRetries = 3

// commit runs one batch and answers its callers.
func (l *Log) commit(batch []*request) {
	// Callers whose context ended while queued are answered at once; their
	// changes are not run.
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
		results, err = l.runBatch(ctx, live)
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

// runBatch runs one batch in one store transaction: it applies the
// changes' states (each on its own), reads the log's size under the
// store's append lock, builds the leaves of the changes that applied on
// that size, stores them with a new signed checkpoint, and commits. If the
// log grew since the last batch (another writer appended), the batch is
// built on the log as it is now: it never starts anywhere but at the end.
// On any error nothing is stored and the known state is dropped, to be
// read again.
func (l *Log) runBatch(ctx context.Context, batch []*request) (results []result, err error) {
	tx, err := l.store.BeginAppend(ctx)
	if err != nil {
		l.known = false
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()
			l.known = false
		}
	}()
	states := make([]any, len(batch))
	for i, r := range batch {
		states[i] = r.change.State
	}
	size, refused, err := tx.Apply(ctx, states)
	if err != nil {
		return nil, err
	}
	if len(refused) != len(batch) {
		return nil, wallet.Errorf(wallet.EINTERNAL, "history log: the store gave %d outcomes for %d changes", len(refused), len(batch))
	}
	if !l.known || size != l.size {
		if err := l.load(ctx, tx, size); err != nil {
			return nil, err
		}
	}
	results, leaves, hashes, cp, heads, overlay, err := l.build(ctx, tx, batch, refused)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx, l.size, leaves, hashes, cp); err != nil {
		return nil, err
	}
	committed = true
	end := l.size + int64(len(leaves))
	if len(leaves) == 0 {
		return results, nil
	}
	if len(l.heads)+len(heads) > maxCachedHeads {
		l.heads = map[string]Head{}
	}
	for p, h := range heads {
		l.heads[p] = h
	}
	next := make(map[int64]tlog.Hash)
	for _, x := range frontierIndexes(end) {
		next[x] = overlay[x]
	}
	l.frontier, l.size = next, end
	return results, nil
}

// load reads, in tx, the hashes on the right edge of a tree of size leaves
// and forgets the cached heads.
func (l *Log) load(ctx context.Context, tx AppendTx, size int64) error {
	idx := frontierIndexes(size)
	var hs []tlog.Hash
	if len(idx) > 0 {
		var err error
		if hs, err = tx.ReadHashes(ctx, idx); err != nil {
			return err
		}
		if len(hs) != len(idx) {
			return wallet.Errorf(wallet.EINTERNAL, "history log: store returned %d hashes for %d indexes", len(hs), len(idx))
		}
	}
	l.frontier = make(map[int64]tlog.Hash, len(idx))
	for i, x := range idx {
		l.frontier[x] = hs[i]
	}
	l.size, l.known = size, true
	l.heads = map[string]Head{}
	return nil
}

// build makes the leaves, stored hashes and signed checkpoint of the
// changes that applied (refused[i] == nil), on the known state, reading in
// tx the chains' heads that are not cached. It returns each request's
// outcome, what to store, the chains' new heads and the hashes of the
// grown tree's right edge.
func (l *Log) build(ctx context.Context, tx AppendTx, batch []*request, refused []error) ([]result, []StoredLeaf, []tlog.Hash, StoredCheckpoint, map[string]Head, map[int64]tlog.Hash, error) {
	fail := func(err error) ([]result, []StoredLeaf, []tlog.Hash, StoredCheckpoint, map[string]Head, map[int64]tlog.Hash, error) {
		return nil, nil, nil, StoredCheckpoint{}, nil, nil, err
	}
	// The chains: the latest event of every subject of the batch.
	pseudo := map[string]string{} // subject → pseudonym
	var unknown []string
	heads := map[string]Head{}
	n := 0
	for i, r := range batch {
		if refused[i] != nil {
			continue
		}
		for _, e := range r.change.Entries {
			n++
			for _, s := range e.Subjects {
				if _, ok := pseudo[s]; ok {
					continue
				}
				p := l.Pseudonym(s)
				pseudo[s] = p
				if h, ok := l.heads[p]; ok {
					heads[p] = h
				} else {
					unknown = append(unknown, p)
				}
			}
		}
	}
	if len(unknown) > 0 {
		stored, err := tx.SubjectHeads(ctx, unknown)
		if err != nil {
			return fail(err)
		}
		for p, h := range stored {
			heads[p] = h
		}
	}

	results := make([]result, len(batch))
	overlay := make(map[int64]tlog.Hash, len(l.frontier)+4*n)
	for k, v := range l.frontier {
		overlay[k] = v
	}
	reader := overlayReader{overlay: overlay}
	leaves := make([]StoredLeaf, 0, n)
	var hashes []tlog.Hash
	index := l.size
	for i, r := range batch {
		if refused[i] != nil {
			results[i] = result{err: refused[i]}
			continue
		}
		results[i].indexes = make([]int64, len(r.change.Entries))
		for j, e := range r.change.Entries {
			leaf, err := l.leaf(e, pseudo, heads, index, reader, overlay, &hashes)
			if err != nil {
				return fail(err)
			}
			leaves = append(leaves, leaf)
			results[i].indexes[j] = index
			index++
		}
	}
	if len(leaves) == 0 {
		return results, nil, nil, StoredCheckpoint{}, heads, overlay, nil
	}
	root, err := tlog.TreeHash(index, reader)
	if err != nil {
		return fail(wallet.Wrap(wallet.EINTERNAL, err, "history log: tree hash"))
	}
	signed, err := SignCheckpoint(Checkpoint{Origin: l.keys.Origin, Size: index, Root: root}, l.keys.Signer)
	if err != nil {
		return fail(err)
	}
	return results, leaves, hashes, StoredCheckpoint{Size: index, Root: root, Note: signed}, heads, overlay, nil
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
		p := pseudo[s]
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
	return StoredLeaf{Index: index, Data: data, Hash: hs[0], At: e.At, Parties: leaf.Parties, Payload: payload, Record: e.Record}, nil
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
