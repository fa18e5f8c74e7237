package sharing_test

import (
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

func TestTokenState_TellsActiveUsedRevokedExpiredAndUnknownWithoutSpending(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, _ backend) {
		_, o := e.open(t, 0, 1)
		for i := 0; i < 3; i++ { // looking spends nothing
			st, err := e.svc.TokenState(ctx, o.Token)
			noErr(t, err)
			if st != wallet.ShareActive {
				t.Fatalf("state %q, want active", st)
			}
		}
		_, err := e.svc.RedeemToken(ctx, viewer(t), o.Token)
		noErr(t, err)
		if st, err := e.svc.TokenState(ctx, o.Token); err != nil || st != wallet.ShareUsed {
			t.Fatalf("after the view: %q, %v", st, err)
		}

		for _, bad := range []string{"", "nonsense", "shr_aaaaaaaaaaaaaaaaaaaaaaaaaa.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
			_, err := e.svc.TokenState(ctx, bad)
			wantCode(t, err, wallet.ENOTFOUND)
		}
		doc, o2 := e.open(t, 0, 1)
		wrong := o2.Token[:len(o2.Token)-2] + "AA"
		if wrong == o2.Token {
			wrong = o2.Token[:len(o2.Token)-2] + "BB"
		}
		_, err = e.svc.TokenState(ctx, wrong)
		wantCode(t, err, wallet.ENOTFOUND)

		noErr(t, e.svc.Revoke(ctx, doc.SubjectIIN, o2.Share.ID))
		if st, err := e.svc.TokenState(ctx, o2.Token); err != nil || st != wallet.ShareRevoked {
			t.Fatalf("revoked: %q, %v", st, err)
		}

		_, o3 := e.open(t, time.Minute, 1)
		e.clock.Advance(2 * time.Minute)
		// Expired by the service's clock, whether or not the short-lived
		// store has let the entry go yet.
		if st, err := e.svc.TokenState(ctx, o3.Token); err != nil || st != wallet.ShareExpired {
			t.Fatalf("expired: %q, %v", st, err)
		}
	})
}
