package sharing_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qujat/qujat/sharing"
	"github.com/qujat/qujat/shortlived/memstore"
	"github.com/qujat/qujat/wallet"
)

// crashingCommitter stands for a process that dies after the short-lived
// store was asked about a redemption and before its durable commit: the
// commit of the first RedeemShare panics, so that nothing after it in the
// service runs either.
type crashingCommitter struct {
	wallet.Committer
	crashed atomic.Bool
}

type crash struct{}

func (c *crashingCommitter) Commit(ctx context.Context, ch wallet.Change) ([]int64, error) {
	for _, op := range ch.Ops {
		if _, ok := op.(wallet.RedeemShare); ok && c.crashed.CompareAndSwap(false, true) {
			panic(crash{})
		}
	}
	return c.Committer.Commit(ctx, ch)
}

func redeemThroughCrash(t *testing.T, redeem func() (sharing.Redemption, error)) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
		}
	}()
	_, err := redeem()
	t.Fatalf("the redemption returned %v instead of crashing", err)
}

// A redemption cut off between the short-lived store and the durable commit
// spends no view: the durable store alone counts them.
func TestRedeem_CrashBeforeTheDurableCommitSpendsNoView(t *testing.T) {
	for _, by := range []string{"token", "code"} {
		t.Run(by, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, e *env, b backend) {
				doc, o := e.open(t, 0, 1)
				redeem := func() (sharing.Redemption, error) {
					if by == "token" {
						return e.svc.RedeemToken(ctx, viewer(t), o.Token)
					}
					return e.svc.RedeemCode(ctx, viewer(t), doc.SubjectIIN, o.ShortCode)
				}
				c := &crashingCommitter{Committer: e.svc.Changes}
				e.svc.Changes = c
				redeemThroughCrash(t, redeem)
				if n := len(e.viewsOfOwner(t, doc.SubjectIIN)); n != 0 {
					t.Fatalf("%d views stored by a crashed redemption", n)
				}
				// The restarted service (same stores) still has the view.
				r, err := redeem()
				noErr(t, err)
				if r.Document.ID != doc.ID {
					t.Errorf("released %q, want %q", r.Document.ID, doc.ID)
				}
				_, err = redeem()
				wantCode(t, err, wallet.EEXPIRED)
			})
		})
	}
}

// loseShortLived empties the short-lived store as a Redis restart without
// persistence does, and reports whether the backend can.
func loseShortLived(e *env, b backend) bool {
	switch {
	case b.shortLivedClock:
		e.svc.Codes = memstore.New(e.clock.Now)
	case e.redis != nil:
		e.redis.Restart()
	default:
		return false
	}
	return true
}

// After the short-lived store lost its data, a viewer retrying a real code
// is told the code is gone, and is neither counted as guessing nor voids
// the owner's codes; once the owner has a live code again, misses count.
func TestRedeemCode_LostCodesAreNotGuesses(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		owner := newIIN(t)
		doc := e.newDoc(t, owner)
		o, err := e.svc.Open(ctx, doc, owner, 0, 1)
		noErr(t, err)
		if !loseShortLived(e, b) {
			t.Skip("this backend's short-lived store is shared; it cannot be emptied")
		}
		v := viewer(t)
		for i := range 12 { // more than every limit
			_, err := e.svc.RedeemCode(ctx, v, owner, o.ShortCode)
			wantCode(t, err, wallet.EEXPIRED)
			if err != nil && !strings.Contains(err.Error(), "no longer valid") {
				t.Fatalf("attempt %d: %v, want the code is no longer valid", i, err)
			}
		}
		if kinds := e.eventKinds(t, owner); count(kinds, wallet.EventCodesVoided) != 0 {
			t.Errorf("owner's events %v, want no codes_voided", kinds)
		}
		// The owner shares again: the new code works for the same viewer.
		o2, err := e.svc.Open(ctx, doc, owner, 0, 1)
		noErr(t, err)
		_, err = e.svc.RedeemCode(ctx, v, owner, o2.ShortCode)
		noErr(t, err)
		// With a live code of the owner's in the store again (o2's one view
		// is spent, so a third share), a miss is a guess again.
		o3, err := e.svc.Open(ctx, doc, owner, 0, 1)
		noErr(t, err)
		_, err = e.svc.RedeemCode(ctx, viewer(t), owner, wrongCodeFor(o3))
		wantCode(t, err, wallet.EINVALIDCODE)
	})
}

// judgedStore counts the code lookups that reach the generation the
// owner's live code is in. Its reads and counters take a network's round
// trip (roundTrip), so that process memory leaves the gaps Redis does.
type judgedStore struct {
	wallet.ShortLivedStore
	prefix string
	judged atomic.Int64
}

const roundTrip = time.Millisecond

func (s *judgedStore) Get(ctx context.Context, key string) ([]byte, error) {
	time.Sleep(roundTrip)
	if strings.HasPrefix(key, s.prefix) {
		s.judged.Add(1)
	}
	return s.ShortLivedStore.Get(ctx, key)
}

func (s *judgedStore) Count(ctx context.Context, key string) (int64, time.Duration, error) {
	time.Sleep(roundTrip)
	return s.ShortLivedStore.Count(ctx, key)
}

func (s *judgedStore) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	time.Sleep(roundTrip)
	return s.ShortLivedStore.Incr(ctx, key, window)
}

// Bursts of concurrent wrong guesses from one viewer and one address: no
// more than the limits are ever judged against the owner's live code (the
// owner's 3 before the codes are voided) or answered as wrong codes (the
// viewer's 5 in 15 minutes).
func TestRedeemCode_ConcurrentGuessesStayWithinTheLimits(t *testing.T) {
	for _, burst := range []int{40, 160} {
		t.Run(fmt.Sprint(burst), func(t *testing.T) {
			eachBackend(t, func(t *testing.T, e *env, b backend) {
				owner := newIIN(t)
				doc := e.newDoc(t, owner)
				o, err := e.svc.Open(ctx, doc, owner, 0, 1)
				noErr(t, err)
				js := &judgedStore{ShortLivedStore: e.svc.Codes, prefix: "code:" + string(owner) + ":0:"}
				e.svc.Codes = js
				v := viewer(t)
				var (
					wg       sync.WaitGroup
					mu       sync.Mutex
					outcomes = map[string]int{}
				)
				start := make(chan struct{})
				for i := range burst {
					code := fmt.Sprintf("%06d", i)
					if code == o.ShortCode {
						code = fmt.Sprintf("%06d", burst+i)
					}
					wg.Go(func() {
						<-start
						_, err := e.svc.RedeemCode(ctx, v, owner, code)
						mu.Lock()
						defer mu.Unlock()
						outcomes[wallet.ErrorCode(err)]++
					})
				}
				close(start)
				wg.Wait()
				lim := sharing.DefaultLimits()
				judged := js.judged.Load()
				t.Logf("burst %d: %d guesses judged against the live code; outcomes %v", burst, judged, outcomes)
				if judged > int64(lim.OwnerWrongCodes) {
					t.Errorf("%d guesses judged against the owner's live code, want at most %d", judged, lim.OwnerWrongCodes)
				}
				if n := outcomes[wallet.EINVALIDCODE]; n > lim.ViewerWrongCodes15m {
					t.Errorf("%d guesses answered as wrong codes, want at most %d", n, lim.ViewerWrongCodes15m)
				}
				if kinds := e.eventKinds(t, owner); count(kinds, wallet.EventCodesVoided) != 1 {
					t.Errorf("owner's events %v, want one codes_voided", kinds)
				}
				if n := outcomes[""]; n != 0 {
					t.Errorf("%d wrong guesses released a document", n)
				}
				for c, n := range outcomes {
					if c != wallet.EINVALIDCODE && c != wallet.ERATELIMITED {
						t.Errorf("%d guesses failed with %q", n, c)
					}
				}
			})
		})
	}
}
