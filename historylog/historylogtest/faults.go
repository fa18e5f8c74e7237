package historylogtest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/tlog"
)

// Faults is a historylog.LogStore (the one it embeds) that steers the
// batches of a Log running on it, for tests of what the Log and the
// services on it do when a batch is held or fails. Armed, it
//   - holds the next batch, before its transaction begins, until released
//     (Gate, Release);
//   - fails every batch's BeginAppend, as a database that went away
//     (FailBegins);
//   - fails every batch's Commit after its states were applied and before
//     anything is committed (FailCommits);
//   - spoils one batch's checkpoint, so that the store's own Commit
//     refuses it after the states were applied (SpoilBatch).
//
// It records what each batch that reached Commit applied and stored
// (Batches). The zero value is not usable: use NewFaults.
type Faults struct {
	historylog.LogStore

	failBegins  atomic.Bool
	failCommits atomic.Bool

	mu      sync.Mutex
	gate    *gate       // the latest Gate, nil before any
	batches []BatchSeen // one per Commit call, failed ones included
	spoil   int         // the Commit call (1, 2, ...) to spoil; 0 for none
}

// BatchSeen is one batch that reached Commit.
type BatchSeen struct {
	States int // the states it applied
	Leaves int // the leaves it had to store
	// Failed is set when FailCommits failed its Commit. A spoiled batch,
	// which the store refused, is not marked.
	Failed bool
}

// ErrFault is what the errors of FailBegins and FailCommits wrap (as
// EUNAVAILABLE), for errors.Is.
var ErrFault = errors.New("historylogtest: injected fault")

// gate holds one batch.
type gate struct {
	held    chan struct{} // closed when the batch is held
	release chan struct{}
	taken   bool // a batch is, or was, held by it; guarded by Faults.mu
	open    sync.Once
}

// NewFaults wraps store, with no fault armed.
func NewFaults(store historylog.LogStore) *Faults {
	return &Faults{LogStore: store}
}

// Gate makes the next batch wait, before its transaction begins, until
// Release is called. The channel it returns is closed once that batch is
// held. Arming a Gate again before the last one held a batch replaces
// that one, whose channel then never closes.
func (f *Faults) Gate() (held <-chan struct{}) {
	g := &gate{held: make(chan struct{}), release: make(chan struct{})}
	f.mu.Lock()
	f.gate = g
	f.mu.Unlock()
	return g.held
}

// Release lets the batch held by the latest Gate go on, or, if none is held
// yet, disarms that Gate. It may be called more than once (a test's cleanup
// may call it in case the test failed while holding a batch).
func (f *Faults) Release() {
	f.mu.Lock()
	g := f.gate
	f.mu.Unlock()
	if g != nil {
		g.open.Do(func() { close(g.release) })
	}
}

// FailBegins makes every batch's BeginAppend fail, while on, with an
// EUNAVAILABLE error: the batch's transaction cannot even begin.
func (f *Faults) FailBegins(on bool) { f.failBegins.Store(on) }

// FailCommits makes every batch's Commit fail, while on, with an
// EUNAVAILABLE error wrapping ErrFault, after its states were applied and
// before anything is committed: nothing of the batch is stored. The Log
// rolls its transaction back.
func (f *Faults) FailCommits(on bool) { f.failCommits.Store(on) }

// SpoilBatch spoils the n-th batch (counting from 1) to reach Commit: its
// checkpoint loses its note, so that the store's own Commit refuses it
// (CheckBatch) after its states were applied.
func (f *Faults) SpoilBatch(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.spoil = n
}

// Commits returns how many batches reached Commit.
func (f *Faults) Commits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.batches)
}

// Batches returns the batches that reached Commit, in order.
func (f *Faults) Batches() []BatchSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]BatchSeen(nil), f.batches...)
}

// WantFailedLeaves fails t unless a batch that FailCommits failed had
// leaves. A change gets leaves only if its state applied in the
// transaction, so this shows that the fault struck after a state change
// ran.
func (f *Faults) WantFailedLeaves(t testing.TB) {
	t.Helper()
	for _, b := range f.Batches() {
		if b.Failed && b.Leaves > 0 {
			return
		}
	}
	t.Fatal("the fault did not strike a change that had applied")
}

func (f *Faults) BeginAppend(ctx context.Context) (historylog.AppendTx, error) {
	f.mu.Lock()
	g := f.gate
	hold := g != nil && !g.taken
	if hold {
		g.taken = true
	}
	f.mu.Unlock()
	if hold {
		close(g.held)
		<-g.release
	}
	if f.failBegins.Load() {
		return nil, wallet.Wrap(wallet.EUNAVAILABLE, ErrFault, "history log: database unavailable")
	}
	tx, err := f.LogStore.BeginAppend(ctx)
	if err != nil {
		return nil, err
	}
	return &faultsTx{AppendTx: tx, f: f}, nil
}

// faultsTx is a batch's transaction under Faults.
type faultsTx struct {
	historylog.AppendTx
	f      *Faults
	states int
}

func (x *faultsTx) Apply(ctx context.Context, states []any) (int64, []error, error) {
	x.states = len(states)
	return x.AppendTx.Apply(ctx, states)
}

func (x *faultsTx) Commit(ctx context.Context, first int64, leaves []historylog.StoredLeaf, hashes []tlog.Hash, cp historylog.StoredCheckpoint) error {
	fail := x.f.failCommits.Load()
	x.f.mu.Lock()
	x.f.batches = append(x.f.batches, BatchSeen{States: x.states, Leaves: len(leaves), Failed: fail})
	spoil := len(x.f.batches) == x.f.spoil
	x.f.mu.Unlock()
	if fail {
		return wallet.Wrap(wallet.EUNAVAILABLE, ErrFault, "history log: store failed")
	}
	if spoil {
		cp.Note = nil // CheckBatch refuses it inside the store's Commit
	}
	return x.AppendTx.Commit(ctx, first, leaves, hashes, cp)
}
