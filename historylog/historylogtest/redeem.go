package historylogtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/tlog"
)

// RedeemStore is a store that keeps both the wallet and its history log,
// as wallet/sqlite and wallet/postgres do.
type RedeemStore interface {
	wallet.Store
	historylog.LogStore
}

// RunRedeemTests runs the suite of redemptions logged in the log batch's
// own transaction (Log.Redeem, LogStore.AppendBatchWithRedemptions).
// newStore must return a fresh, empty, migrated store and close it when the
// test ends. The subtests run in parallel, each on its own store.
func RunRedeemTests(t *testing.T, newStore func(t *testing.T) RedeemStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s RedeemStore)
	}{
		{"Redeem_StoresViewAndLeafTogether", testRedeemOne},
		{"Redeem_MixedBatchOnlySuccessesGetLeaves", testRedeemMixedBatch},
		{"Redeem_SingleUseUnderConcurrencyOneLeaf", testRedeemConcurrentSingleUse},
		{"Redeem_FailureInBatchStoresNothingNextBatchSameIndex", testRedeemFailureInBatch},
		{"Redeem_InvalidViewRunsNothing", testRedeemInvalid},
		{"Recorder_EventCommittedWithItsLeaf", testRecorderEventWithItsLeaf},
		{"Recorder_ViewCommittedWithItsLeaf", testRecorderViewWithItsLeaf},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

const (
	redeemOwner  = wallet.IIN("900101300015")
	redeemViewer = "850505400029"
)

// newShare stores a share of doc-1 of redeemOwner with maxViews views.
func newShare(t *testing.T, s wallet.Store, id string, maxViews int) {
	t.Helper()
	err := s.CreateShare(context.Background(), wallet.Share{
		ID: id, DocumentID: "doc-1", OwnerIIN: redeemOwner, CreatedBy: redeemOwner,
		MaxViews: maxViews, CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
}

// redeemView is a view of doc-1 by viewer, as sharing builds it.
func redeemView(id, viewer string) wallet.View {
	return wallet.View{
		ID: id, DocumentID: "doc-1", DocumentType: wallet.IDCard, OwnerIIN: redeemOwner,
		ViewerKind: wallet.ViewerCitizen, ViewerID: viewer, Channel: wallet.ChannelQR,
		At: t0.Add(time.Second), LogIndex: -1,
	}
}

// checkShare fails the test unless the share counts views views.
func checkShare(t *testing.T, s wallet.Store, id string, views int) {
	t.Helper()
	sh, err := s.Share(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if sh.Views != views {
		t.Fatalf("share %s counts %d views, want %d", id, sh.Views, views)
	}
}

// storedViews returns the views of redeemOwner's documents by id.
func storedViews(t *testing.T, s wallet.Store) map[string]wallet.View {
	t.Helper()
	vs, err := s.ViewsOfOwner(context.Background(), redeemOwner)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]wallet.View, len(vs))
	for _, v := range vs {
		out[v.ID] = v
	}
	return out
}

// checkLeafIsView fails the test unless the leaf at index logs view v.
func checkLeafIsView(t *testing.T, l *historylog.Log, index int64, v wallet.View) {
	t.Helper()
	leaf, _, err := l.Leaf(context.Background(), index)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Kind != historylog.KindView || !leaf.HasParty(l.Pseudonym(historylog.CitizenSubject(v.OwnerIIN))) ||
		!leaf.HasParty(l.Pseudonym(historylog.CitizenSubject(wallet.IIN(v.ViewerID)))) {
		t.Fatalf("leaf %d = %+v, not the view %s", index, leaf, v.ID)
	}
	e, err := historylog.ViewEntry(v)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := l.Payload(context.Background(), index); err != nil || string(p) != string(e.Payload) {
		t.Fatalf("payload of leaf %d = %s, %v; want %s", index, p, err, e.Payload)
	}
}

func testRedeemOne(t *testing.T, s RedeemStore) {
	ctx := context.Background()
	keys := newKeys(t)
	l := newLog(t, s, keys, 0)
	newShare(t, s, "sh-1", 2)
	v := redeemView("vw-1", redeemViewer)
	v.DocumentID, v.DocumentType = "", wallet.IDCard // left to the share
	got, err := l.Redeem(ctx, "sh-1", v)
	if err != nil {
		t.Fatal(err)
	}
	if got.LogIndex != 0 || got.ShareID != "sh-1" || got.DocumentID != "doc-1" || got.OwnerIIN != redeemOwner {
		t.Fatalf("redeemed view %+v", got)
	}
	checkShare(t, s, "sh-1", 1)
	if stored := storedViews(t, s)["vw-1"]; stored.LogIndex != 0 {
		t.Fatalf("stored view %+v, want log index 0", stored)
	}
	checkLeafIsView(t, l, 0, got)
	_, err = l.Redeem(ctx, "sh-missing", redeemView("vw-2", redeemViewer))
	wantCode(t, err, wallet.ENOTFOUND)
	if rep := mustAudit(t, s, keys); rep.Size != 1 {
		t.Fatalf("audit report %+v, want 1 leaf", rep)
	}
}

// gatedStore holds the first append of its log until release is closed,
// and records how many redemptions each batch with redemptions took and
// how many leaves it built. With corrupt set, the batch's build output is
// spoiled (an unsigned checkpoint) once, after its redemptions have run.
type gatedStore struct {
	RedeemStore
	entered chan struct{} // closed when the first append is held
	release chan struct{}
	once    sync.Once

	mu      sync.Mutex
	corrupt bool
	batches [][2]int // {redemptions, leaves}
}

func (g *gatedStore) hold() {
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
}

func (g *gatedStore) AppendBatch(ctx context.Context, first int64, leaves []historylog.StoredLeaf, hashes []tlog.Hash, cp historylog.StoredCheckpoint) error {
	g.hold()
	return g.RedeemStore.AppendBatch(ctx, first, leaves, hashes, cp)
}

func (g *gatedStore) AppendBatchWithRedemptions(ctx context.Context, first int64, rs []historylog.Redemption, build historylog.BuildFunc) ([]historylog.RedemptionResult, error) {
	g.hold()
	return g.RedeemStore.AppendBatchWithRedemptions(ctx, first, rs, func(o []historylog.RedemptionResult) ([]historylog.StoredLeaf, []tlog.Hash, historylog.StoredCheckpoint, error) {
		leaves, hashes, cp, err := build(o)
		g.mu.Lock()
		defer g.mu.Unlock()
		g.batches = append(g.batches, [2]int{len(rs), len(leaves)})
		if g.corrupt {
			g.corrupt = false
			cp.Note = nil
		}
		return leaves, hashes, cp, err
	})
}

func newGatedStore(s RedeemStore) *gatedStore {
	return &gatedStore{RedeemStore: s, entered: make(chan struct{}), release: make(chan struct{})}
}

// waitQueued waits until n callers queue behind a held batch, so that the
// next batch is made of exactly them.
func waitQueued(t *testing.T, l *historylog.Log, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for l.Queued() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d callers queued after 30 s, want %d", l.Queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func testRedeemMixedBatch(t *testing.T, s RedeemStore) {
	ctx := context.Background()
	keys := newKeys(t)
	newShare(t, s, "sh-used", 1)
	newShare(t, s, "sh-good", 1)
	if _, err := s.RedeemShare(ctx, "sh-used", redeemView("vw-0", "850505400011")); err != nil {
		t.Fatal(err)
	}
	g := newGatedStore(s)
	l := newLog(t, g, keys, 0)

	// A first append holds the sequencer while the mixed batch queues.
	first := make(chan error, 1)
	go func() { _, err := l.Append(ctx, entry(citizen(1), citizen(2), t0)); first <- err }()
	<-g.entered
	var (
		wg        sync.WaitGroup
		usedErr   error
		good      wallet.View
		goodErr   error
		plainIdx  []int64
		plainErr  error
		plainNext = entry(citizen(3), string(redeemOwner), t0)
	)
	wg.Add(3)
	go func() { defer wg.Done(); _, usedErr = l.Redeem(ctx, "sh-used", redeemView("vw-used", redeemViewer)) }()
	go func() { defer wg.Done(); good, goodErr = l.Redeem(ctx, "sh-good", redeemView("vw-good", redeemViewer)) }()
	go func() { defer wg.Done(); plainIdx, plainErr = l.Append(ctx, plainNext) }()
	waitQueued(t, l, 3)
	close(g.release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wantCode(t, usedErr, wallet.EEXPIRED)
	if goodErr != nil || plainErr != nil {
		t.Fatalf("good redemption: %v; plain entry: %v", goodErr, plainErr)
	}
	g.mu.Lock()
	if len(g.batches) != 1 || g.batches[0] != [2]int{2, 2} {
		t.Errorf("batches with redemptions %v, want one with 2 redemptions and 2 leaves", g.batches)
	}
	g.mu.Unlock()
	// Dense: the first append at 0, then the good redemption and the plain
	// entry at 1 and 2, in some order.
	if idx := []int64{good.LogIndex, plainIdx[0]}; !(idx[0] == 1 && idx[1] == 2 || idx[0] == 2 && idx[1] == 1) {
		t.Fatalf("indexes of the good redemption and the plain entry %v, want 1 and 2", idx)
	}
	checkLeafIsView(t, l, good.LogIndex, good)
	checkShare(t, s, "sh-used", 1)
	checkShare(t, s, "sh-good", 1)
	views := storedViews(t, s)
	if _, ok := views["vw-used"]; ok {
		t.Fatal("the refused redemption stored a view")
	}
	if views["vw-good"].LogIndex != good.LogIndex {
		t.Fatalf("stored view %+v, want log index %d", views["vw-good"], good.LogIndex)
	}
	if rep := mustAudit(t, s, keys); rep.Size != 3 {
		t.Fatalf("audit report %+v, want 3 leaves", rep)
	}
}

func testRedeemConcurrentSingleUse(t *testing.T, s RedeemStore) {
	ctx := context.Background()
	keys := newKeys(t)
	l := newLog(t, s, keys, 0)
	rec := historylog.Recorder{Store: s, Log: l}
	newShare(t, s, "sh-1", 1)
	const n = 50
	var (
		wg    sync.WaitGroup
		views = make([]wallet.View, n)
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			views[i], errs[i] = rec.RedeemShare(ctx, "sh-1", redeemView(fmt.Sprintf("vw-%d", i), fmt.Sprintf("8505054%05d", i)))
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("redemptions %d and %d both succeeded", won, i)
		case err == nil:
			won = i
		default:
			wantCode(t, err, wallet.EEXPIRED)
		}
	}
	if won < 0 {
		t.Fatal("no redemption succeeded")
	}
	if views[won].LogIndex != 0 {
		t.Fatalf("the redeemed view's log index is %d, want 0", views[won].LogIndex)
	}
	checkShare(t, s, "sh-1", 1)
	stored := storedViews(t, s)
	if len(stored) != 1 || stored[views[won].ID].LogIndex != 0 {
		t.Fatalf("stored views %+v, want only %s at index 0", stored, views[won].ID)
	}
	checkLeafIsView(t, l, 0, views[won])
	if rep := mustAudit(t, s, keys); rep.Size != 1 {
		t.Fatalf("audit report %+v, want 1 leaf", rep)
	}
}

func testRedeemFailureInBatch(t *testing.T, s RedeemStore) {
	ctx := context.Background()
	keys := newKeys(t)
	newShare(t, s, "sh-1", 1)
	newShare(t, s, "sh-2", 1)
	g := newGatedStore(s)
	g.corrupt = true
	l := newLog(t, g, keys, 0)

	// A plain append holds the sequencer while two redemptions and a plain
	// entry queue; their batch is spoiled after its redemptions ran.
	held := make(chan error, 1)
	go func() { _, err := l.Append(ctx, entry(citizen(1), citizen(2), t0)); held <- err }()
	<-g.entered
	errs := make(chan error, 3)
	go func() { _, err := l.Redeem(ctx, "sh-1", redeemView("vw-1", redeemViewer)); errs <- err }()
	go func() { _, err := l.Redeem(ctx, "sh-2", redeemView("vw-2", redeemViewer)); errs <- err }()
	go func() { _, err := l.Append(ctx, entry(citizen(3), citizen(4), t0)); errs <- err }()
	waitQueued(t, l, 3)
	close(g.release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := <-errs; wallet.ErrorCode(err) == "" {
			t.Fatalf("a caller of the failed batch got %v, want an error with a code", err)
		}
	}
	g.mu.Lock()
	if len(g.batches) != 1 || g.batches[0] != [2]int{2, 3} {
		t.Errorf("batches with redemptions %v, want one with 2 redemptions and 3 leaves", g.batches)
	}
	g.mu.Unlock()
	size, err := s.LogSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if size != 1 {
		t.Fatalf("log size %d after the failed batch, want 1", size)
	}
	checkShare(t, s, "sh-1", 0)
	checkShare(t, s, "sh-2", 0)
	if views := storedViews(t, s); len(views) != 0 {
		t.Fatalf("the failed batch stored views %v", views)
	}
	// The next batch takes the index the failed one would have used.
	got, err := l.Redeem(ctx, "sh-1", redeemView("vw-1b", redeemViewer))
	if err != nil {
		t.Fatal(err)
	}
	if got.LogIndex != size {
		t.Fatalf("log index %d after the failed batch, want %d (the log's size then)", got.LogIndex, size)
	}
	checkShare(t, s, "sh-1", 1)
	checkLeafIsView(t, l, got.LogIndex, got)
	if rep := mustAudit(t, s, keys); rep.Size != size+1 {
		t.Fatalf("audit report %+v, want %d leaves", rep, size+1)
	}
}

func testRedeemInvalid(t *testing.T, s RedeemStore) {
	ctx := context.Background()
	l := newLog(t, s, newKeys(t), 0)
	newShare(t, s, "sh-1", 1)
	for name, v := range map[string]wallet.View{
		"no id":     func() wallet.View { v := redeemView("", redeemViewer); return v }(),
		"no owner":  func() wallet.View { v := redeemView("vw-1", redeemViewer); v.OwnerIIN = ""; return v }(),
		"no viewer": redeemView("vw-1", ""),
	} {
		_, err := l.Redeem(ctx, "sh-1", v)
		if wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	v := redeemView("vw-1", redeemViewer)
	v.DocumentID = "doc-2"
	_, err := l.Redeem(ctx, "sh-1", v)
	wantCode(t, err, wallet.EINVALID)
	checkShare(t, s, "sh-1", 0)
	if size, err := s.LogSize(ctx); err != nil || size != 0 {
		t.Fatalf("log size %d, %v; want 0", size, err)
	}
}

// testRecorderEventWithItsLeaf: an event stored through the Recorder is in
// the store exactly when its leaf is, in one transaction. A second event
// with the same id fails inside the batch transaction (after the leaf rows
// were written) and leaves neither a leaf nor an event behind.
func testRecorderEventWithItsLeaf(t *testing.T, s RedeemStore) {
	ctx := context.Background()
	keys := newKeys(t)
	l := newLog(t, s, keys, 0)
	rec := historylog.Recorder{Store: s, Log: l}
	e := wallet.Event{ID: "ev-1", Kind: wallet.EventShareOpened, SubjectIIN: redeemOwner, ActorKind: wallet.ViewerCitizen,
		ActorID: string(redeemOwner), ObjectID: "sh-1", Details: map[string]string{"max_views": "1"}, At: t0, LogIndex: -1}
	if err := rec.AppendEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(ctx, redeemOwner)
	if err != nil || len(evs) != 1 || evs[0].LogIndex != 0 || evs[0].Details["max_views"] != "1" {
		t.Fatalf("events %+v, %v; want ev-1 at log index 0", evs, err)
	}
	if err := rec.AppendEvent(ctx, e); err == nil {
		t.Fatal("a second event with the same id was accepted")
	}
	size, err := s.LogSize(ctx)
	if err != nil || size != 1 {
		t.Fatalf("log size %d, %v after the failed batch; want 1", size, err)
	}
	if evs, _ := s.Events(ctx, redeemOwner); len(evs) != 1 {
		t.Fatalf("events after the failed batch: %+v", evs)
	}
	// The log goes on at the same index.
	e.ID = "ev-2"
	if err := rec.AppendEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	if evs, _ := s.Events(ctx, redeemOwner); len(evs) != 2 || evs[0].LogIndex+evs[1].LogIndex != 1 {
		t.Fatalf("events %+v, want log indexes 0 and 1", evs)
	}
	if rep := mustAudit(t, s, keys); rep.Size != 2 {
		t.Fatalf("audit %+v, want 2 leaves", rep)
	}
}

// testRecorderViewWithItsLeaf: a view recorded through the Recorder (a
// consent release, a guardian's view) is stored with its leaf, in one
// transaction; a duplicate fails the batch and stores nothing.
func testRecorderViewWithItsLeaf(t *testing.T, s RedeemStore) {
	ctx := context.Background()
	keys := newKeys(t)
	l := newLog(t, s, keys, 0)
	rec := historylog.Recorder{Store: s, Log: l}
	v := wallet.View{ID: "vw-c1", DocumentID: "doc-1", DocumentType: wallet.IDCard, OwnerIIN: redeemOwner,
		ViewerKind: wallet.ViewerOrganisation, ViewerID: "cli-bank", Channel: wallet.ChannelConsent,
		ConsentID: "cns-1", At: t0, LogIndex: -1}
	if err := rec.RecordView(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := rec.RecordView(ctx, v); err == nil {
		t.Fatal("a second view with the same id was accepted")
	}
	views := storedViews(t, s)
	if len(views) != 1 || views["vw-c1"].LogIndex != 0 {
		t.Fatalf("stored views %+v, want vw-c1 at index 0", views)
	}
	if rep := mustAudit(t, s, keys); rep.Size != 1 {
		t.Fatalf("audit %+v, want 1 leaf", rep)
	}
}
