package sharing_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/qujat/qujat/sharing"
	"github.com/qujat/qujat/shortlived/redisstore"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet"
)

func TestMain(m *testing.M) { shortlivedtest.Main(m) }

// redisClusterSQLite keeps the short-lived data in a Redis Cluster of three
// masters and three replicas, one for the whole package, each test under a
// key prefix of its own: every behaviour of backends holds there too, and
// a multi-key script whose keys lie in different slots would fail it
// (CROSSSLOT).
var redisClusterSQLite = backend{
	name: "redis-cluster+sqlite",
	open: func(t testing.TB, clock *fakeClock) (durableStore, wallet.ShortLivedStore, *shortlivedtest.RedisServer) {
		c := shortlivedtest.SharedCluster(t)
		return openSQLite(t), openCluster(t, c), nil
	},
}

// openCluster opens a store on cluster c under a prefix of the test's own.
func openCluster(t testing.TB, c *shortlivedtest.Cluster) *redisstore.Store {
	t.Helper()
	opened, err := redisstore.Open(context.Background(), c.URL())
	if err != nil {
		t.Fatalf("redisstore.Open(cluster): %v", err)
	}
	t.Cleanup(func() { opened.Close() })
	return redisstore.New(opened.Client(), shortlivedtest.UniquePrefix(t))
}

// TestRedeem_MasterFailoverLosesNoViewAndRedeemsNothingTwice redeems shares
// (two views each) by token and by short code from several goroutines
// while the master holding the short-code counters is killed and its
// replica takes over. A redemption that meets the failover fails closed
// (EUNAVAILABLE) and is tried again; afterwards every share has been
// redeemed exactly twice, the third try of each is EEXPIRED, and each
// success has its view, once, in the owner's history.
func TestRedeem_MasterFailoverLosesNoViewAndRedeemsNothingTwice(t *testing.T) {
	c := shortlivedtest.StartCluster(t)
	redis.SetLogger(quietLog{}) // go-redis logs every failed dial
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	codes := openCluster(t, c)
	e := newEnv(t, backend{name: "own cluster", open: func(t testing.TB, _ *fakeClock) (durableStore, wallet.ShortLivedStore, *shortlivedtest.RedisServer) {
		return openSQLite(t), codes, nil
	}})

	const shares = 60
	type opened struct {
		doc wallet.Document
		o   sharing.Opened
	}
	all := make([]opened, shares)
	for i := range all {
		all[i].doc, all[i].o = e.open(t, 10*time.Minute, 2)
	}
	// The entries are on the replicas before the kill: the test is about
	// redemptions, not about writes acknowledged just before a crash.
	if err := c.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	// The master of the code-guess counters: every code redemption needs it.
	victim, err := c.MasterOf(ctx, codes.Key("rl:{codeguess}:x"))
	if err != nil {
		t.Fatal(err)
	}

	var (
		unavailable atomic.Int64
		mu          sync.Mutex
		viewIDs     = map[string]string{} // view id → share id
		perShare    = map[string]int{}
		failures    []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	// redeem tries one redemption until it is answered other than
	// EUNAVAILABLE (bounded), and returns that answer.
	redeem := func(v sharing.Viewer, sh opened, byCode bool) (sharing.Redemption, error) {
		for {
			var r sharing.Redemption
			var err error
			if byCode {
				r, err = e.svc.RedeemCode(ctx, v, sh.doc.SubjectIIN, sh.o.ShortCode)
			} else {
				r, err = e.svc.RedeemToken(ctx, v, sh.o.Token)
			}
			if !wallet.IsCode(err, wallet.EUNAVAILABLE) || ctx.Err() != nil {
				return r, err
			}
			unavailable.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	work := make(chan opened)
	for i := range 6 {
		// A viewer (and an address) per worker: one viewer's codes in
		// flight at once would meet its limit of guesses under way.
		v := sharing.Viewer{IIN: newIIN(t), IP: fmt.Sprintf("192.0.2.%d", 20+i)}
		wg.Go(func() {
			for sh := range work {
				for j := range 3 {
					r, err := redeem(v, sh, j == 1)
					switch {
					case j < 2 && err == nil:
						mu.Lock()
						if prev, dup := viewIDs[r.View.ID]; dup {
							failures = append(failures, fmt.Sprintf("view %s answered twice (shares %s, %s)", r.View.ID, prev, sh.o.Share.ID))
						}
						viewIDs[r.View.ID] = sh.o.Share.ID
						perShare[sh.o.Share.ID]++
						mu.Unlock()
					case j == 2 && wallet.IsCode(err, wallet.EEXPIRED):
					default:
						fail("share %s, redemption %d: %v", sh.o.Share.ID, j+1, err)
					}
				}
			}
		})
	}
	killed := make(chan struct{})
	for i, sh := range all {
		if i == shares/3 {
			victim.Kill()
			close(killed)
		}
		work <- sh
	}
	close(work)
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	<-killed
	if _, err := c.WaitMasterChange(ctx, codes.Key("rl:{codeguess}:x"), victim); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d redemptions met the failover (EUNAVAILABLE) and were tried again", unavailable.Load())

	for _, sh := range all {
		if n := perShare[sh.o.Share.ID]; n != 2 {
			t.Errorf("share %s redeemed %d times, want 2", sh.o.Share.ID, n)
		}
		stored, err := e.store.Share(ctx, sh.o.Share.ID)
		noErr(t, err)
		if stored.Views != 2 {
			t.Errorf("share %s counts %d views, want 2", sh.o.Share.ID, stored.Views)
		}
		views := e.viewsOfOwner(t, sh.doc.SubjectIIN)
		if len(views) != 2 {
			t.Errorf("owner of share %s has %d views, want 2", sh.o.Share.ID, len(views))
		}
		for _, view := range views {
			if viewIDs[view.ID] != sh.o.Share.ID {
				t.Errorf("view %s of share %s was not answered to a redemption", view.ID, sh.o.Share.ID)
			}
		}
	}
	// A share opened after the failover is redeemed at once.
	doc, o := e.open(t, 10*time.Minute, 1)
	_, err = e.svc.RedeemCode(ctx, viewer(t), doc.SubjectIIN, o.ShortCode)
	noErr(t, err)
}

type quietLog struct{}

func (quietLog) Printf(context.Context, string, ...any) {}
