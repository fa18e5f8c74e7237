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
//
// Batches are written as the Log writes them: BeginAppend, Apply (here
// with no state, or nil states, which always apply), Commit.
func RunLogStoreTests(t *testing.T, newStore func(t *testing.T) historylog.LogStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s historylog.LogStore)
	}{
		{"Empty", testStoreEmpty},
		{"Commit_ReadsBack", testStoreReadBack},
		{"Apply_NilStatesApplyAndSizeIsTheLogs", testStoreApplyNil},
		{"Commit_WithoutLeavesStoresNoCheckpoint", testStoreCommitEmpty},
		{"Commit_WrongFirstIndexConflictsAndStoresNothing", testStoreWrongFirst},
		{"Commit_MismatchedArgumentsAreInvalid", testStoreInvalid},
		{"Commit_FailureHalfwayStoresNothing", testStoreAtomic},
		{"Rollback_StoresNothing", testStoreRollback},
		{"BeginAppend_SecondAppenderWaitsForTheFirst", testStoreAppendLock},
		{"BeginAppend_ConcurrentAppendersTakeTurns", testStoreConcurrent},
		{"Commit_LargeBatch", testStoreLarge},
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
	tx, size := begin(t, s)
	if size != 0 {
		t.Fatalf("Apply on an empty log: size %d", size)
	}
	leaves, hashes, cp := batch(t, tx, keys, 0, data, payloads)
	if err := tx.Commit(ctx, 0, leaves, hashes, cp); err != nil {
		t.Fatal(err)
	}
	tx.Rollback() // after Commit: does nothing
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
	// A second batch, its hashes read in its own transaction:
	// checkpoints are listed smallest first from fromSize.
	if first := appendRaw(t, s, keys, [][]byte{leafBytes(t, "view", 3, 1, -1, nil)}, nil); first != 3 {
		t.Fatalf("second batch at %d, want 3", first)
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
	if root, err := tlog.TreeHash(4, historylog.HashReader(ctx, s)); err != nil || root != cps[1].Root {
		t.Fatalf("tree hash from the stored hashes = %v, %v; want %v", root, err, cps[1].Root)
	}
	mustAudit(t, s, keys)
}

func testStoreApplyNil(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	data := [][]byte{leafBytes(t, "view", 1, 1, -1, nil), leafBytes(t, "view", 1, 2, 0, nil)}
	appendRaw(t, s, keys, data, nil)
	tx, err := s.BeginAppend(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	size, refused, err := tx.Apply(ctx, []any{nil, nil, nil})
	if err != nil {
		t.Fatal(err)
	}
	if size != 2 || len(refused) != 3 || refused[0] != nil || refused[1] != nil || refused[2] != nil {
		t.Fatalf("Apply of three nil states = %d, %v; want size 2 and three nil outcomes", size, refused)
	}
	// The transaction reads what is stored.
	hs, err := tx.ReadHashes(ctx, []int64{0, 1, 2})
	if err != nil || len(hs) != 3 || hs[0] != tlog.RecordHash(data[0]) || hs[1] != tlog.RecordHash(data[1]) {
		t.Fatalf("ReadHashes in the transaction = %v, %v", hs, err)
	}
	_, err = tx.ReadHashes(ctx, []int64{tlog.StoredHashIndex(0, 2)})
	wantCode(t, err, wallet.ENOTFOUND)
	leaves, hashes, cp := batch(t, tx, keys, 2, [][]byte{leafBytes(t, "view", 1, 3, 1, nil)}, nil)
	if err := tx.Commit(ctx, size, leaves, hashes, cp); err != nil {
		t.Fatal(err)
	}
	if rep := mustAudit(t, s, keys); rep.Size != 3 || rep.Checkpoints != 2 {
		t.Fatalf("audit report %+v", rep)
	}
}

func testStoreCommitEmpty(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	appendRaw(t, s, keys, [][]byte{leafBytes(t, "view", 1, 1, -1, nil)}, nil)
	// A batch whose every change was refused, or that only changed state:
	// no leaf, no checkpoint, and the transaction commits.
	tx, size := begin(t, s)
	if err := tx.Commit(ctx, size, nil, nil, historylog.StoredCheckpoint{}); err != nil {
		t.Fatalf("Commit without leaves: %v", err)
	}
	if n, err := s.LogSize(ctx); err != nil || n != 1 {
		t.Fatalf("LogSize = %d, %v; want 1", n, err)
	}
	if cps, err := s.Checkpoints(ctx, 0, 10); err != nil || len(cps) != 1 {
		t.Fatalf("%d checkpoints, %v; want 1", len(cps), err)
	}
	// The append lock was released: the next batch goes on at 1.
	if first := appendRaw(t, s, keys, [][]byte{leafBytes(t, "view", 1, 2, 0, nil)}, nil); first != 1 {
		t.Fatalf("next batch at %d, want 1", first)
	}
	mustAudit(t, s, keys)
}

func testStoreWrongFirst(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	tx, _ := begin(t, s)
	leaves, hashes, cp := batch(t, tx, keys, 0, [][]byte{leafBytes(t, "view", 1, 1, -1, nil)}, nil)
	if err := tx.Commit(ctx, 0, leaves, hashes, cp); err != nil {
		t.Fatal(err)
	}
	// Again at 0 (a reused index): the arguments fit, the index does not.
	tx, size := begin(t, s)
	if size != 1 {
		t.Fatalf("Apply: size %d, want 1", size)
	}
	wantCode(t, tx.Commit(ctx, 0, leaves, hashes, cp), wallet.ECONFLICT)
	tx.Rollback()
	// At 2 (a gap): the hashes cannot be right, as there is no leaf 1,
	// but the index is what is refused.
	d := leafBytes(t, "view", 2, 1, -1, nil)
	gap := []historylog.StoredLeaf{{Index: 2, Data: d, Hash: tlog.RecordHash(d), At: t0}}
	tx, _ = begin(t, s)
	err := tx.Commit(ctx, 2, gap, make([]tlog.Hash, tlog.StoredHashIndex(0, 3)-tlog.StoredHashIndex(0, 2)),
		historylog.StoredCheckpoint{Size: 3, Root: cp.Root, Note: cp.Note})
	wantCode(t, err, wallet.ECONFLICT)
	tx.Rollback()
	if n, _ := s.LogSize(ctx); n != 1 {
		t.Fatalf("LogSize = %d after refused batches, want 1", n)
	}
	if cps, _ := s.Checkpoints(ctx, 0, 10); len(cps) != 1 {
		t.Fatalf("%d checkpoints after refused batches, want 1", len(cps))
	}
	if _, err := s.ReadHashes(ctx, []int64{tlog.StoredHashIndex(0, 2)}); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Fatalf("a hash of a refused batch is stored: %v", err)
	}
	// The refused batches held no lock: the next one goes on at 1.
	if first := appendRaw(t, s, keys, [][]byte{leafBytes(t, "view", 1, 2, 0, nil)}, nil); first != 1 {
		t.Fatalf("next batch at %d, want 1", first)
	}
	mustAudit(t, s, keys)
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
		{"a hash missing", leaves, hashes[:len(hashes)-1], cp},
		{"a hash too many", leaves, append(append([]tlog.Hash{}, hashes...), hashes[0]), cp},
		{"wrong checkpoint size", leaves, hashes, historylog.StoredCheckpoint{Size: 3, Root: cp.Root, Note: cp.Note}},
		{"unsigned checkpoint", leaves, hashes, historylog.StoredCheckpoint{Size: 2, Root: cp.Root}},
		{"leaf hash not of its bytes", []historylog.StoredLeaf{leaves[0], {Index: 1, Data: leaves[1].Data, Hash: leaves[0].Hash}}, hashes, cp},
		{"indexes out of order", []historylog.StoredLeaf{leaves[1], leaves[0]}, hashes, cp},
		{"an empty leaf", []historylog.StoredLeaf{leaves[0], {Index: 1, Hash: tlog.RecordHash(nil)}}, hashes, cp},
	}
	for _, b := range bad {
		tx, size := begin(t, s)
		err := tx.Commit(ctx, size, b.leaves, b.hashes, b.cp)
		tx.Rollback()
		if wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("%s: %v, want %s", b.name, err, wallet.EINVALID)
		}
	}
	if n, _ := s.LogSize(ctx); n != 0 {
		t.Fatalf("LogSize = %d, want 0", n)
	}
	if _, err := s.LatestCheckpoint(ctx); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Fatalf("a checkpoint of an invalid batch is stored: %v", err)
	}
}

func testStoreAtomic(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	// Two leaves claim the same place in one subject's chain: the second
	// insert fails, after the first leaf and its hashes were written.
	data := [][]byte{leafBytes(t, "view", 1, 1, -1, nil), leafBytes(t, "codes_voided", 1, 1, -1, nil)}
	tx, _ := begin(t, s)
	leaves, hashes, cp := batch(t, tx, keys, 0, data, [][]byte{{1}, {2}})
	err := tx.Commit(ctx, 0, leaves, hashes, cp)
	tx.Rollback()
	if err == nil {
		t.Fatal("a batch with a repeated (subject, seq) was stored")
	}
	if wallet.AsError(err) == nil {
		t.Fatalf("the failed batch's error %v is not a *wallet.Error", err)
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
	if ls := allLeaves(t, s); len(ls) != 0 {
		t.Fatalf("the failed batch's leaves or payloads are stored: %v", ls)
	}
	// The same index is then free for a good batch.
	if first := appendRaw(t, s, keys, data[:1], nil); first != 0 {
		t.Fatalf("next batch at %d, want 0", first)
	}
	mustAudit(t, s, keys)
}

func testStoreRollback(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	tx, size := begin(t, s)
	leaves, _, _ := batch(t, tx, keys, size, [][]byte{leafBytes(t, "view", 1, 1, -1, nil)}, nil)
	tx.Rollback()
	tx.Rollback() // a second time: nothing
	if n, err := s.LogSize(ctx); err != nil || n != 0 {
		t.Fatalf("LogSize = %d, %v after a rollback; want 0", n, err)
	}
	if hs, _ := s.SubjectHeads(ctx, []string{leaves[0].Parties[0].Subject}); len(hs) != 0 {
		t.Fatalf("a rolled back batch's chain is stored: %v", hs)
	}
	// The lock was released; a rollback after Commit keeps what committed.
	tx, size = begin(t, s)
	leaves, hashes, cp := batch(t, tx, keys, size, [][]byte{leafBytes(t, "view", 1, 1, -1, nil)}, nil)
	if err := tx.Commit(ctx, size, leaves, hashes, cp); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if n, err := s.LogSize(ctx); err != nil || n != 1 {
		t.Fatalf("LogSize = %d, %v after Commit and Rollback; want 1", n, err)
	}
	mustAudit(t, s, keys)
}

// testStoreAppendLock: Apply takes the append lock, across connections and
// processes; a second appender waits (in BeginAppend or Apply) until the
// first transaction ends, and then sees the log as the first left it.
func testStoreAppendLock(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	tx1, size := begin(t, s)
	leaves, hashes, cp := batch(t, tx1, keys, size, [][]byte{leafBytes(t, "view", 1, 1, -1, nil)}, nil)

	type applied struct {
		tx   historylog.AppendTx
		size int64
		err  error
	}
	second := make(chan applied, 1)
	go func() {
		tx, err := s.BeginAppend(ctx)
		if err != nil {
			second <- applied{err: err}
			return
		}
		size, _, err := tx.Apply(ctx, []any{nil})
		if err != nil {
			tx.Rollback()
		}
		second <- applied{tx, size, err}
	}()
	select {
	case a := <-second:
		if a.tx != nil {
			a.tx.Rollback()
		}
		tx1.Rollback()
		t.Fatalf("a second appender got the append lock (size %d, %v) while the first held it", a.size, a.err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx1.Commit(ctx, size, leaves, hashes, cp); err != nil {
		t.Fatal(err)
	}
	var a applied
	select {
	case a = <-second:
	case <-time.After(30 * time.Second):
		t.Fatal("the second appender still waits 30 s after the first committed")
	}
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.tx.Rollback()
	if a.size != 1 {
		t.Fatalf("the second appender sees size %d, want 1", a.size)
	}
	leaves, hashes, cp = batch(t, a.tx, keys, 1, [][]byte{leafBytes(t, "view", 1, 2, 0, nil)}, nil)
	if err := a.tx.Commit(ctx, 1, leaves, hashes, cp); err != nil {
		t.Fatal(err)
	}
	if rep := mustAudit(t, s, keys); rep.Size != 2 {
		t.Fatalf("audit report %+v", rep)
	}
}

func testStoreConcurrent(t *testing.T, s historylog.LogStore) {
	ctx := context.Background()
	keys := newKeys(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	sizes := make([]int64, n)
	data := make([][]byte, n)
	for i := range data {
		data[i] = leafBytes(t, "view", byte(i+1), 1, -1, nil)
	}
	for i := range n {
		wg.Go(func() {
			// Each builds its batch on the size it finds under the lock.
			tx, err := s.BeginAppend(ctx)
			if err != nil {
				errs[i] = err
				return
			}
			defer tx.Rollback()
			size, _, err := tx.Apply(ctx, nil)
			if err != nil {
				errs[i] = err
				return
			}
			sizes[i] = size
			leaves, hashes, cp, err := buildBatch(tx, keys, size, [][]byte{data[i]}, nil)
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = tx.Commit(ctx, size, leaves, hashes, cp)
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("appender %d: %v", i, err)
		}
		if seen[sizes[i]] {
			t.Fatalf("two appenders at index %d", sizes[i])
		}
		seen[sizes[i]] = true
	}
	if rep := mustAudit(t, s, keys); rep.Size != n || rep.Checkpoints != n {
		t.Fatalf("audit report %+v, want %d leaves and checkpoints", rep, n)
	}
}

func testStoreLarge(t *testing.T, s historylog.LogStore) {
	keys := newKeys(t)
	var data, payloads [][]byte
	for i := range 700 {
		data = append(data, leafBytes(t, "view", byte(i%200+1), int64(i/200+1), map[bool]int64{true: -1, false: int64(i - 200)}[i < 200], []byte{byte(i)}))
		payloads = append(payloads, []byte{byte(i)})
	}
	appendRaw(t, s, keys, data[:300], payloads[:300])
	if first := appendRaw(t, s, keys, data[300:], payloads[300:]); first != 300 {
		t.Fatalf("second batch at %d, want 300", first)
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
	appendRaw(t, s, keys, data, nil)
	p1, p2 := party(1), party(2)
	want := map[string]historylog.Head{p1: {Seq: 3, Index: 3}, p2: {Seq: 1, Index: 1}}
	hs, err := s.SubjectHeads(ctx, []string{p1, p2, "ff"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[p1] != want[p1] || hs[p2] != want[p2] {
		t.Fatalf("SubjectHeads = %v, want %v", hs, want)
	}
	// The same inside an append's transaction.
	tx, _ := begin(t, s)
	hs, err = tx.SubjectHeads(ctx, []string{p1, p2, "ff"})
	tx.Rollback()
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[p1] != want[p1] || hs[p2] != want[p2] {
		t.Fatalf("SubjectHeads in the transaction = %v, want %v", hs, want)
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
