// Package historylogtest holds the conformance suite that every
// historylog.LogStore must pass, the suite of the Log service and of Audit
// run on each store, and benchmarks of appending.
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

// citizen returns the subject of the i-th test citizen.
func citizen(i int) string { return fmt.Sprintf("9001011%05d", i) }

// entry returns a view of citizen owner's document by viewer.
func entry(owner, viewer string, at time.Time) historylog.Entry {
	return historylog.Entry{
		Kind:     historylog.KindView,
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

// batch builds valid AppendBatch arguments for raw leaf bytes appended at
// first onto the tree in s, signed with keys.
func batch(t testing.TB, s historylog.LogStore, keys historylog.Keys, first int64, data [][]byte, payloads [][]byte) ([]historylog.StoredLeaf, []tlog.Hash, historylog.StoredCheckpoint) {
	t.Helper()
	ctx := context.Background()
	overlay := map[int64]tlog.Hash{}
	store := historylog.HashReader(ctx, s)
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			h, ok := overlay[x]
			if !ok {
				hs, err := store.ReadHashes([]int64{x})
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
			t.Fatal(err)
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
		t.Fatal(err)
	}
	note, err := historylog.SignCheckpoint(historylog.Checkpoint{Origin: keys.Origin, Size: size, Root: root}, keys.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return leaves, hashes, historylog.StoredCheckpoint{Size: size, Root: root, Note: note}
}

// leafBytes returns a valid leaf for a party with the given chain position.
func leafBytes(t testing.TB, kind string, pseudonym byte, seq, prev int64, payload []byte) []byte {
	t.Helper()
	l := historylog.Leaf{Kind: kind, At: t0.Truncate(time.Microsecond).UTC(),
		Parties: []historylog.Party{{Subject: fmt.Sprintf("%064x", []byte{pseudonym}), Seq: seq, Prev: prev}}}
	l.Salt[0] = byte(seq)
	l.PayloadHash = historylog.PayloadCommitment(l.Salt, payload)
	b, err := l.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

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
