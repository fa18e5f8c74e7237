// Package historylogtest holds the conformance suite that every
// historylog.LogStore must pass, the suite of the Log service and of Audit
// run on each store, and benchmarks of appending. The suites know nothing
// of the wallet: they apply no state but nil (which always applies) and
// states of their own that a wrapper around the store turns into nil
// (suiteStates). What a wallet store does with the wallet's ops, in the
// same transaction as the leaves, is checked by wallet/wallettest. Faults,
// a LogStore that holds or fails a Log's batches, serves the tests of the
// services that run on a Log too.
//
// An adapter wires them in a few lines:
//
//	func TestLogStore(t *testing.T) {
//		historylogtest.RunLogStoreTests(t, func(t *testing.T) historylog.LogStore { ... a fresh, migrated store ... })
//	}
package historylogtest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/tlog"
)

// Origin is the origin of the logs the suites build.
const Origin = "qujat.test/log"

// kindView is the kind of the suites' entries (a view, as the wallet
// logs one; the log itself knows no kinds).
const kindView = "view"

// t0 has nanoseconds and a zone other than UTC, so that the suites check
// times are truncated to microseconds and read back in UTC.
var t0 = time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.FixedZone("ALMT", 5*60*60))

// newKeys returns fresh in-memory keys for Origin.
func newKeys(t testing.TB) historylog.Keys {
	t.Helper()
	k, err := historylog.NewKeys(Origin, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newLog starts a Log on s and closes it when the test ends.
func newLog(t testing.TB, s historylog.LogStore, keys historylog.Keys, maxBatch int) *historylog.Log {
	t.Helper()
	l, err := historylog.New(historylog.Config{Store: s, Keys: keys, MaxBatch: maxBatch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// WaitQueued waits, up to 30 seconds, until n callers queue behind the
// batch l runs (held by a Gate), so that the next batch is made of exactly
// them.
func WaitQueued(t testing.TB, l *historylog.Log, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for l.Queued() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d callers queued after 30 s, want %d", l.Queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// citizen returns the subject of the i-th test citizen.
func citizen(i int) string { return fmt.Sprintf("9001011%05d", i) }

// entry returns a view of citizen owner's document by viewer.
func entry(owner, viewer string, at time.Time) historylog.Entry {
	return historylog.Entry{
		Kind:     kindView,
		At:       at,
		Subjects: []string{owner, viewer},
		Payload:  []byte(fmt.Sprintf(`{"owner":%q,"viewer":%q}`, owner, viewer)),
	}
}

// mustAppend appends and fails the test on error.
func mustAppend(t testing.TB, l *historylog.Log, entries ...historylog.Entry) []int64 {
	t.Helper()
	idx, err := l.Append(context.Background(), entries...)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return idx
}

// mustAudit runs Audit and fails the test if the log does not pass.
func mustAudit(t testing.TB, s historylog.LogStore, keys historylog.Keys) historylog.AuditReport {
	t.Helper()
	rep, err := historylog.Audit(context.Background(), s, keys.VerifierKey)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	return rep
}

// wantCode fails the test unless err carries code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := wallet.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

// hashReader reads stored hashes: a LogStore, or an AppendTx inside its
// transaction (which an in-memory SQLite store, on one connection, needs
// while the transaction is open).
type hashReader interface {
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
}

// batch builds valid AppendTx.Commit arguments for raw leaf bytes appended
// at first onto the tree that r reads, signed with keys.
func batch(t testing.TB, r hashReader, keys historylog.Keys, first int64, data [][]byte, payloads [][]byte) ([]historylog.StoredLeaf, []tlog.Hash, historylog.StoredCheckpoint) {
	t.Helper()
	leaves, hashes, cp, err := buildBatch(r, keys, first, data, payloads)
	if err != nil {
		t.Fatalf("build a batch at %d: %v", first, err)
	}
	return leaves, hashes, cp
}

// buildBatch is batch for goroutines: it returns its error.
func buildBatch(r hashReader, keys historylog.Keys, first int64, data [][]byte, payloads [][]byte) ([]historylog.StoredLeaf, []tlog.Hash, historylog.StoredCheckpoint, error) {
	ctx := context.Background()
	overlay := map[int64]tlog.Hash{}
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			h, ok := overlay[x]
			if !ok {
				hs, err := r.ReadHashes(ctx, []int64{x})
				if err != nil {
					return nil, err
				}
				h = hs[0]
			}
			out[i] = h
		}
		return out, nil
	})
	var (
		leaves []historylog.StoredLeaf
		hashes []tlog.Hash
	)
	for i, d := range data {
		n := first + int64(i)
		hs, err := tlog.StoredHashes(n, d, reader)
		if err != nil {
			return nil, nil, historylog.StoredCheckpoint{}, err
		}
		for k, h := range hs {
			overlay[tlog.StoredHashIndex(0, n)+int64(k)] = h
		}
		hashes = append(hashes, hs...)
		l := historylog.StoredLeaf{Index: n, Data: d, Hash: hs[0], At: t0}
		if leaf, err := historylog.ParseLeaf(d); err == nil {
			l.Parties, l.At = leaf.Parties, leaf.At
		}
		if payloads != nil {
			l.Payload = payloads[i]
		}
		leaves = append(leaves, l)
	}
	size := first + int64(len(data))
	root, err := tlog.TreeHash(size, reader)
	if err != nil {
		return nil, nil, historylog.StoredCheckpoint{}, err
	}
	note, err := historylog.SignCheckpoint(historylog.Checkpoint{Origin: keys.Origin, Size: size, Root: root}, keys.Signer)
	if err != nil {
		return nil, nil, historylog.StoredCheckpoint{}, err
	}
	return leaves, hashes, historylog.StoredCheckpoint{Size: size, Root: root, Note: note}, nil
}

// begin starts an append on s and applies no state: it returns the
// transaction, holding the log's append lock, and the log's size under it.
// The transaction is rolled back when the test ends if it is still open.
func begin(t testing.TB, s historylog.LogStore) (historylog.AppendTx, int64) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.BeginAppend(ctx)
	if err != nil {
		t.Fatalf("BeginAppend: %v", err)
	}
	t.Cleanup(tx.Rollback)
	size, refused, err := tx.Apply(ctx, nil)
	if err != nil {
		tx.Rollback()
		t.Fatalf("Apply: %v", err)
	}
	if len(refused) != 0 {
		tx.Rollback()
		t.Fatalf("Apply of no state: %d outcomes", len(refused))
	}
	return tx, size
}

// appendRaw appends raw leaves at the end of the log in s, in one
// transaction (BeginAppend, Apply with no state, Commit), and returns
// the first index. The test fails unless the batch is stored.
func appendRaw(t testing.TB, s historylog.LogStore, keys historylog.Keys, data, payloads [][]byte) int64 {
	t.Helper()
	tx, size := begin(t, s)
	defer tx.Rollback()
	leaves, hashes, cp := batch(t, tx, keys, size, data, payloads)
	if err := tx.Commit(context.Background(), size, leaves, hashes, cp); err != nil {
		t.Fatalf("Commit at %d: %v", size, err)
	}
	return size
}

// leafBytes returns a valid leaf for a party with the given chain position.
func leafBytes(t testing.TB, kind string, pseudonym byte, seq, prev int64, payload []byte) []byte {
	t.Helper()
	l := historylog.Leaf{Kind: kind, At: t0.Truncate(time.Microsecond).UTC(),
		Parties: []historylog.Party{{Subject: party(pseudonym), Seq: seq, Prev: prev}}}
	l.Salt[0] = byte(seq)
	l.PayloadHash = historylog.PayloadCommitment(l.Salt, payload)
	b, err := l.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// party is the pseudonym of leafBytes's party n.
func party(n byte) string { return fmt.Sprintf("%064x", []byte{n}) }

// allLeaves reads every leaf of s.
func allLeaves(t testing.TB, s historylog.LogStore) []historylog.StoredLeaf {
	t.Helper()
	var out []historylog.StoredLeaf
	for {
		ls, err := s.Leaves(context.Background(), int64(len(out)), 500)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ls...)
		if len(ls) < 500 {
			return out
		}
	}
}

// openCheckpoint verifies the signed checkpoint with the log's published
// verifier key, as a client would.
func openCheckpoint(t testing.TB, signed []byte, verifierKey string) historylog.Checkpoint {
	t.Helper()
	v, err := noteVerifier(verifierKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := historylog.OpenCheckpoint(signed, v, Origin)
	if err != nil {
		t.Fatalf("checkpoint %q: %v", signed, err)
	}
	return c
}

func hashes2bytes(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = bytes.Clone(hs[i][:])
	}
	return out
}
