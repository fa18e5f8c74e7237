package historylogtest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/tlog"
)

// RunLogStoreTests runs the LogStore conformance suite. newStore must
// return a fresh, empty, migrated store, and close it when the test ends
// (t.Cleanup). The subtests run in parallel, each on its own store.
func RunLogStoreTests(t *testing.T, newStore func(t *testing.T) historylog.LogStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s historylog.LogStore)
	}{
		{"Empty", testStoreEmpty},
		{"AppendBatch_ReadsBack", testStoreReadBack},
		{"AppendBatch_WrongFirstIndexConflictsAndStoresNothing", testStoreWrongFirst},
		{"AppendBatch_MismatchedArgumentsAreInvalid", testStoreInvalid},
		{"AppendBatch_FailureHalfwayStoresNothing", testStoreAtomic},
		{"AppendBatch_ConcurrentAtOneIndexOneWins", testStoreConcurrent},
		{"AppendBatch_LargeBatch", testStoreLarge},
		{"SubjectHeads_LatestOfEach", testStoreHeads},
		{"ErasePayloads_KeepsLeaves", testStoreErase},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

func testStoreEmpty(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	if n, err := s.LogSize(ctx); err != nil || n != 0 {
		t.Fatalf("LogSize = %d, %v; want 0", n, err)
	}
	_, err := s.LatestCheckpoint(ctx)
	wantCode(t, err, wallet.ENOTFOUND)
	_, err = s.ReadHashes(ctx, []int64{0})
	wantCode(t, err, wallet.ENOTFOUND)
	if ls, err := s.Leaves(ctx, 0, 10); err != nil || len(ls) != 0 {
		t.Fatalf("Leaves = %v, %v", ls, err)
	}
	if cs, err := s.Checkpoints(ctx, 0, 10); err != nil || len(cs) != 0 {
		t.Fatalf("Checkpoints = %v, %v", cs, err)
	}
	if hs, err := s.SubjectHeads(ctx, []string{"00"}); err != nil || len(hs) != 0 {
		t.Fatalf("SubjectHeads = %v, %v", hs, err)
	}
}

func testStoreReadBack(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	data := [][]byte{leafBytes(t, "view", 1, 1, -1, []byte("p0")), leafBytes(t, "view", 2, 1, -1, nil), leafBytes(t, "view", 1, 2, 0, []byte("p2"))}
	payloads := [][]byte{[]byte("p0"), {}, nil} // the last one stores none
	leaves, hashes, cp := batch(t, s, keys, 0, data, payloads)
	if err := s.AppendBatch(ctx, 0, leaves, hashes, cp); err != nil {
		t.Fatal(err)
	}
	if n, err := s.LogSize(ctx); err != nil || n != 3 {
		t.Fatalf("LogSize = %d, %v; want 3", n, err)
	}
	got, err := s.Leaves(ctx, 0, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("Leaves = %d, %v", len(got), err)
	}
	for i, l := range got {
		if l.Index != int64(i) || !bytes.Equal(l.Data, data[i]) || l.Hash != tlog.RecordHash(data[i]) {
			t.Errorf("leaf %d read back as %+v", i, l)
		}
	}
	if !bytes.Equal(got[0].Payload, []byte("p0")) || got[1].Payload == nil || len(got[1].Payload) != 0 || got[2].Payload != nil {
		t.Errorf("payloads read back as %q, %#v, %#v; want p0, empty and nil", got[0].Payload, got[1].Payload, got[2].Payload)
	}
	if got, err := s.Leaves(ctx, 1, 1); err != nil || len(got) != 1 || got[0].Index != 1 {
		t.Errorf("Leaves(1, 1) = %v, %v", got, err)
	}
	idx := make([]int64, len(hashes))
	for i := range idx {
		idx[len(idx)-1-i] = int64(i) // in reverse: the order asked is the order answered
	}
	hs, err := s.ReadHashes(ctx, idx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range hs {
		if hs[i] != hashes[idx[i]] {
			t.Errorf("hash %d read back wrong", idx[i])
		}
	}
	_, err = s.ReadHashes(ctx, []int64{0, int64(len(hashes))})
	wantCode(t, err, wallet.ENOTFOUND)
	latest, err := s.LatestCheckpoint(ctx)
	if err != nil || latest.Size != 3 || latest.Root != cp.Root || !bytes.Equal(latest.Note, cp.Note) {
		t.Fatalf("LatestCheckpoint = %+v, %v", latest, err)
	}
	// A second batch: checkpoints are listed smallest first from fromSize.
	more := [][]byte{leafBytes(t, "view", 3, 1, -1, nil)}
	leaves, hashes, cp2 := batch(t, s, keys, 3, more, nil)
	if err := s.AppendBatch(ctx, 3, leaves, hashes, cp2); err != nil {
		t.Fatal(err)
	}
	cps, err := s.Checkpoints(ctx, 0, 10)
	if err != nil || len(cps) != 2 || cps[0].Size != 3 || cps[1].Size != 4 {
		t.Fatalf("Checkpoints = %+v, %v", cps, err)
	}
	if cps, err := s.Checkpoints(ctx, 4, 10); err != nil || len(cps) != 1 || cps[0].Size != 4 {
		t.Fatalf("Checkpoints(4) = %+v, %v", cps, err)
	}
	if cps, err := s.Checkpoints(ctx, 0, 1); err != nil || len(cps) != 1 || cps[0].Size != 3 {
		t.Fatalf("Checkpoints(0, 1) = %+v, %v", cps, err)
	}
	if root, err := tlog.TreeHash(4, historylog.HashReader(ctx, s)); err != nil || root != cp2.Root {
		t.Fatalf("tree hash from the stored hashes = %v, %v; want %v", root, err, cp2.Root)
	}
	mustAudit(t, s, keys)
}

func testStoreWrongFirst(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	leaves, hashes, cp := batch(t, s, keys, 0, [][]byte{leafBytes(t, "view", 1, 1, -1, nil)}, nil)
	if err := s.AppendBatch(ctx, 0, leaves, hashes, cp); err != nil {
		t.Fatal(err)
	}
	// Again at 0 (a reused index), and at 2 (a gap).
	err := s.AppendBatch(ctx, 0, leaves, hashes, cp)
	wantCode(t, err, wallet.ECONFLICT)
	// At 2 (a gap): the hashes cannot be right, as there is no leaf 1,
	// but the index is what is refused.
	d := leafBytes(t, "view", 2, 1, -1, nil)
	gap := []historylog.StoredLeaf{{Index: 2, Data: d, Hash: tlog.RecordHash(d), At: t0}}
	err = s.AppendBatch(ctx, 2, gap, make([]tlog.Hash, tlog.StoredHashIndex(0, 3)-tlog.StoredHashIndex(0, 2)),
		historylog.StoredCheckpoint{Size: 3, Root: cp.Root, Note: cp.Note})
	wantCode(t, err, wallet.ECONFLICT)
	if n, _ := s.LogSize(ctx); n != 1 {
		t.Fatalf("LogSize = %d after refused batches, want 1", n)
	}
	if cps, _ := s.Checkpoints(ctx, 0, 10); len(cps) != 1 {
		t.Fatalf("%d checkpoints after refused batches, want 1", len(cps))
	}
}

func testStoreInvalid(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	leaves, hashes, cp := batch(t, s, keys, 0, [][]byte{leafBytes(t, "view", 1, 1, -1, nil), leafBytes(t, "view", 2, 1, -1, nil)}, nil)
	bad := []struct {
		name   string
		leaves []historylog.StoredLeaf
		hashes []tlog.Hash
		cp     historylog.StoredCheckpoint
	}{
		{"no leaves", nil, nil, cp},
		{"a hash missing", leaves, hashes[:len(hashes)-1], cp},
		{"wrong checkpoint size", leaves, hashes, historylog.StoredCheckpoint{Size: 3, Root: cp.Root, Note: cp.Note}},
		{"leaf hash not of its bytes", []historylog.StoredLeaf{leaves[0], {Index: 1, Data: leaves[1].Data, Hash: leaves[0].Hash}}, hashes, cp},
		{"indexes out of order", []historylog.StoredLeaf{leaves[1], leaves[0]}, hashes, cp},
	}
	for _, b := range bad {
		err := s.AppendBatch(ctx, 0, b.leaves, b.hashes, b.cp)
		if wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("%s: %v, want %s", b.name, err, wallet.EINVALID)
		}
	}
	if n, _ := s.LogSize(ctx); n != 0 {
		t.Fatalf("LogSize = %d, want 0", n)
	}
}

func testStoreAtomic(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	// Two leaves claim the same place in one subject's chain: the second
	// insert fails, after the first leaf and its hashes were written.
	data := [][]byte{leafBytes(t, "view", 1, 1, -1, nil), leafBytes(t, "codes_voided", 1, 1, -1, nil)}
	leaves, hashes, cp := batch(t, s, keys, 0, data, [][]byte{{1}, {2}})
	err := s.AppendBatch(ctx, 0, leaves, hashes, cp)
	if err == nil {
		t.Fatal("a batch with a repeated (subject, seq) was stored")
	}
	if n, _ := s.LogSize(ctx); n != 0 {
		t.Fatalf("LogSize = %d after a failed batch, want 0", n)
	}
	if _, err := s.ReadHashes(ctx, []int64{0}); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Fatalf("a hash of the failed batch is stored: %v", err)
	}
	if _, err := s.LatestCheckpoint(ctx); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Fatalf("the failed batch's checkpoint is stored: %v", err)
	}
	if hs, _ := s.SubjectHeads(ctx, []string{leaves[0].Parties[0].Subject}); len(hs) != 0 {
		t.Fatalf("the failed batch's chain is stored: %v", hs)
	}
	// The same index is then free for a good batch.
	leaves, hashes, cp = batch(t, s, keys, 0, data[:1], nil)
	if err := s.AppendBatch(ctx, 0, leaves, hashes, cp); err != nil {
		t.Fatal(err)
	}
}

func testStoreConcurrent(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		leaves, hashes, cp := batch(t, s, keys, 0, [][]byte{leafBytes(t, "view", byte(i+1), 1, -1, nil)}, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.AppendBatch(ctx, 0, leaves, hashes, cp)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch wallet.ErrorCode(err) {
		case "":
			wins++
		case wallet.ECONFLICT:
		default:
			t.Errorf("concurrent AppendBatch: %v, want nil or %s", err, wallet.ECONFLICT)
		}
	}
	if wins != 1 {
		t.Fatalf("%d batches at index 0 won, want 1", wins)
	}
	mustAudit(t, s, keys)
}

func testStoreLarge(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	var data, payloads [][]byte
	for i := range 700 {
		data = append(data, leafBytes(t, "view", byte(i%200+1), int64(i/200+1), map[bool]int64{true: -1, false: int64(i - 200)}[i < 200], []byte{byte(i)}))
		payloads = append(payloads, []byte{byte(i)})
	}
	leaves, hashes, cp := batch(t, s, keys, 0, data[:300], payloads[:300])
	if err := s.AppendBatch(ctx, 0, leaves, hashes, cp); err != nil {
		t.Fatal(err)
	}
	leaves, hashes, cp = batch(t, s, keys, 300, data[300:], payloads[300:])
	if err := s.AppendBatch(ctx, 300, leaves, hashes, cp); err != nil {
		t.Fatal(err)
	}
	rep := mustAudit(t, s, keys)
	if rep.Size != 700 || rep.Payloads != 700 || rep.Checkpoints != 2 || rep.Subjects != 200 {
		t.Fatalf("audit report %+v", rep)
	}
}

func testStoreHeads(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	data := [][]byte{leafBytes(t, "view", 1, 1, -1, nil), leafBytes(t, "view", 2, 1, -1, nil), leafBytes(t, "view", 1, 2, 0, nil), leafBytes(t, "view", 1, 3, 2, nil)}
	leaves, hashes, cp := batch(t, s, keys, 0, data, nil)
	if err := s.AppendBatch(ctx, 0, leaves, hashes, cp); err != nil {
		t.Fatal(err)
	}
	p1, p2 := leaves[0].Parties[0].Subject, leaves[1].Parties[0].Subject
	hs, err := s.SubjectHeads(ctx, []string{p1, p2, "ff"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]historylog.Head{p1: {Seq: 3, Index: 3}, p2: {Seq: 1, Index: 1}}
	if len(hs) != 2 || hs[p1] != want[p1] || hs[p2] != want[p2] {
		t.Fatalf("SubjectHeads = %v, want %v", hs, want)
	}
}

func testStoreErase(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	l := newLog(t, s, keys, 0)
	old := entry(citizen(1), citizen(2), t0)
	recent := entry(citizen(1), citizen(3), t0.Add(48*time.Hour))
	mustAppend(t, l, old, recent)
	n, err := s.ErasePayloads(ctx, t0.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("ErasePayloads = %d, %v; want 1", n, err)
	}
	ls := allLeaves(t, s)
	if len(ls) != 2 || ls[0].Payload != nil || !bytes.Equal(ls[1].Payload, recent.Payload) {
		t.Fatalf("after erasing, payloads are %q and %q", ls[0].Payload, ls[1].Payload)
	}
	rep := mustAudit(t, s, keys)
	if rep.Payloads != 1 || rep.ErasedPayloads != 1 {
		t.Fatalf("audit report %+v", rep)
	}
}
