package historylogtest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog"
	"golang.org/x/mod/sumdb/tlog"
)

// Tamperable is a store the audit suite may change behind its back.
type Tamperable struct {
	Store historylog.LogStore
	// Exec runs one SQL statement directly on the store's database, as an
	// operator with write access to the tables would. Placeholders are
	// written "?"; the PostgreSQL harness numbers them.
	Exec func(t *testing.T, query string, args ...any)
}

// RunAuditTests runs the audit suite: a log is built with a Log, tampered
// with by direct SQL, and Audit must name the first bad index. newStore
// must return a fresh, empty, migrated store.
func RunAuditTests(t *testing.T, newStore func(t *testing.T) Tamperable) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Tamperable)
	}{
		{"IntactLogPasses", testAuditIntact},
		{"FlippedByteInALeaf", testAuditFlippedByte},
		{"DeletedLeaf", testAuditDeletedLeaf},
		{"SwappedLeaves", testAuditSwappedLeaves},
		{"TruncatedLog", testAuditTruncated},
		{"CheckpointResignedWithAnotherKey", testAuditResigned},
		{"EventRemovedFromASubjectsChain", testAuditChainRemoved},
		{"ChangedPayload", testAuditPayload},
		{"ChangedStoredHash", testAuditStoredHash},
		{"LeafAppendedWithoutCheckpoint", testAuditUncovered},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// buildLog appends n events, one per batch (so there is a checkpoint at
// every size), and returns the keys. Subject citizen(0) is a party of
// leaves 2, 5 and 8; every other subject of 0..9 appears once.
func buildLog(t *testing.T, s historylog.LogStore) historylog.Keys {
	keys := newKeys(t)
	l := newLog(t, s, keys, 0)
	for i := range 10 {
		owner := citizen(100 + i)
		if i%3 == 2 {
			owner = citizen(0)
		}
		mustAppend(t, l, entry(owner, citizen(200+i), t0.Add(time.Duration(i)*time.Second)))
	}
	l.Close()
	mustAudit(t, s, keys)
	return keys
}

// wantBad runs Audit and checks it fails at index, for the reason
// containing reason.
func wantBad(t *testing.T, s historylog.LogStore, keys historylog.Keys, index int64, reason string) *historylog.AuditError {
	t.Helper()
	_, err := historylog.Audit(context.Background(), s, keys.VerifierKey)
	var ae *historylog.AuditError
	if !errors.As(err, &ae) {
		t.Fatalf("audit of a tampered log: %v, want an *AuditError", err)
	}
	if ae.Index != index || !strings.Contains(ae.Error(), reason) {
		t.Fatalf("audit: %v; want index %d and %q", ae, index, reason)
	}
	t.Logf("detected: %v", ae)
	return ae
}

func leafAt(t *testing.T, s historylog.LogStore, i int64) historylog.StoredLeaf {
	t.Helper()
	ls, err := s.Leaves(context.Background(), i, 1)
	if err != nil || len(ls) != 1 || ls[0].Index != i {
		t.Fatalf("leaf %d: %v, %v", i, ls, err)
	}
	return ls[0]
}

func testAuditIntact(t *testing.T, s Tamperable) {
	keys := buildLog(t, s.Store)
	rep := mustAudit(t, s.Store, keys)
	if rep.Size != 10 || rep.Checkpoints != 10 || rep.Subjects != 18 || rep.Payloads != 10 {
		t.Fatalf("audit report %+v", rep)
	}
	// Another key does not pass the same log.
	if _, err := historylog.Audit(context.Background(), s.Store, newKeys(t).VerifierKey); err == nil {
		t.Fatal("audit passed with another verifier key")
	}
}

func testAuditFlippedByte(t *testing.T, s Tamperable) {
	keys := buildLog(t, s.Store)
	l := leafAt(t, s.Store, 5)
	l.Data[20] ^= 0x01 // in the event time: still a well-formed leaf
	s.Exec(t, `UPDATE log_leaves SET leaf = ? WHERE idx = ?`, l.Data, int64(5))
	wantBad(t, s.Store, keys, 5, "leaf hash")
}

func testAuditDeletedLeaf(t *testing.T, s Tamperable) {
	keys := buildLog(t, s.Store)
	s.Exec(t, `DELETE FROM log_leaves WHERE idx = ?`, int64(5))
	wantBad(t, s.Store, keys, 5, "leaf missing")
}

func testAuditSwappedLeaves(t *testing.T, s Tamperable) {
	keys := buildLog(t, s.Store)
	a, b := leafAt(t, s.Store, 3), leafAt(t, s.Store, 7)
	// Leaves and their leaf hashes change places, consistently.
	s.Exec(t, `UPDATE log_leaves SET leaf = ?, leaf_hash = ? WHERE idx = ?`, b.Data, b.Hash[:], int64(3))
	s.Exec(t, `UPDATE log_leaves SET leaf = ?, leaf_hash = ? WHERE idx = ?`, a.Data, a.Hash[:], int64(7))
	wantBad(t, s.Store, keys, 3, "stored hash")
}

func testAuditTruncated(t *testing.T, s Tamperable) {
	keys := buildLog(t, s.Store)
	// Leaves 8 and 9 go, with their hashes, chains and payloads; the
	// checkpoints of sizes 9 and 10 stay.
	s.Exec(t, `DELETE FROM log_leaves WHERE idx >= ?`, int64(8))
	s.Exec(t, `DELETE FROM log_hashes WHERE id >= ?`, tlog.StoredHashIndex(0, 8))
	s.Exec(t, `DELETE FROM log_parties WHERE leaf_index >= ?`, int64(8))
	s.Exec(t, `DELETE FROM log_payloads WHERE leaf_index >= ?`, int64(8))
	wantBad(t, s.Store, keys, 8, "checkpoint claims 10 leaves")
}

func testAuditResigned(t *testing.T, s Tamperable) {
	keys := buildLog(t, s.Store)
	cps, err := s.Store.Checkpoints(context.Background(), 6, 1)
	if err != nil || len(cps) != 1 {
		t.Fatal(cps, err)
	}
	// The same body, signed with another key of the same name.
	other, err := historylog.NewKeys(Origin, nil)
	if err != nil {
		t.Fatal(err)
	}
	resigned, err := historylog.SignCheckpoint(historylog.Checkpoint{Origin: Origin, Size: 6, Root: cps[0].Root}, other.Signer)
	if err != nil {
		t.Fatal(err)
	}
	s.Exec(t, `UPDATE log_checkpoints SET note = ? WHERE size = ?`, string(resigned), int64(6))
	ae := wantBad(t, s.Store, keys, 5, "not signed by the log's key")
	if ae.CheckpointSize != 6 {
		t.Fatalf("bad checkpoint size %d, want 6", ae.CheckpointSize)
	}
}

func testAuditChainRemoved(t *testing.T, s Tamperable) {
	keys := buildLog(t, s.Store)
	leaves := allLeaves(t, s.Store)
	// Rebuild the whole log without leaf 5 (citizen(0)'s second event),
	// consistently hashed and signed with the real key: every tree and
	// checkpoint check passes, only citizen(0)'s chain shows the gap.
	for _, table := range []string{"log_checkpoints", "log_payloads", "log_parties", "log_hashes", "log_leaves"} {
		s.Exec(t, `DELETE FROM `+table)
	}
	var kept []historylog.StoredLeaf
	for _, l := range leaves {
		if l.Index != 5 {
			kept = append(kept, l)
		}
	}
	for i, l := range kept {
		if first := appendRaw(t, s.Store, keys, [][]byte{l.Data}, [][]byte{l.Payload}); first != int64(i) {
			t.Fatalf("rebuilt leaf at %d, want %d", first, i)
		}
	}
	// Old leaf 8 is now at 7: citizen(0)'s seq 3 follows seq 1.
	wantBad(t, s.Store, keys, 7, "chain broken")
}

func testAuditPayload(t *testing.T, s Tamperable) {
	keys := buildLog(t, s.Store)
	s.Exec(t, `UPDATE log_payloads SET payload = ? WHERE leaf_index = ?`, []byte(`{"owner":"someone else"}`), int64(4))
	wantBad(t, s.Store, keys, 4, "payload")
}

func testAuditStoredHash(t *testing.T, s Tamperable) {
	keys := buildLog(t, s.Store)
	// An inner node: the hash that leaf 7 completed, over leaves 4..7.
	s.Exec(t, `UPDATE log_hashes SET hash = ? WHERE id = ?`, make([]byte, 32), tlog.StoredHashIndex(2, 1))
	wantBad(t, s.Store, keys, 7, "stored hash")
}

func testAuditUncovered(t *testing.T, s Tamperable) {
	keys := buildLog(t, s.Store)
	// A leaf slipped in at the end, with its hashes, but no checkpoint.
	d := leafBytes(t, "view", 9, 1, -1, nil)
	ls, hs, _ := batch(t, s.Store, keys, 10, [][]byte{d}, nil)
	s.Exec(t, `INSERT INTO log_leaves (idx, leaf, leaf_hash) VALUES (?, ?, ?)`, int64(10), d, ls[0].Hash[:])
	for i, h := range hs {
		s.Exec(t, `INSERT INTO log_hashes (id, hash) VALUES (?, ?)`, tlog.StoredHashIndex(0, 10)+int64(i), h[:])
	}
	wantBad(t, s.Store, keys, 10, "covered by no checkpoint")
}
