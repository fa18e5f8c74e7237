package sharing_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qujat/qujat/sharing"
	"github.com/qujat/qujat/wallet"
)

// voidMidOpen runs hook once, just before the first short code is stored
// after it is armed: a void landing while a share is being opened.
type voidMidOpen struct {
	wallet.ShortLivedStore
	armed atomic.Bool
	hook  func()
}

func (s *voidMidOpen) PutNew(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if strings.HasPrefix(key, "code:") && s.armed.CompareAndSwap(true, false) {
		s.hook()
	}
	return s.ShortLivedStore.PutNew(ctx, key, value, ttl)
}

// A void of the owner's codes that lands while the owner opens a new share
// does not leave the new share with a code nobody can redeem: the new code
// is in the generation that is live once the share is open.
func TestOpen_CodeOfAShareOpenedDuringAVoidWorks(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		ctx := context.Background()
		doc, first := e.open(t, 0, 1)
		owner := doc.SubjectIIN
		store := &voidMidOpen{ShortLivedStore: e.codes}
		e.svc.Codes = store
		stranger := viewer(t)
		store.hook = func() {
			for i := 0; i < 3; i++ {
				c := fmt.Sprintf("%06d", i)
				if c == first.ShortCode {
					c = "999999"
				}
				_, err := e.svc.RedeemCode(ctx, stranger, owner, c)
				wantCode(t, err, wallet.EINVALIDCODE)
			}
		}
		store.armed.Store(true)
		o, err := e.svc.Open(ctx, doc, owner, 0, 1)
		noErr(t, err)
		if store.armed.Load() {
			t.Fatal("the void did not run")
		}
		if n := count(e.eventKinds(t, owner), wallet.EventCodesVoided); n != 1 {
			t.Fatalf("%d codes_voided events, want 1", n)
		}
		// The first share's code was voided; the new one's works.
		v := sharing.Viewer{IIN: newIIN(t), IP: "192.0.2.20"}
		_, err = e.svc.RedeemCode(ctx, v, owner, first.ShortCode)
		if err == nil {
			t.Fatal("a voided code worked")
		}
		if _, err := e.svc.RedeemCode(ctx, v, owner, o.ShortCode); err != nil {
			t.Fatalf("the code of the share opened during the void: %v", err)
		}
	})
}
