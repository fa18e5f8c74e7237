package wallettest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/internal/redeemqueue"
)

// RedeemBatchStore is a store under the group-commit tests, with hooks into
// its committer that only the store's own package can give.
type RedeemBatchStore struct {
	wallet.Store
	// RunBatch runs a batch as the store's committer does.
	RunBatch func([]*redeemqueue.Request)
	// Poison makes the commit of a transaction that stored a view with id
	// v-poison fail (a constraint checked only at COMMIT).
	Poison func(t *testing.T)
}

// RunRedeemBatchTests checks a store's group commit of RedeemShare: each
// failure in a batch rolls back only itself, a failed commit fails every
// member and stores nothing, many concurrent redemptions all commit, and
// none is taken after Close. open returns a fresh, migrated store.
func RunRedeemBatchTests(t *testing.T, open func(t *testing.T) RedeemBatchStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s RedeemBatchStore)
	}{
		{"EachFailureRollsBackOnlyItself", testRedeemBatchEachFailureRollsBackOnlyItself},
		{"FailedCommitFailsEveryMemberAndStoresNothing", testRedeemBatchFailedCommitFailsEveryMember},
		{"ManyConcurrentAreAllCommitted", testRedeemManyConcurrentAreAllCommitted},
		{"AfterCloseIsUnavailable", testRedeemAfterCloseIsUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var batchT0 = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

func batchShare(t *testing.T, s wallet.Store, id string, maxViews int) {
	t.Helper()
	err := s.CreateShare(context.Background(), wallet.Share{ID: id, DocumentID: "doc-1", OwnerIIN: "880412310009",
		CreatedBy: "880412310009", MaxViews: maxViews, CreatedAt: batchT0, ExpiresAt: batchT0.Add(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
}

func batchView(id string) wallet.View {
	return wallet.View{ID: id, DocumentID: "doc-1", DocumentType: wallet.IDCard, OwnerIIN: "880412310009",
		ViewerKind: wallet.ViewerCitizen, ViewerID: "800519347947", Channel: wallet.ChannelQR,
		At: batchT0.Add(time.Second), LogIndex: -1}
}

func newRequest(ctx context.Context, shareID string, v wallet.View) *redeemqueue.Request {
	return redeemqueue.NewTaken(ctx, shareID, v)
}

// storedViewIDs returns the ids of the views stored for the owner.
func storedViewIDs(t *testing.T, s wallet.Store) map[string]bool {
	t.Helper()
	views, err := s.ViewsOfOwner(context.Background(), "880412310009")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, v := range views {
		ids[v.ID] = true
	}
	return ids
}

func testRedeemBatchEachFailureRollsBackOnlyItself(t *testing.T, s RedeemBatchStore) {
	ctx := context.Background()
	batchShare(t, s, "sh-a", 1)
	batchShare(t, s, "sh-b", 2)
	if err := s.RecordView(ctx, batchView("v-taken")); err != nil {
		t.Fatal(err)
	}
	other := batchView("v-other-doc")
	other.DocumentID = "doc-2"
	cases := []struct {
		shareID string
		view    wallet.View
		want    string // an error code, "" for success
	}{
		{"sh-a", batchView("v-1"), ""},
		{"sh-a", batchView("v-2"), wallet.EEXPIRED}, // used up by v-1 in the same transaction
		{"sh-b", batchView("v-taken"), wallet.ECONFLICT},
		{"sh-b", batchView("v-3"), ""},
		{"sh-missing", batchView("v-4"), wallet.ENOTFOUND},
		{"sh-b", other, wallet.EINVALID},
		{"sh-b", batchView("v-5"), ""},
		{"sh-b", batchView("v-6"), wallet.EEXPIRED},
	}
	batch := make([]*redeemqueue.Request, len(cases))
	for i, c := range cases {
		batch[i] = newRequest(ctx, c.shareID, c.view)
	}
	s.RunBatch(batch)
	for i, c := range cases {
		rv, rerr := batch[i].Outcome()
		if got := wallet.ErrorCode(rerr); got != c.want {
			t.Errorf("%s on %s: code %q, want %q (%v)", c.view.ID, c.shareID, got, c.want, rerr)
		}
		if c.want == "" && (rv.ID != c.view.ID || rv.ShareID != c.shareID) {
			t.Errorf("%s: returned view %+v", c.view.ID, rv)
		}
	}
	for id, views := range map[string]int{"sh-a": 1, "sh-b": 2} {
		sh, err := s.Share(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if sh.Views != views {
			t.Errorf("%s counts %d views, want %d", id, sh.Views, views)
		}
	}
	got := storedViewIDs(t, s)
	want := map[string]bool{"v-taken": true, "v-1": true, "v-3": true, "v-5": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stored views %v, want %v", got, want)
	}
}

func testRedeemBatchFailedCommitFailsEveryMember(t *testing.T, s RedeemBatchStore) {
	ctx := context.Background()
	batchShare(t, s, "sh-a", 5)
	s.Poison(t) // a view with id v-poison now makes the commit fail
	batch := []*redeemqueue.Request{
		newRequest(ctx, "sh-a", batchView("v-1")),
		newRequest(ctx, "sh-a", batchView("v-poison")),
		newRequest(ctx, "sh-a", batchView("v-2")),
	}
	s.RunBatch(batch)
	for _, r := range batch {
		if _, err := r.Outcome(); err == nil {
			t.Errorf("%s: redeemed although the commit failed", r.View.ID)
		}
	}
	sh, err := s.Share(ctx, "sh-a")
	if err != nil {
		t.Fatal(err)
	}
	if sh.Views != 0 || len(storedViewIDs(t, s)) != 0 {
		t.Fatalf("after a failed commit: %d views counted, views stored %v", sh.Views, storedViewIDs(t, s))
	}
	// The writer is usable again.
	if _, err := s.RedeemShare(ctx, "sh-a", batchView("v-3")); err != nil {
		t.Fatal(err)
	}
}

func testRedeemManyConcurrentAreAllCommitted(t *testing.T, s RedeemBatchStore) {
	ctx := context.Background()
	const n = 300
	for i := range n {
		batchShare(t, s, fmt.Sprintf("sh-%d", i), 1)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.RedeemShare(ctx, fmt.Sprintf("sh-%d", i), batchView(fmt.Sprintf("v-%d", i)))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("redemption %d: %v", i, err)
		}
	}
	if got := len(storedViewIDs(t, s)); got != n {
		t.Fatalf("%d views stored, want %d", got, n)
	}
}

func testRedeemAfterCloseIsUnavailable(t *testing.T, s RedeemBatchStore) {
	batchShare(t, s, "sh-a", 1)
	s.Close()
	_, err := s.RedeemShare(context.Background(), "sh-a", batchView("v-1"))
	if code := wallet.ErrorCode(err); code != wallet.EUNAVAILABLE {
		t.Fatalf("code %q, want %q", code, wallet.EUNAVAILABLE)
	}
}
