package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/wallettest"
)

var batchT0 = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

func openBatchStore(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, wallettest.PostgresSchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func batchShare(t *testing.T, s *Store, id string, maxViews int) {
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

func newRequest(ctx context.Context, shareID string, v wallet.View) *redeemRequest {
	r := &redeemRequest{ctx: ctx, shareID: shareID, view: v, result: make(chan redeemResult, 1)}
	r.state.Store(redeemTaken)
	return r
}

// storedViewIDs returns the ids of the views stored for the owner.
func storedViewIDs(t *testing.T, s *Store) map[string]bool {
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

func TestRedeemBatch_EachFailureRollsBackOnlyItself(t *testing.T) {
	s := openBatchStore(t)
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
	batch := make([]*redeemRequest, len(cases))
	for i, c := range cases {
		batch[i] = newRequest(ctx, c.shareID, c.view)
	}
	s.redeemBatch(batch)
	for i, c := range cases {
		r := <-batch[i].result
		if got := wallet.ErrorCode(r.err); got != c.want {
			t.Errorf("%s on %s: code %q, want %q (%v)", c.view.ID, c.shareID, got, c.want, r.err)
		}
		if c.want == "" && (r.view.ID != c.view.ID || r.view.ShareID != c.shareID) {
			t.Errorf("%s: returned view %+v", c.view.ID, r.view)
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

func TestRedeemBatch_FailedCommitFailsEveryMemberAndStoresNothing(t *testing.T) {
	s := openBatchStore(t)
	ctx := context.Background()
	batchShare(t, s, "sh-a", 5)
	// A view with id v-poison makes the commit fail: a deferred constraint
	// trigger, run only at COMMIT.
	for _, q := range []string{
		`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF NEW.id = 'v-poison' THEN RAISE EXCEPTION 'poisoned view'; END IF;
				RETURN NULL;
			END $$`,
		`CREATE CONSTRAINT TRIGGER poison AFTER INSERT ON views
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION poison()`,
	} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	batch := []*redeemRequest{
		newRequest(ctx, "sh-a", batchView("v-1")),
		newRequest(ctx, "sh-a", batchView("v-poison")),
		newRequest(ctx, "sh-a", batchView("v-2")),
	}
	s.redeemBatch(batch)
	for _, r := range batch {
		if res := <-r.result; res.err == nil {
			t.Errorf("%s: redeemed although the commit failed", r.view.ID)
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

func TestRedeemShare_ManyConcurrentAreAllCommitted(t *testing.T) {
	s := openBatchStore(t)
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

func TestRedeemShare_AfterCloseIsUnavailable(t *testing.T) {
	s := openBatchStore(t)
	batchShare(t, s, "sh-a", 1)
	s.Close()
	_, err := s.RedeemShare(context.Background(), "sh-a", batchView("v-1"))
	if code := wallet.ErrorCode(err); code != wallet.EUNAVAILABLE {
		t.Fatalf("code %q, want %q", code, wallet.EUNAVAILABLE)
	}
}

// blockingRun is a batch executor that records its batches and waits for
// release before answering them.
type blockingRun struct {
	mu      sync.Mutex
	batches [][]string
	entered chan struct{}
	release chan struct{}
}

func newBlockingRun() *blockingRun {
	return &blockingRun{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (b *blockingRun) run(batch []*redeemRequest) {
	var ids []string
	for _, r := range batch {
		ids = append(ids, r.view.ID)
	}
	b.mu.Lock()
	b.batches = append(b.batches, ids)
	b.mu.Unlock()
	b.entered <- struct{}{}
	<-b.release
	for _, r := range batch {
		r.answer(r.view, nil)
	}
}

func TestRedeemer_CtxEndedWhileQueuedIsNeverRun(t *testing.T) {
	var q redeemer
	b := newBlockingRun()
	first := make(chan error, 1)
	go func() {
		_, err := q.redeem(context.Background(), "sh", wallet.View{ID: "v-first"}, b.run)
		first <- err
	}()
	<-b.entered // the committer is busy with the first batch
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		_, err := q.redeem(ctx, "sh", wallet.View{ID: "v-cancelled"}, b.run)
		second <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it queue
	cancel()
	if code := wallet.ErrorCode(<-second); code != wallet.EUNAVAILABLE {
		t.Fatalf("cancelled while queued: code %q, want %q", code, wallet.EUNAVAILABLE)
	}
	third := make(chan error, 1)
	go func() {
		_, err := q.redeem(context.Background(), "sh", wallet.View{ID: "v-third"}, b.run)
		third <- err
	}()
	time.Sleep(20 * time.Millisecond)
	close(b.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-third; err != nil {
		t.Fatal(err)
	}
	q.close()
	if got := fmt.Sprint(b.batches); got != "[[v-first] [v-third]]" {
		t.Fatalf("batches %s, want [[v-first] [v-third]]", got)
	}
}

func TestRedeemer_TakenIsAnsweredWhateverItsCtx(t *testing.T) {
	var q redeemer
	b := newBlockingRun()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := q.redeem(ctx, "sh", wallet.View{ID: "v-1"}, b.run)
		done <- err
	}()
	<-b.entered
	cancel()
	select {
	case err := <-done:
		t.Fatalf("answered %v before its batch was done", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(b.release)
	if err := <-done; err != nil {
		t.Fatalf("taken into a batch that succeeded, yet: %v", err)
	}
	q.close()
}

func TestRedeemer_CloseWaitsForQueuedAndRefusesLater(t *testing.T) {
	var q redeemer
	b := newBlockingRun()
	const n = 5
	errs := make(chan error, n)
	go func() {
		_, err := q.redeem(context.Background(), "sh", wallet.View{ID: "v-0"}, b.run)
		errs <- err
	}()
	<-b.entered
	for i := 1; i < n; i++ {
		go func() {
			_, err := q.redeem(context.Background(), "sh", wallet.View{ID: fmt.Sprint("v-", i)}, b.run)
			errs <- err
		}()
	}
	time.Sleep(20 * time.Millisecond) // let them queue
	closed := make(chan struct{})
	go func() { q.close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("close returned while redemptions were queued")
	case <-time.After(20 * time.Millisecond):
	}
	close(b.release)
	<-closed
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	_, err := q.redeem(context.Background(), "sh", wallet.View{ID: "v-late"}, b.run)
	if code := wallet.ErrorCode(err); code != wallet.EUNAVAILABLE {
		t.Fatalf("after close: code %q, want %q", code, wallet.EUNAVAILABLE)
	}
	q.close() // again: returns
}

func TestRedeemer_CloseWithoutRedemptions(t *testing.T) {
	var q redeemer
	q.close()
	_, err := q.redeem(context.Background(), "sh", wallet.View{ID: "v"}, func([]*redeemRequest) {})
	if code := wallet.ErrorCode(err); code != wallet.EUNAVAILABLE {
		t.Fatalf("code %q, want %q", code, wallet.EUNAVAILABLE)
	}
}
