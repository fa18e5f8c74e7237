package redeemqueue

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// blockingRun is a batch executor that records each batch and waits for
// release before answering it.
type blockingRun struct {
	mu      sync.Mutex
	batches [][]string
	entered chan struct{}
	release chan struct{}
}

func newBlockingRun() *blockingRun {
	return &blockingRun{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (b *blockingRun) run(batch []*Request) {
	var ids []string
	for _, r := range batch {
		ids = append(ids, r.View.ID)
	}
	b.mu.Lock()
	b.batches = append(b.batches, ids)
	b.mu.Unlock()
	b.entered <- struct{}{}
	<-b.release
	for _, r := range batch {
		r.Answer(r.View, nil)
	}
}

// waitQueued waits until n requests wait in q.
func waitQueued(t *testing.T, q *Queue, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for q.Queued() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d queued after 30 s, want %d", q.Queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestQueue_CtxEndedWhileQueuedIsNeverRun(t *testing.T) {
	var q Queue
	b := newBlockingRun()
	first := make(chan error, 1)
	go func() {
		_, err := q.Redeem(context.Background(), "sh", wallet.View{ID: "v-first"}, b.run)
		first <- err
	}()
	<-b.entered // the committer is busy with the first batch
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		_, err := q.Redeem(ctx, "sh", wallet.View{ID: "v-cancelled"}, b.run)
		second <- err
	}()
	waitQueued(t, &q, 1)
	cancel()
	if code := wallet.ErrorCode(<-second); code != wallet.EUNAVAILABLE {
		t.Fatalf("cancelled while queued: code %q, want %q", code, wallet.EUNAVAILABLE)
	}
	third := make(chan error, 1)
	go func() {
		_, err := q.Redeem(context.Background(), "sh", wallet.View{ID: "v-third"}, b.run)
		third <- err
	}()
	waitQueued(t, &q, 2)
	close(b.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-third; err != nil {
		t.Fatal(err)
	}
	q.Close()
	if got := fmt.Sprint(b.batches); got != "[[v-first] [v-third]]" {
		t.Fatalf("batches %s, want [[v-first] [v-third]]", got)
	}
}

func TestQueue_TakenIsAnsweredWhateverItsCtx(t *testing.T) {
	var q Queue
	b := newBlockingRun()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := q.Redeem(ctx, "sh", wallet.View{ID: "v-1"}, b.run)
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
	q.Close()
}

func TestQueue_CloseWaitsForQueuedAndRefusesLater(t *testing.T) {
	var q Queue
	b := newBlockingRun()
	const n = 5
	errs := make(chan error, n)
	go func() {
		_, err := q.Redeem(context.Background(), "sh", wallet.View{ID: "v-0"}, b.run)
		errs <- err
	}()
	<-b.entered
	for i := 1; i < n; i++ {
		go func() {
			_, err := q.Redeem(context.Background(), "sh", wallet.View{ID: fmt.Sprint("v-", i)}, b.run)
			errs <- err
		}()
	}
	waitQueued(t, &q, n-1)
	closed := make(chan struct{})
	go func() { q.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while redemptions were queued")
	case <-time.After(20 * time.Millisecond):
	}
	close(b.release)
	<-closed
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	_, err := q.Redeem(context.Background(), "sh", wallet.View{ID: "v-late"}, b.run)
	if code := wallet.ErrorCode(err); code != wallet.EUNAVAILABLE {
		t.Fatalf("after Close: code %q, want %q", code, wallet.EUNAVAILABLE)
	}
	q.Close() // again: returns
}

func TestQueue_CloseWithoutRedemptions(t *testing.T) {
	var q Queue
	q.Close()
	_, err := q.Redeem(context.Background(), "sh", wallet.View{ID: "v"}, func([]*Request) {})
	if code := wallet.ErrorCode(err); code != wallet.EUNAVAILABLE {
		t.Fatalf("code %q, want %q", code, wallet.EUNAVAILABLE)
	}
}
