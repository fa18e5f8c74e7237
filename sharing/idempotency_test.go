package sharing_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// lostAnswer commits changes and then, armed, loses the answer: the change
// is durable but the caller gets EUNAVAILABLE, as when the connection
// drops after COMMIT or the service dies before it answers.
type lostAnswer struct {
	wallet.Committer
	armed atomic.Bool
}

func (l *lostAnswer) Commit(ctx context.Context, c wallet.Change) ([]int64, error) {
	idx, err := l.Committer.Commit(ctx, c)
	if err == nil && l.armed.Load() {
		return nil, wallet.Errorf(wallet.EUNAVAILABLE, "the answer to COMMIT was lost")
	}
	return idx, err
}

func (e *env) loseAnswers() *lostAnswer {
	l := &lostAnswer{Committer: e.svc.Changes}
	e.svc.Changes = l
	return l
}

func (e *env) shareViews(t testing.TB, id string) int {
	t.Helper()
	sh, err := e.store.Share(ctx, id)
	noErr(t, err)
	return sh.Views
}

// A redemption whose commit's answer was lost answers the stored outcome;
// a retry with the same key gets the same view and the document again and
// spends no second use, even of a multi-use share.
func TestRedeemOnce_RetryAfterLostCommitGetsTheSameViewAndNoSecondUse(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		lost := e.loseAnswers()
		doc, o := e.open(t, 0, 1)
		v := viewer(t)

		lost.armed.Store(true)
		first, err := e.svc.RedeemTokenOnce(ctx, v, o.Token, "key-1")
		lost.armed.Store(false)
		noErr(t, err) // recovered from the stored outcome
		if first.Document.ID != doc.ID || first.View.ID == "" {
			t.Fatalf("first answer %+v", first)
		}
		retry, err := e.svc.RedeemTokenOnce(ctx, v, o.Token, "key-1")
		noErr(t, err)
		if retry.View.ID != first.View.ID || retry.Document.ID != doc.ID || !retry.Replayed {
			t.Fatalf("retry %+v, want view %s replayed", retry.View, first.View.ID)
		}
		if retry.View.LogIndex < 0 {
			t.Errorf("replayed view has no log index")
		}
		if n := len(e.viewsOfOwner(t, doc.SubjectIIN)); n != 1 {
			t.Errorf("%d views, want 1", n)
		}
		// Without the key, the single-use share is used.
		_, err = e.svc.RedeemToken(ctx, v, o.Token)
		wantCode(t, err, wallet.EEXPIRED)

		// A multi-use share retried three times is one view and one use.
		doc, o = e.open(t, 0, 3)
		for range 3 {
			r, err := e.svc.RedeemCodeOnce(ctx, v, doc.SubjectIIN, o.ShortCode, "key-2")
			noErr(t, err)
			if r.Document.ID != doc.ID {
				t.Fatalf("document %s, want %s", r.Document.ID, doc.ID)
			}
		}
		if n := e.shareViews(t, o.Share.ID); n != 1 {
			t.Errorf("share has %d views after one redemption retried, want 1", n)
		}
		// The two uses left are there for other requests.
		for _, k := range []string{"key-3", ""} {
			_, err := e.svc.RedeemTokenOnce(ctx, viewer(t), o.Token, k)
			noErr(t, err)
		}
		_, err = e.svc.RedeemTokenOnce(ctx, viewer(t), o.Token, "key-4")
		wantCode(t, err, wallet.EEXPIRED)
	})
}

// Concurrent requests with one key spend one use between them: each gets
// the one view, or is told to retry (ECONFLICT) while the first is running.
func TestRedeemOnce_ConcurrentSameKeySpendsOneUse(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		for _, maxViews := range []int{1, 5} {
			doc, o := e.open(t, 0, maxViews)
			v := viewer(t)
			var wg sync.WaitGroup
			views := make([]string, 8)
			errs := make([]error, 8)
			for i := range views {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := e.svc.RedeemTokenOnce(ctx, v, o.Token, "same-key")
					views[i], errs[i] = r.View.ID, err
				}()
			}
			wg.Wait()
			var id string
			for i, err := range errs {
				switch wallet.ErrorCode(err) {
				case "":
					if id != "" && views[i] != id {
						t.Fatalf("two views %s and %s for one key", id, views[i])
					}
					id = views[i]
				case wallet.ECONFLICT:
				default:
					t.Fatalf("max_views %d: %v", maxViews, err)
				}
			}
			if n := e.shareViews(t, o.Share.ID); n != 1 {
				t.Errorf("max_views %d: %d views, want 1", maxViews, n)
			}
			if n := len(e.viewsOfOwner(t, doc.SubjectIIN)); n != 1 {
				t.Errorf("max_views %d: %d view rows, want 1", maxViews, n)
			}
			// Retried once the others ended, it is the one view.
			r, err := e.svc.RedeemTokenOnce(ctx, v, o.Token, "same-key")
			noErr(t, err)
			if id != "" && r.View.ID != id {
				t.Errorf("retry view %s, want %s", r.View.ID, id)
			}
		}
	})
}

// The same key with another request is EIDEMPOTENCY and spends nothing; a
// malformed key is EINVALID.
func TestRedeemOnce_SameKeyOtherRequestIsRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		_, o1 := e.open(t, 0, 1)
		_, o2 := e.open(t, 0, 1)
		v := viewer(t)
		_, err := e.svc.RedeemTokenOnce(ctx, v, o1.Token, "k")
		noErr(t, err)
		_, err = e.svc.RedeemTokenOnce(ctx, v, o2.Token, "k")
		wantCode(t, err, wallet.EIDEMPOTENCY)
		if n := e.shareViews(t, o2.Share.ID); n != 0 {
			t.Errorf("a refused key spent a use of another share")
		}
		// Another caller's key of the same name is another key.
		_, err = e.svc.RedeemTokenOnce(ctx, viewer(t), o2.Token, "k")
		noErr(t, err)
		for _, bad := range []string{string(make([]byte, 256)), "tab\there", "é"} {
			_, err = e.svc.RedeemTokenOnce(ctx, v, o1.Token, bad)
			wantCode(t, err, wallet.EINVALID)
		}
	})
}

// Issuance retried with its key answers the same share, token and code and
// opens no other; if the first request stopped after its commit, the retry
// makes the share redeemable. Another body with the key is EIDEMPOTENCY.
func TestOpenOnce_RetryGetsTheSameShareTokenAndCode(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		lost := e.loseAnswers()
		owner := newIIN(t)
		doc := e.newDoc(t, owner)

		lost.armed.Store(true)
		first, err := e.svc.OpenOnce(ctx, doc, owner, 0, 2, "open-1")
		lost.armed.Store(false)
		noErr(t, err)
		retry, err := e.svc.OpenOnce(ctx, doc, owner, 0, 2, "open-1")
		noErr(t, err)
		if retry.Share.ID != first.Share.ID || retry.Token != first.Token || retry.ShortCode != first.ShortCode || retry.URL != first.URL {
			t.Fatalf("retry %+v, want %+v", retry, first)
		}
		shares, err := e.store.Shares(ctx, owner)
		noErr(t, err)
		if len(shares) != 1 {
			t.Fatalf("%d shares, want 1", len(shares))
		}
		if kinds := e.eventKinds(t, owner); count(kinds, wallet.EventShareOpened) != 1 {
			t.Errorf("events %v, want one share_opened", kinds)
		}
		// The share works, by token and by code, for its two views.
		_, err = e.svc.RedeemToken(ctx, viewer(t), first.Token)
		noErr(t, err)
		_, err = e.svc.RedeemCode(ctx, viewer(t), owner, first.ShortCode)
		noErr(t, err)
		_, err = e.svc.RedeemToken(ctx, viewer(t), first.Token)
		wantCode(t, err, wallet.EEXPIRED)

		// The same key with other terms.
		_, err = e.svc.OpenOnce(ctx, doc, owner, 0, 3, "open-1")
		wantCode(t, err, wallet.EIDEMPOTENCY)
		// The outcome is stored sealed: no token or code in clear.
		rec, err := e.store.Idempotency(ctx, string(owner), "open-1", e.clock.Now())
		noErr(t, err)
		for _, secret := range []string{first.Token, first.ShortCode} {
			if containsBytes(rec.Outcome, secret) {
				t.Errorf("stored outcome holds %q in clear", secret)
			}
		}
	})
}

func containsBytes(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return true
		}
	}
	return false
}

// The store refuses a second change that saves a caller's live key: the
// whole change, its redemption included, so two requests with one key that
// got past everything else still spend one use. An expired key may be used
// again (it is purged).
func TestSaveIdempotency_ConflictRefusesTheWholeChange(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 3)
		v := viewer(t)
		now := e.clock.Now()
		change := func(viewID string, at time.Time) wallet.Change {
			return wallet.Change{Ops: []wallet.Op{
				wallet.RedeemShare{ShareID: o.Share.ID, View: wallet.View{
					ID: viewID, DocumentID: doc.ID, DocumentType: doc.Type, OwnerIIN: doc.SubjectIIN,
					ViewerKind: wallet.ViewerCitizen, ViewerID: string(v.IIN), Channel: wallet.ChannelQR, At: at, LogIndex: -1,
				}},
				wallet.SaveIdempotency{At: at, Record: wallet.IdempotencyRecord{
					Caller: string(v.IIN), Key: "k", RequestHash: "h", Outcome: []byte(viewID),
					CreatedAt: at, ExpiresAt: at.Add(wallet.IdempotencyKeyTTL),
				}},
			}}
		}
		_, err := e.svc.Changes.Commit(ctx, change("vw_1", now))
		noErr(t, err)
		_, err = e.svc.Changes.Commit(ctx, change("vw_2", now))
		wantCode(t, err, wallet.ECONFLICT)
		if n := e.shareViews(t, o.Share.ID); n != 1 {
			t.Fatalf("%d views after a refused change, want 1", n)
		}
		rec, err := e.store.Idempotency(ctx, string(v.IIN), "k", now)
		noErr(t, err)
		if string(rec.Outcome) != "vw_1" {
			t.Errorf("outcome %q, want the first", rec.Outcome)
		}
		// Past its 24 hours the key is gone and may be used again.
		later := now.Add(wallet.IdempotencyKeyTTL)
		_, err = e.store.Idempotency(ctx, string(v.IIN), "k", later)
		wantCode(t, err, wallet.ENOTFOUND)
		_, o2 := e.open(t, 0, 1)
		o.Share.ID = o2.Share.ID
		doc.ID, doc.SubjectIIN = o2.Share.DocumentID, o2.Share.OwnerIIN
		_, err = e.svc.Changes.Commit(ctx, change("vw_3", now.Add(time.Minute)))
		wantCode(t, err, wallet.ECONFLICT) // still live a minute later
	})
}
