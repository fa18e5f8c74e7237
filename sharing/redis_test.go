package sharing_test

import (
	"context"
	"testing"

	"github.com/qujat/qujat/sharing"
	"github.com/qujat/qujat/shortlived/redisstore"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet"
)

func TestRedeem_RedisRestartedBetweenOpenAndRedeemIsExpired(t *testing.T) {
	e := newEnv(t, redisSQLite)
	doc, o := e.open(t, 0, 1)
	e.redis.Restart() // a new, empty Redis: the ticket and the code are gone
	_, err := e.svc.RedeemToken(ctx, viewer(t), o.Token)
	wantCode(t, err, wallet.EEXPIRED)
	// The code is gone, not wrong: see TestRedeemCode_LostCodesAreNotGuesses.
	_, err = e.svc.RedeemCode(ctx, viewer(t), doc.SubjectIIN, o.ShortCode)
	wantCode(t, err, wallet.EEXPIRED)
	_, err = e.svc.QR(ctx, doc.SubjectIIN, o.Share.ID, 0)
	wantCode(t, err, wallet.EEXPIRED)
	if n := len(e.viewsOfOwner(t, doc.SubjectIIN)); n != 0 {
		t.Errorf("%d views stored, want none", n)
	}
	// Sharing works again at once.
	doc2, o2 := e.open(t, 0, 1)
	_, err = e.svc.RedeemCode(ctx, viewer(t), doc2.SubjectIIN, o2.ShortCode)
	noErr(t, err)
}

func TestRedeem_RedisStoppedFailsClosed(t *testing.T) {
	e := newEnv(t, redisSQLite)
	doc, o := e.open(t, 0, 1)
	e.redis.Stop()
	for name, redeem := range map[string]func() (sharing.Redemption, error){
		"code": func() (sharing.Redemption, error) {
			return e.svc.RedeemCode(ctx, viewer(t), doc.SubjectIIN, o.ShortCode)
		},
		"wrong code": func() (sharing.Redemption, error) {
			return e.svc.RedeemCode(ctx, viewer(t), doc.SubjectIIN, wrongCodeFor(o))
		},
		"token": func() (sharing.Redemption, error) {
			return e.svc.RedeemToken(ctx, viewer(t), o.Token)
		},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := redeem()
			wantCode(t, err, wallet.EUNAVAILABLE)
			if r.Document.ID != "" {
				t.Errorf("released %+v with Redis down", r)
			}
		})
	}
	if n := len(e.viewsOfOwner(t, doc.SubjectIIN)); n != 0 {
		t.Errorf("%d views stored, want none", n)
	}
	sh, err := e.store.Share(ctx, o.Share.ID)
	noErr(t, err)
	if sh.Views != 0 {
		t.Errorf("share counts %d views, want 0", sh.Views)
	}
	// Opening fails too, before anything durable is written.
	owner := newIIN(t)
	_, err = e.svc.Open(ctx, e.newDoc(t, owner), owner, 0, 1)
	wantCode(t, err, wallet.EUNAVAILABLE)
	if infos, _ := e.svc.List(ctx, owner); len(infos) != 0 {
		t.Errorf("a failed Open left shares %+v", infos)
	}
}

// sharedRedis returns a store on TEST_REDIS_URL under a prefix of the
// test's own (skipping the test with a notice if it is not set).
func sharedRedis(t testing.TB) wallet.ShortLivedStore {
	t.Helper()
	url := shortlivedtest.RedisURL(t)
	st, err := redisstore.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("redisstore.Open(TEST_REDIS_URL): %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return redisstore.New(st.Client(), shortlivedtest.UniquePrefix(t))
}
