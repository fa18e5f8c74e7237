package historylogtest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/tlog"
)

// hookStore wraps a LogStore to steer the Log's batches: it can hold the
// first batch until released, fail Commit before anything is committed (a
// crash), refuse states of its own, and records what each batch applied
// and stored.
type hookStore struct {
	historylog.LogStore

	// gated makes the first BeginAppend wait, once entered is closed,
	// until release is closed.
	gated   bool
	entered chan struct{}
	release chan struct{}
	once    sync.Once

	// fail makes Commit fail with errCrash, without committing.
	fail    atomic.Bool
	commits atomic.Int64 // Commit calls

	mu      sync.Mutex
	batches []batchSeen // one per Commit call, failed ones included
}

// batchSeen is what one batch applied and stored.
type batchSeen struct {
	states, leaves int
}

// refusal is a state the hookStore refuses with err; the store under it
// applies nil in its place.
type refusal struct{ err error }

// accepted is a state the hookStore accepts; the store under it applies
// nil in its place.
type accepted struct{}

var errCrash = errors.New("crash in the middle of the batch")

func newHookStore(s historylog.LogStore) *hookStore {
	return &hookStore{LogStore: s, entered: make(chan struct{}), release: make(chan struct{})}
}

// gate makes the first batch wait until open is called.
func (h *hookStore) gate() *hookStore {
	h.gated = true
	return h
}

// open releases a held batch.
func (h *hookStore) open() { close(h.release) }

func (h *hookStore) BeginAppend(ctx context.Context) (historylog.AppendTx, error) {
	if h.gated {
		h.once.Do(func() {
			close(h.entered)
			<-h.release
		})
	}
	tx, err := h.LogStore.BeginAppend(ctx)
	if err != nil {
		return nil, err
	}
	return &hookTx{AppendTx: tx, h: h}, nil
}

func (h *hookStore) seen() []batchSeen {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]batchSeen(nil), h.batches...)
}

type hookTx struct {
	historylog.AppendTx
	h      *hookStore
	states int
}

func (x *hookTx) Apply(ctx context.Context, states []any) (int64, []error, error) {
	x.states = len(states)
	inner := make([]any, len(states))
	for i, st := range states {
		switch st.(type) {
		case refusal, accepted:
		default:
			inner[i] = st
		}
	}
	size, refused, err := x.AppendTx.Apply(ctx, inner)
	if err != nil || len(refused) != len(states) {
		return size, refused, err
	}
	for i, st := range states {
		if r, ok := st.(refusal); ok {
			refused[i] = r.err
		}
	}
	return size, refused, nil
}

func (x *hookTx) Commit(ctx context.Context, first int64, leaves []historylog.StoredLeaf, hashes []tlog.Hash, cp historylog.StoredCheckpoint) error {
	x.h.commits.Add(1)
	x.h.mu.Lock()
	x.h.batches = append(x.h.batches, batchSeen{states: x.states, leaves: len(leaves)})
	x.h.mu.Unlock()
	if x.h.fail.Load() {
		return wallet.Wrap(wallet.EUNAVAILABLE, errCrash, "history log: store failed")
	}
	return x.AppendTx.Commit(ctx, first, leaves, hashes, cp)
}
