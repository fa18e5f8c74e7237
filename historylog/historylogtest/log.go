package historylogtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/tlog"
)

// RunLogTests runs the suite of the Log service and its proofs on a store.
// newStore must return a fresh, empty, migrated store and close it when
// the test ends. The subtests run in parallel, each on its own store.
func RunLogTests(t *testing.T, newStore func(t *testing.T) historylog.LogStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s historylog.LogStore)
	}{
		{"Append_DenseIndexesLeavesAndPayloads", testAppend},
		{"Append_LargeAndSmallBatchesReadBackAndAudit", testBatchSizes},
		{"Append_InvalidEntriesAppendNothing", testAppendInvalid},
		{"Commit_RefusedStateGetsItsErrorTheRestOfTheBatchGoesOn", testCommitRefused},
		{"Commit_StateWithoutEntriesStoresNoLeaf", testCommitStateOnly},
		{"Checkpoint_EmptyLogAndSignedWithPublishedKey", testCheckpoint},
		{"Proofs_VerifyWithTlogAndRFC6962", testProofs},
		{"Proofs_RejectBadArguments", testProofArgs},
		{"Append_64ConcurrentAppendersDenseAndConsistent", testConcurrentAppenders},
		{"Append_MaxBatch1_OneCheckpointPerEventUnderConcurrency", testOneTxPerEvent},
		{"Append_TwoLogsOnOneStoreNeverConflict", testTwoLogs},
		{"Restart_ContinuesWhereTheLogEnds", testRestart},
		{"CrashInBatch_CallersFailNothingStoredNextBatchSameIndex", testCrashInBatch},
		{"Close_DrainsQueuedEntries", testCloseDrains},
		{"Payload_ErasedButProofsStillVerify", testErasedPayload},
		{"ViewerFetchesLeafCheckpointAndProof", testViewerWalkthrough},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

func testAppend(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	l := newLog(t, s, keys, 0)
	owner, viewer, org := citizen(1), citizen(2), "org:bank-1"
	idx := mustAppend(t, l, entry(owner, viewer, t0), historylog.Entry{
		Kind: wallet.EventConsentGranted, At: t0, Subjects: []string{owner, org, owner}, Payload: []byte("payload-of-the-grant"),
	})
	if len(idx) != 2 || idx[0] != 0 || idx[1] != 1 {
		t.Fatalf("indexes %v, want [0 1]", idx)
	}
	idx = mustAppend(t, l, entry(owner, org, t0.Add(time.Second)))
	if idx[0] != 2 {
		t.Fatalf("index %v, want [2]", idx)
	}
	leaf, raw, err := l.Leaf(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Kind != wallet.EventConsentGranted || !leaf.At.Equal(t0.Truncate(time.Microsecond)) || leaf.At.Location() != time.UTC {
		t.Errorf("leaf 1 = %+v", leaf)
	}
	if len(leaf.Parties) != 2 { // the owner listed twice is one party
		t.Fatalf("leaf 1 has %d parties, want 2", len(leaf.Parties))
	}
	if !leaf.HasParty(l.Pseudonym(owner)) || !leaf.HasParty(l.Pseudonym(org)) || leaf.HasParty(l.Pseudonym(viewer)) {
		t.Errorf("parties of leaf 1 wrong")
	}
	// No personal data in clear: neither the IIN nor the payload.
	if bytes.Contains(raw, []byte(owner)) || bytes.Contains(raw, []byte("bank-1")) || bytes.Contains(raw, []byte("payload-of")) {
		t.Errorf("leaf bytes hold personal data in clear: %q", raw)
	}
	if p, err := l.Payload(ctx, 1); err != nil || string(p) != "payload-of-the-grant" {
		t.Errorf("Payload(1) = %q, %v", p, err)
	}
	// The owner's chain: seq 1, 2, 3 at 0, 1, 2.
	leaf2, _, _ := l.Leaf(ctx, 2)
	for _, p := range leaf2.Parties {
		if p.Subject == l.Pseudonym(owner) && (p.Seq != 3 || p.Prev != 1) {
			t.Errorf("owner at leaf 2: seq %d prev %d, want 3 and 1", p.Seq, p.Prev)
		}
		if p.Subject == l.Pseudonym(org) && (p.Seq != 2 || p.Prev != 1) {
			t.Errorf("organisation at leaf 2: seq %d prev %d, want 2 and 1", p.Seq, p.Prev)
		}
	}
	_, _, err = l.Leaf(ctx, 3)
	wantCode(t, err, wallet.ENOTFOUND)
	_, _, err = l.Leaf(ctx, -1)
	wantCode(t, err, wallet.EINVALID)
	if l.Pseudonym(owner) == l.Pseudonym(viewer) || len(l.Pseudonym(owner)) != 64 {
		t.Errorf("pseudonyms %q, %q", l.Pseudonym(owner), l.Pseudonym(viewer))
	}
	rep := mustAudit(t, s, keys)
	if rep.Size != 3 || rep.Checkpoints != 2 || rep.Subjects != 3 || rep.Payloads != 3 {
		t.Fatalf("audit report %+v", rep)
	}
}

// testBatchSizes appends a batch of 300 entries (more than SQLite takes in
// one multi-row statement, and arrays of hundreds for PostgreSQL's) and
// then one of 3, and reads every leaf, party chain and payload back.
func testBatchSizes(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	l := newLog(t, s, keys, 512)
	owner := citizen(1)
	first := int64(0)
	for _, n := range []int{300, 3} {
		entries := make([]historylog.Entry, n)
		for i := range entries {
			entries[i] = entry(owner, citizen(2+i), t0.Add(time.Duration(i)*time.Second))
		}
		idx := mustAppend(t, l, entries...)
		if len(idx) != n || idx[0] != first || idx[n-1] != first+int64(n-1) {
			t.Fatalf("a batch of %d from %d got indexes %d..%d", n, first, idx[0], idx[len(idx)-1])
		}
		first += int64(n)
	}
	for _, i := range []int64{0, 150, 299, 300, 302} {
		leaf, _, err := l.Leaf(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range leaf.Parties {
			if p.Subject == l.Pseudonym(owner) && (p.Seq != i+1 || (i > 0 && p.Prev != i-1)) {
				t.Errorf("owner at leaf %d: seq %d prev %d, want %d and %d", i, p.Seq, p.Prev, i+1, i-1)
			}
		}
		viewer := citizen(2 + int(i))
		if i >= 300 {
			viewer = citizen(2 + int(i-300))
		}
		want := fmt.Sprintf(`{"owner":%q,"viewer":%q}`, owner, viewer)
		if p, err := l.Payload(ctx, i); err != nil || string(p) != want {
			t.Errorf("Payload(%d) = %q, %v; want %q", i, p, err, want)
		}
	}
	rep := mustAudit(t, s, keys)
	if rep.Size != 303 || rep.Checkpoints != 2 || rep.Payloads != 303 || rep.Subjects != 301 {
		t.Fatalf("audit report %+v", rep)
	}
}

func testAppendInvalid(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	l := newLog(t, s, newKeys(t), 0)
	many := make([]string, historylog.MaxParties+1)
	for i := range many {
		many[i] = citizen(i)
	}
	good := entry(citizen(1), citizen(2), t0)
	for name, e := range map[string]historylog.Entry{
		"no kind":          {At: t0, Subjects: []string{citizen(1)}},
		"kind with spaces": {Kind: "a view", At: t0, Subjects: []string{citizen(1)}},
		"no time":          {Kind: "view", Subjects: []string{citizen(1)}},
		"no subject":       {Kind: "view", At: t0},
		"empty subject":    {Kind: "view", At: t0, Subjects: []string{""}},
		"too many":         {Kind: "view", At: t0, Subjects: many},
	} {
		_, err := l.Append(ctx, good, e)
		if wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("%s: %v, want %s", name, err, wallet.EINVALID)
		}
	}
	// A change with a state and a bad entry: its state is not even run.
	h := newSuiteFaults(s)
	lh := newLog(t, h, newKeys(t), 0)
	_, err := lh.Commit(ctx, historylog.Change{State: accepted{}, Entries: []historylog.Entry{good, {Kind: "view", At: t0}}})
	wantCode(t, err, wallet.EINVALID)
	_, err = l.Commit(ctx, historylog.Change{})
	wantCode(t, err, wallet.EINVALID)
	if n := h.Commits(); n != 0 {
		t.Fatalf("%d batches ran for invalid changes, want none", n)
	}
	if n, _ := s.LogSize(ctx); n != 0 {
		t.Fatalf("LogSize = %d, want 0: a call with a bad entry appended its good ones", n)
	}
	if idx, err := l.Append(ctx); err != nil || len(idx) != 0 {
		t.Fatalf("Append() = %v, %v", idx, err)
	}
}

// testCommitRefused: in one batch, a change whose state the store refuses
// gets the store's error and no leaf; the changes beside it are stored,
// with dense indexes.
func testCommitRefused(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	h := newSuiteFaults(s)
	held := h.Gate()
	l := newLog(t, h, keys, 0)

	// A first append holds the sequencer while the mixed batch queues.
	first := make(chan error, 1)
	go func() { _, err := l.Append(ctx, entry(citizen(1), citizen(2), t0)); first <- err }()
	<-held
	refused := wallet.Errorf(wallet.EEXPIRED, "refused by the store")
	type outcome struct {
		idx []int64
		err error
	}
	changes := []historylog.Change{
		{State: accepted{}, Entries: []historylog.Entry{entry(citizen(3), citizen(4), t0), entry(citizen(3), citizen(5), t0)}},
		{State: refusal{refused}, Entries: []historylog.Entry{entry(citizen(3), citizen(6), t0)}},
		{Entries: []historylog.Entry{entry(citizen(3), citizen(7), t0)}},
	}
	outcomes := make([]chan outcome, len(changes))
	for i, c := range changes {
		outcomes[i] = make(chan outcome, 1)
		go func() {
			idx, err := l.Commit(ctx, c)
			outcomes[i] <- outcome{idx, err}
		}()
		WaitQueued(t, l, i+1) // in this order
	}
	h.Release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	got := make([]outcome, len(changes))
	for i := range got {
		got[i] = <-outcomes[i]
	}
	if got[1].err != refused || got[1].idx != nil {
		t.Fatalf("the refused change got %v, %v; want the store's own error", got[1].idx, got[1].err)
	}
	if got[0].err != nil || got[2].err != nil {
		t.Fatalf("changes beside the refused one: %v, %v", got[0].err, got[2].err)
	}
	if fmt.Sprint(got[0].idx, got[2].idx) != "[1 2] [3]" {
		t.Fatalf("indexes %v and %v, want [1 2] and [3]", got[0].idx, got[2].idx)
	}
	if seen := h.Batches(); len(seen) != 2 || seen[1] != (BatchSeen{States: 3, Leaves: 3}) {
		t.Fatalf("batches %+v, want the second with 3 states and 3 leaves", seen)
	}
	// The refused change's subject chain has no gap: citizen(3) goes 1, 2, 3.
	leaf, _, err := l.Leaf(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range leaf.Parties {
		if p.Subject == l.Pseudonym(citizen(3)) && (p.Seq != 3 || p.Prev != 2) {
			t.Fatalf("citizen 3 at leaf 3: seq %d prev %d, want 3 and 2", p.Seq, p.Prev)
		}
		if p.Subject == l.Pseudonym(citizen(6)) {
			t.Fatal("the refused change's subject is a party of a leaf")
		}
	}
	if rep := mustAudit(t, s, keys); rep.Size != 4 {
		t.Fatalf("audit report %+v, want 4 leaves", rep)
	}
}

// testCommitStateOnly: a change that is only state commits without a leaf
// or a checkpoint; a batch of nothing but refused changes stores nothing.
func testCommitStateOnly(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	h := newSuiteFaults(s)
	l := newLog(t, h, keys, 0)
	idx, err := l.Commit(ctx, historylog.Change{State: accepted{}})
	if err != nil || len(idx) != 0 {
		t.Fatalf("Commit of a state = %v, %v; want no index", idx, err)
	}
	_, err = l.Commit(ctx, historylog.Change{State: refusal{wallet.Errorf(wallet.ECONFLICT, "no")}, Entries: []historylog.Entry{entry(citizen(1), citizen(2), t0)}})
	wantCode(t, err, wallet.ECONFLICT)
	if n, _ := s.LogSize(ctx); n != 0 {
		t.Fatalf("LogSize = %d, want 0", n)
	}
	if _, err := s.LatestCheckpoint(ctx); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Fatalf("a checkpoint was stored for no leaf: %v", err)
	}
	if seen := h.Batches(); len(seen) != 2 || seen[0].Leaves != 0 || seen[1].Leaves != 0 {
		t.Fatalf("batches %+v, want two without leaves", seen)
	}
	idx = mustAppend(t, l, entry(citizen(1), citizen(2), t0))
	if idx[0] != 0 {
		t.Fatalf("index %d, want 0", idx[0])
	}
	leaf, _, _ := l.Leaf(ctx, 0)
	for _, p := range leaf.Parties {
		if p.Seq != 1 || p.Prev != -1 {
			t.Fatalf("a refused change left a trace in the chains: %+v", p)
		}
	}
	mustAudit(t, s, keys)
}

func testCheckpoint(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	l := newLog(t, s, keys, 0)
	if l.Origin() != Origin || l.VerifierKey() != keys.VerifierKey {
		t.Fatalf("Origin %q, VerifierKey %q", l.Origin(), l.VerifierKey())
	}
	signed, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := openCheckpoint(t, signed, l.VerifierKey())
	if empty, _ := tlog.TreeHash(0, nil); c.Size != 0 || c.Root != empty {
		t.Fatalf("empty log checkpoint %+v", c)
	}
	mustAppend(t, l, entry(citizen(1), citizen(2), t0), entry(citizen(3), citizen(2), t0))
	signed, err = l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The C2SP form: origin, size, base64 root, a blank line, signatures
	// "— <name> <base64>".
	text, sigs, ok := bytes.Cut(signed, []byte("\n\n"))
	if !ok || !bytes.HasPrefix(text, []byte(Origin+"\n2\n")) || !bytes.HasPrefix(sigs, []byte("— "+Origin+" ")) {
		t.Fatalf("checkpoint not in the C2SP form:\n%s", signed)
	}
	c = openCheckpoint(t, signed, l.VerifierKey())
	leaves := allLeaves(t, s)
	if want := rfcRoot([][]byte{leaves[0].Data, leaves[1].Data}); c.Size != 2 || !bytes.Equal(c.Root[:], want) {
		t.Fatalf("checkpoint %+v, want size 2 and the RFC 6962 root", c)
	}
	// Another key does not open it.
	other := newKeys(t)
	if _, err := historylog.OpenCheckpoint(signed, other.Verifier, Origin); !wallet.IsCode(err, wallet.EINVALID) {
		t.Fatalf("checkpoint opened with another key: %v", err)
	}
	if _, err := historylog.OpenCheckpoint(signed, keys.Verifier, "other.origin"); !wallet.IsCode(err, wallet.EINVALID) {
		t.Fatalf("checkpoint accepted for another origin: %v", err)
	}
}

func testProofs(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	l := newLog(t, s, keys, 0)
	const n = 23
	var roots [][]byte // roots[k] is the root of the first k leaves
	for i := range n {
		mustAppend(t, l, entry(citizen(i%5), citizen(100+i), t0.Add(time.Duration(i)*time.Second)))
	}
	leaves := allLeaves(t, s)
	var data [][]byte
	for _, lf := range leaves {
		data = append(data, lf.Data)
	}
	for k := 0; k <= n; k++ {
		roots = append(roots, rfcRoot(data[:k]))
	}
	// Every stored checkpoint's root is the RFC 6962 root of its size.
	cps, err := s.Checkpoints(ctx, 0, 100)
	if err != nil || len(cps) != n {
		t.Fatalf("%d checkpoints, %v; want %d", len(cps), err, n)
	}
	for _, cp := range cps {
		c := openCheckpoint(t, cp.Note, keys.VerifierKey)
		if !bytes.Equal(c.Root[:], roots[c.Size]) {
			t.Fatalf("checkpoint of size %d: root differs from RFC 6962", c.Size)
		}
	}
	var root = func(k int64) tlog.Hash { var h tlog.Hash; copy(h[:], roots[k]); return h }
	for size := int64(1); size <= n; size++ {
		for index := int64(0); index < size; index++ {
			p, err := l.InclusionProof(ctx, index, size)
			if err != nil {
				t.Fatal(err)
			}
			if p.Index != index || p.Size != size || !bytes.Equal(p.LeafHash[:], rfcLeafHash(data[index])) {
				t.Fatalf("inclusion proof %d in %d: %+v", index, size, p)
			}
			if err := tlog.CheckRecord(p.Proof, size, root(size), index, p.LeafHash); err != nil {
				t.Fatalf("tlog.CheckRecord(%d in %d): %v", index, size, err)
			}
			if err := rfcVerifyInclusion(index, size, p.LeafHash[:], hashes2bytes(p.Proof), roots[size]); err != nil {
				t.Fatalf("RFC 9162 inclusion %d in %d: %v", index, size, err)
			}
			// A proof for another leaf does not verify.
			other := rfcLeafHash(data[(index+1)%size])
			if size > 1 && rfcVerifyInclusion(index, size, other, hashes2bytes(p.Proof), roots[size]) == nil {
				t.Fatalf("inclusion %d in %d verifies for another leaf", index, size)
			}
		}
		for from := int64(1); from <= size; from++ {
			p, err := l.ConsistencyProof(ctx, from, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckTree(p, size, root(size), from, root(from)); err != nil {
				t.Fatalf("tlog.CheckTree(%d to %d): %v", from, size, err)
			}
			if err := rfcVerifyConsistency(from, size, roots[from], roots[size], hashes2bytes(p)); err != nil {
				t.Fatalf("RFC 9162 consistency %d to %d: %v", from, size, err)
			}
			if from < size && from > 1 && rfcVerifyConsistency(from, size, roots[from-1], roots[size], hashes2bytes(p)) == nil {
				t.Fatalf("consistency %d to %d verifies with another old root", from, size)
			}
		}
	}
}

func testProofArgs(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	l := newLog(t, s, newKeys(t), 0)
	mustAppend(t, l, entry(citizen(1), citizen(2), t0), entry(citizen(1), citizen(3), t0))
	for _, c := range []struct{ index, size int64 }{{-1, 1}, {1, 1}, {2, 1}, {0, 0}} {
		_, err := l.InclusionProof(ctx, c.index, c.size)
		if wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("InclusionProof(%d, %d): %v, want %s", c.index, c.size, err, wallet.EINVALID)
		}
	}
	_, err := l.InclusionProof(ctx, 0, 3)
	wantCode(t, err, wallet.ENOTFOUND)
	for _, c := range []struct{ from, to int64 }{{0, 1}, {2, 1}, {-1, 2}} {
		_, err := l.ConsistencyProof(ctx, c.from, c.to)
		if wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("ConsistencyProof(%d, %d): %v, want %s", c.from, c.to, err, wallet.EINVALID)
		}
	}
	_, err = l.ConsistencyProof(ctx, 1, 3)
	wantCode(t, err, wallet.ENOTFOUND)
}

func testConcurrentAppenders(t *testing.T, s historylog.LogStore) {
	keys := newKeys(t)
	l := newLog(t, s, keys, 0)
	const goroutines, each = 64, 5
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[int64]bool{}
	)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// A few shared subjects, so that chains cross batches.
				idx, err := l.Append(context.Background(), entry(citizen(g%7), citizen(1000+g), t0.Add(time.Duration(i)*time.Millisecond)))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, x := range idx {
					if seen[x] {
						t.Errorf("index %d given twice", x)
					}
					seen[x] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	n := int64(goroutines * each)
	for i := range n {
		if !seen[i] {
			t.Fatalf("index %d never given", i)
		}
	}
	rep := mustAudit(t, s, keys)
	if rep.Size != n || rep.Subjects != 7+goroutines {
		t.Fatalf("audit report %+v, want %d leaves", rep, n)
	}
	t.Logf("%d appends in %d batches", n, rep.Checkpoints)
}

func testOneTxPerEvent(t *testing.T, s historylog.LogStore) {
	// MaxBatch 1, the baseline of BenchmarkGroupCommitVsOneTxPerEvent:
	// concurrent appenders still get one batch, so one checkpoint, each.
	keys := newKeys(t)
	l := newLog(t, s, keys, 1)
	const appenders, n = 16, 100
	appendConcurrently(t, l, appenders, n)
	rep := mustAudit(t, s, keys)
	if rep.Size != n || rep.Checkpoints != n {
		t.Fatalf("audit report %+v, want %d leaves in %d checkpoints", rep, n, n)
	}
}

// testTwoLogs: two Logs on one store stand for two processes, each with
// its own sequencer and its own idea of the log's end. The store's append
// lock makes them take turns, and each builds its batch on the log as it
// finds it under the lock: no caller ever sees ECONFLICT, indexes are
// unique and dense, and every checkpoint either Log hands out is
// consistent with the final tree.
func testTwoLogs(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	logs := []*historylog.Log{newLog(t, s, keys, 0), newLog(t, s, keys, 0)}
	const goroutines, each = 16, 25
	type seen struct {
		log   int
		index int64
		cp    historylog.Checkpoint
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		all  []seen
		fail atomic.Int64
	)
	for g := range goroutines {
		wg.Go(func() {
			n := g % 2
			l := logs[n]
			var last int64
			for i := range each {
				// A few subjects shared by both Logs, so that chains cross
				// batches and processes.
				idx, err := l.Append(ctx, entry(citizen(g%3), citizen(200+g), t0.Add(time.Duration(i))))
				if err != nil {
					t.Errorf("log %d: append: %v", n, err)
					fail.Add(1)
					return
				}
				signed, err := l.Checkpoint(ctx)
				if err != nil {
					t.Errorf("log %d: checkpoint: %v", n, err)
					return
				}
				v, err := noteVerifier(keys.VerifierKey)
				if err != nil {
					t.Error(err)
					return
				}
				c, err := historylog.OpenCheckpoint(signed, v, Origin)
				if err != nil {
					t.Errorf("log %d: checkpoint: %v", n, err)
					return
				}
				if c.Size <= idx[0] || c.Size < last {
					t.Errorf("log %d: checkpoint of size %d after appending at %d (and seeing size %d)", n, c.Size, idx[0], last)
				}
				last = c.Size
				mu.Lock()
				all = append(all, seen{n, idx[0], c})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	const total = goroutines * each
	given := map[int64]bool{}
	for _, x := range all {
		if given[x.index] {
			t.Fatalf("index %d given twice", x.index)
		}
		given[x.index] = true
	}
	for i := range int64(total) {
		if !given[i] {
			t.Fatalf("index %d never given", i)
		}
	}
	rep := mustAudit(t, s, keys)
	if rep.Size != total || rep.Subjects != 3+goroutines {
		t.Fatalf("audit report %+v, want %d leaves", rep, total)
	}
	final := openCheckpoint(t, mustCheckpoint(t, logs[0]), keys.VerifierKey)
	if final.Size != total || final.Root != rep.Root {
		t.Fatalf("final checkpoint %+v, want size %d and root %v", final, total, rep.Root)
	}
	// What each Log handed out is a prefix of the final tree, and holds
	// the leaf its caller appended; proved by the Log that handed it out.
	for _, x := range all {
		l := logs[x.log]
		p, err := l.InclusionProof(ctx, x.index, x.cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p.Proof, x.cp.Size, x.cp.Root, x.index, p.LeafHash); err != nil {
			t.Fatalf("log %d: leaf %d is not in the checkpoint of size %d it handed out: %v", x.log, x.index, x.cp.Size, err)
		}
		tp, err := l.ConsistencyProof(ctx, x.cp.Size, total)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(tp, total, final.Root, x.cp.Size, x.cp.Root); err != nil {
			t.Fatalf("log %d: the checkpoint of size %d it handed out is not a prefix of the final tree: %v", x.log, x.cp.Size, err)
		}
	}
	t.Logf("%d appends by two Logs in %d batches", total, rep.Checkpoints)
}

func testRestart(t *testing.T, s historylog.LogStore) {
	keys := newKeys(t)
	l, err := historylog.New(historylog.Config{Store: s, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		mustAppend(t, l, entry(citizen(1), citizen(10+i), t0))
	}
	l.Close()
	_, err = l.Append(context.Background(), entry(citizen(1), citizen(2), t0))
	wantCode(t, err, wallet.EUNAVAILABLE)

	l2 := newLog(t, s, keys, 0)
	idx := mustAppend(t, l2, entry(citizen(1), citizen(20), t0), entry(citizen(2), citizen(21), t0))
	if idx[0] != 5 || idx[1] != 6 {
		t.Fatalf("after a restart, indexes %v, want [5 6]", idx)
	}
	leaf, _, err := l2.Leaf(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range leaf.Parties {
		if p.Subject == l2.Pseudonym(citizen(1)) && (p.Seq != 6 || p.Prev != 4) {
			t.Fatalf("after a restart the chain goes on at seq %d prev %d, want 6 and 4", p.Seq, p.Prev)
		}
	}
	if rep := mustAudit(t, s, keys); rep.Size != 7 {
		t.Fatalf("audit report %+v", rep)
	}
}

func testCrashInBatch(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	fs := newSuiteFaults(s)
	l := newLog(t, fs, keys, 0)
	mustAppend(t, l, entry(citizen(1), citizen(2), t0), entry(citizen(1), citizen(3), t0))

	fs.FailCommits(true)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = l.Append(ctx, entry(citizen(1), citizen(50+i), t0))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if !errors.Is(err, ErrFault) || wallet.ErrorCode(err) != wallet.EUNAVAILABLE {
			t.Fatalf("caller of a failed batch got %v", err)
		}
	}
	if n, _ := s.LogSize(ctx); n != 2 {
		t.Fatalf("LogSize = %d after the failed batch, want 2", n)
	}
	fs.FailCommits(false)
	idx := mustAppend(t, l, entry(citizen(1), citizen(4), t0))
	if idx[0] != 2 {
		t.Fatalf("after a failed batch the next index is %d, want 2", idx[0])
	}
	leaf, _, _ := l.Leaf(ctx, 2)
	for _, p := range leaf.Parties {
		if p.Subject == l.Pseudonym(citizen(1)) && (p.Seq != 3 || p.Prev != 1) {
			t.Fatalf("after a failed batch the chain goes on at seq %d prev %d, want 3 and 1", p.Seq, p.Prev)
		}
	}
	mustAudit(t, s, keys)

	// Another process appends behind the Log's back: the Log's next batch
	// finds the log longer under the append lock and builds on its end.
	other := newLog(t, s, keys, 0)
	mustAppend(t, other, entry(citizen(9), citizen(8), t0))
	idx = mustAppend(t, l, entry(citizen(1), citizen(5), t0))
	if idx[0] != 4 {
		t.Fatalf("after another writer, index %d, want 4", idx[0])
	}
	mustAudit(t, s, keys)
}

func testCloseDrains(t *testing.T, s historylog.LogStore) {
	keys := newKeys(t)
	l, err := historylog.New(historylog.Config{Store: s, Keys: keys, MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	var ok atomic.Int64
	started := make(chan struct{}, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			if _, err := l.Append(context.Background(), entry(citizen(i), citizen(n+i), t0)); err == nil {
				ok.Add(1)
			} else {
				wantCode(t, err, wallet.EUNAVAILABLE) // came after Close
			}
		}()
	}
	for range n {
		<-started
	}
	l.Close()
	wg.Wait()
	if size, _ := s.LogSize(context.Background()); size != ok.Load() {
		t.Fatalf("%d appends answered ok, %d leaves stored", ok.Load(), size)
	}
	mustAudit(t, s, keys)
}

func testErasedPayload(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	l := newLog(t, s, keys, 0)
	mustAppend(t, l, entry(citizen(1), citizen(2), t0), entry(citizen(1), citizen(3), t0.Add(time.Hour)))
	before, err := l.InclusionProof(ctx, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := l.ErasePayloads(ctx, t0.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("ErasePayloads = %d, %v", n, err)
	}
	_, err = l.Payload(ctx, 0)
	wantCode(t, err, wallet.ENOTFOUND)
	if _, err := l.Payload(ctx, 1); err != nil {
		t.Fatal(err)
	}
	after, err := l.InclusionProof(ctx, 0, 2)
	if err != nil || after.LeafHash != before.LeafHash {
		t.Fatalf("proof after erasing: %+v, %v", after, err)
	}
	c := openCheckpoint(t, mustCheckpoint(t, l), keys.VerifierKey)
	if err := tlog.CheckRecord(after.Proof, 2, c.Root, 0, after.LeafHash); err != nil {
		t.Fatal(err)
	}
	mustAudit(t, s, keys)
}

func mustCheckpoint(t testing.TB, l *historylog.Log) []byte {
	t.Helper()
	c, err := l.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testViewerWalkthrough does what the issue asks of a new user: after a
// view, the viewer fetches their leaf, the checkpoint and the inclusion
// proof, all as the API would hand them out (base64), and checks the proof
// against the checkpoint signed with the published key.
func testViewerWalkthrough(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	l := newLog(t, s, keys, 0)
	mustAppend(t, l, entry(citizen(5), citizen(6), t0))
	idx := mustAppend(t, l, entry(citizen(1), citizen(2), t0))[0]
	mustAppend(t, l, entry(citizen(3), citizen(2), t0))

	// The server's side.
	leaf, raw, err := l.Leaf(ctx, idx)
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.HasParty(l.Pseudonym(citizen(2))) || leaf.HasParty(l.Pseudonym(citizen(3))) {
		t.Fatal("the viewer is not a party of the leaf, or a stranger is")
	}
	wire := struct{ leaf, verifierKey string }{base64.StdEncoding.EncodeToString(raw), l.VerifierKey()}
	signed := mustCheckpoint(t, l)
	c := openCheckpoint(t, signed, wire.verifierKey)
	p, err := l.InclusionProof(ctx, idx, c.Size)
	if err != nil {
		t.Fatal(err)
	}

	// The viewer's side, with nothing but what came over the wire.
	leafBytes, err := base64.StdEncoding.DecodeString(wire.leaf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rfcLeafHash(leafBytes), p.LeafHash[:]) {
		t.Fatal("the leaf hash is not SHA-256(0x00 ‖ leaf)")
	}
	if err := rfcVerifyInclusion(idx, c.Size, rfcLeafHash(leafBytes), hashes2bytes(p.Proof), c.Root[:]); err != nil {
		t.Fatal(err)
	}
}
