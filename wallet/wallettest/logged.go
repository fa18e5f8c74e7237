package wallettest

import (
	"context"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/historylog/historylogtest"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
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
	faults *historylogtest.Faults // the log's store: Store, with faults a test may arm
	log    *historylog.Log
	keys   historylog.Keys
	rec    history.Recorder
}

// withLog starts a history log, with fresh test keys, on s (through
// Faults that the tests may arm) and a Recorder on it (StartLog).
func withLog(t testing.TB, s Store) *logged {
	t.Helper()
	f := historylogtest.NewFaults(s)
	l, keys := StartLog(t, s, f)
	return &logged{Store: s, faults: f, log: l, keys: keys, rec: history.Recorder{Log: l}}
}

// StartLog starts a history log with fresh test keys on logStore (the
// store itself, or a wrapper of it such as historylogtest.Faults). When
// the test ends the log is closed and, unless the test failed or is a
// benchmark, the store must pass history.Audit: the log, and every view,
// event and document version against its leaf. A Faults wrapper is
// released first, for a test that failed while holding a batch.
func StartLog(t testing.TB, store history.AuditStore, logStore historylog.LogStore) (*historylog.Log, historylog.Keys) {
	t.Helper()
	keys := logKeys(t)
	l, err := historylog.New(historylog.Config{Store: logStore, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Close()
		if f, ok := logStore.(*historylogtest.Faults); ok {
			f.Release()
		}
		if _, test := t.(*testing.T); !test || t.Failed() {
			return // benchmarks are not audited
		}
		if _, err := history.Audit(context.Background(), store, keys.VerifierKey); err != nil {
			t.Errorf("the test's store does not pass the audit: %v", err)
		}
	})
	return l, keys
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
