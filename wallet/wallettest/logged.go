package wallettest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
	"golang.org/x/mod/sumdb/tlog"
)

// Store is what the suites run on: the wallet's store that is also its
// history log's store, and lists its history rows for history.Audit, as
// wallet/sqlite and wallet/postgres do. Shares, consents, views, events and
// document versions are written only through the log (wallet.Change,
// committed by history.Recorder), in the same transaction as their leaves.
type Store interface {
	wallet.Store
	history.AuditStore // historylog.LogStore and the rows
}

// Origin is the origin of the suites' history logs.
const Origin = "qujat.test/wallet"

// logged is a store under test with a history log on it, committing
// changes as the service does. Reads go to the store itself.
type logged struct {
	Store
	hooks *hooks
	log   *historylog.Log
	keys  historylog.Keys
	rec   history.Recorder
}

// withLog starts a history log, with fresh test keys, on s (through hooks
// that the tests may arm) and a Recorder on it. When the test ends the log
// is closed and the store must pass history.Audit: the log, and every
// view, event and document version against its leaf.
func withLog(t testing.TB, s Store) *logged {
	t.Helper()
	keys := logKeys(t)
	h := newHooks(s)
	l, err := historylog.New(historylog.Config{Store: h, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Close()
		h.open() // a test that failed while holding a batch
		if _, test := t.(*testing.T); !test || t.Failed() {
			return // benchmarks are not audited
		}
		// The log, and every row against its leaf.
		if _, err := history.Audit(context.Background(), s, keys.VerifierKey); err != nil {
			t.Errorf("the test's store does not pass the audit: %v", err)
		}
	})
	return &logged{Store: s, hooks: h, log: l, keys: keys, rec: history.Recorder{Log: l}}
}

// logKeys returns fresh in-memory keys for Origin.
func logKeys(t testing.TB) historylog.Keys {
	t.Helper()
	keys, err := historylog.NewKeys(Origin, nil)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// commit commits a change through the Recorder.
func (s *logged) commit(ctx context.Context, c wallet.Change) ([]int64, error) {
	return s.rec.Commit(ctx, c)
}

// do commits a change of ops only (no history).
func (s *logged) do(ops ...wallet.Op) error {
	_, err := s.commit(context.Background(), wallet.Change{Ops: ops})
	return err
}

func (s *logged) createShare(sh wallet.Share) error { return s.do(wallet.CreateShare{Share: sh}) }

func (s *logged) revokeShare(id string, at time.Time) error {
	return s.do(wallet.RevokeShare{ID: id, At: at})
}

// redeem commits a redemption and returns its view's log index.
func (s *logged) redeem(shareID string, v wallet.View) (int64, error) {
	idx, err := s.commit(context.Background(), wallet.Change{Ops: []wallet.Op{wallet.RedeemShare{ShareID: shareID, View: v}}})
	if err != nil {
		return -1, err
	}
	return idx[0], nil
}

func (s *logged) createConsent(c wallet.Consent) error {
	return s.do(wallet.CreateConsent{Consent: c})
}

// updateConsent commits an UpdateConsent and returns the stored consent.
func (s *logged) updateConsent(id string, update func(wallet.Consent) (wallet.Consent, error)) (wallet.Consent, error) {
	var c wallet.Consent
	err := s.do(wallet.UpdateConsent{ID: id, Update: update, Result: &c})
	if err != nil {
		return wallet.Consent{}, err
	}
	return c, nil
}

func (s *logged) appendVersion(d wallet.StoredDocument, v wallet.Version) error {
	return s.do(wallet.AppendVersion{Document: d, Version: v})
}

// recordView commits a view that is not a redemption and returns its log index.
func (s *logged) recordView(v wallet.View) (int64, error) {
	idx, err := s.commit(context.Background(), wallet.Change{Views: []wallet.View{v}})
	if err != nil {
		return -1, err
	}
	return idx[0], nil
}

// appendEvent commits an event and returns its log index.
func (s *logged) appendEvent(e wallet.Event) (int64, error) {
	idx, err := s.commit(context.Background(), wallet.Change{Events: []wallet.Event{e}})
	if err != nil {
		return -1, err
	}
	return idx[0], nil
}

// logSize returns the number of leaves.
func (s *logged) logSize(t testing.TB) int64 {
	t.Helper()
	n, err := s.LogSize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkLeaf fails the test unless the leaf at index is an entry of kind
// with the subjects as parties and the payload want.
func (s *logged) checkLeaf(t testing.TB, index int64, want historylog.Entry) {
	t.Helper()
	ctx := context.Background()
	leaf, _, err := s.log.Leaf(ctx, index)
	if err != nil {
		t.Fatalf("leaf %d: %v", index, err)
	}
	if leaf.Kind != want.Kind || !leaf.At.Equal(want.At) {
		t.Fatalf("leaf %d is a %s at %v, want a %s at %v", index, leaf.Kind, leaf.At, want.Kind, want.At)
	}
	for _, sub := range want.Subjects {
		if !leaf.HasParty(s.log.Pseudonym(sub)) {
			t.Fatalf("leaf %d: %s is not a party", index, sub)
		}
	}
	p, err := s.log.Payload(ctx, index)
	if err != nil || string(p) != string(want.Payload) {
		t.Fatalf("payload of leaf %d = %s, %v; want %s", index, p, err, want.Payload)
	}
}

// checkViewLeaf checks that the leaf at index logs view v (as stored).
func (s *logged) checkViewLeaf(t testing.TB, index int64, v wallet.View) {
	t.Helper()
	e, err := history.ViewEntry(v)
	if err != nil {
		t.Fatal(err)
	}
	e.At = us(e.At)
	s.checkLeaf(t, index, e)
}

// checkEventLeaf checks that the leaf at index logs event e.
func (s *logged) checkEventLeaf(t testing.TB, index int64, e wallet.Event) {
	t.Helper()
	en, err := history.EventEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	en.At = us(en.At)
	s.checkLeaf(t, index, en)
}

// hooks wraps the LogStore a test's log runs on. Armed, it holds the
// first batch until released (gated), fails every batch's Commit before
// anything is committed and after its states were applied (fail), or
// spoils one batch's checkpoint so that the store's Commit refuses it
// after the states were applied (spoil). It records what each batch
// applied and stored.
type hooks struct {
	historylog.LogStore

	gated   atomic.Bool
	entered chan struct{} // closed when a gated batch is held
	release chan struct{}
	holdOne sync.Once
	openOne sync.Once

	fail atomic.Bool

	mu      sync.Mutex
	batches []batchSeen
	spoil   int // the Commit call (1, 2, ...) to spoil; 0 for none
}

// batchSeen is one batch that reached Commit: its states and its leaves.
type batchSeen struct{ states, leaves int }

// errLeafWrite is the failure fail injects.
var errLeafWrite = errors.New("the history log's write failed")

func newHooks(s historylog.LogStore) *hooks {
	return &hooks{LogStore: s, entered: make(chan struct{}), release: make(chan struct{})}
}

// gate makes the next batch (once) wait until open is called.
func (h *hooks) gate() { h.gated.Store(true) }

// open releases a held batch.
func (h *hooks) open() { h.openOne.Do(func() { close(h.release) }) }

// commits returns how many batches reached Commit.
func (h *hooks) commits() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.batches)
}

// spoilBatch spoils the n-th batch (counting from 1) to reach Commit.
func (h *hooks) spoilBatch(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.spoil = n
}

func (h *hooks) seen() []batchSeen {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]batchSeen(nil), h.batches...)
}

func (h *hooks) BeginAppend(ctx context.Context) (historylog.AppendTx, error) {
	if h.gated.Load() {
		h.holdOne.Do(func() {
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

type hookTx struct {
	historylog.AppendTx
	h      *hooks
	states int
}

func (x *hookTx) Apply(ctx context.Context, states []any) (int64, []error, error) {
	x.states = len(states)
	return x.AppendTx.Apply(ctx, states)
}

func (x *hookTx) Commit(ctx context.Context, first int64, leaves []historylog.StoredLeaf, hashes []tlog.Hash, cp historylog.StoredCheckpoint) error {
	x.h.mu.Lock()
	x.h.batches = append(x.h.batches, batchSeen{x.states, len(leaves)})
	spoil := len(x.h.batches) == x.h.spoil
	x.h.mu.Unlock()
	if x.h.fail.Load() {
		return wallet.Wrap(wallet.EUNAVAILABLE, errLeafWrite, "history log: store failed")
	}
	if spoil {
		cp.Note = nil // CheckBatch refuses it inside the store's Commit
	}
	return x.AppendTx.Commit(ctx, first, leaves, hashes, cp)
}

// waitQueued waits until n callers queue behind a held batch, so that the
// next batch is made of exactly them.
func waitQueued(t testing.TB, l *historylog.Log, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for l.Queued() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d callers queued after 30 s, want %d", l.Queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}
