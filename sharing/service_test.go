package sharing_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"image/png"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/qujat/qujat/sharing"
	"github.com/qujat/qujat/wallet"
)

var ctx = context.Background()

func TestOpen_ValidatesTTLAndMaxViews(t *testing.T) {
	e := newEnv(t, memorySQLite)
	owner := newIIN(t)
	doc := e.newDoc(t, owner)
	for _, tc := range []struct {
		name     string
		ttl      time.Duration
		maxViews int
		code     string
	}{
		{"defaults", 0, 0, ""},
		{"shortest", time.Second, 1, ""},
		{"longest and most views", 600 * time.Second, 10, ""},
		{"ttl too long", 601 * time.Second, 1, wallet.EINVALID},
		{"ttl under a second", 500 * time.Millisecond, 1, wallet.EINVALID},
		{"negative ttl", -time.Second, 1, wallet.EINVALID},
		{"too many views", 0, 11, wallet.EINVALID},
		{"negative views", 0, -1, wallet.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := e.svc.Open(ctx, doc, owner, tc.ttl, tc.maxViews)
			wantCode(t, err, tc.code)
			if err != nil {
				return
			}
			wantTTL, wantViews := tc.ttl, tc.maxViews
			if wantTTL == 0 {
				wantTTL = 180 * time.Second
			}
			if wantViews == 0 {
				wantViews = 1
			}
			if got := o.Share.ExpiresAt.Sub(o.Share.CreatedAt); got != wantTTL {
				t.Errorf("share lives %v, want %v", got, wantTTL)
			}
			if o.Share.MaxViews != wantViews {
				t.Errorf("MaxViews = %d, want %d", o.Share.MaxViews, wantViews)
			}
		})
	}
}

func TestCheckTerms_JudgesAgainstTheLimitsAsOpenDoes(t *testing.T) {
	svc := &sharing.Service{Limits: sharing.Limits{DefaultTTL: 20 * time.Second, MaxTTL: 30 * time.Second, DefaultMaxViews: 2, MaxViews: 3}}
	dur := func(d time.Duration) *time.Duration { return &d }
	num := func(n int) *int { return &n }
	for _, tc := range []struct {
		name     string
		ttl      *time.Duration
		maxViews *int
		wantTTL  time.Duration
		wantMax  int
		message  string
	}{
		{"nothing asked: the defaults", nil, nil, 20 * time.Second, 2, ""},
		{"the limits", dur(30 * time.Second), num(3), 30 * time.Second, 3, ""},
		{"ttl past the limit", dur(31 * time.Second), nil, 0, 0, "ttl_seconds must be between 1 and 30"},
		{"explicit zero ttl", dur(0), nil, 0, 0, "ttl_seconds must be between 1 and 30"},
		{"views past the limit", nil, num(4), 0, 0, "max_views must be between 1 and 3"},
		{"explicit zero views", nil, num(0), 0, 0, "max_views must be between 1 and 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ttl, maxViews, err := svc.CheckTerms(tc.ttl, tc.maxViews)
			if tc.message != "" {
				wantCode(t, err, wallet.EINVALID)
				if got := wallet.ErrorMessage(err); got != tc.message {
					t.Errorf("message %q, want %q", got, tc.message)
				}
				return
			}
			noErr(t, err)
			if ttl != tc.wantTTL || maxViews != tc.wantMax {
				t.Errorf("CheckTerms = %v, %d; want %v, %d", ttl, maxViews, tc.wantTTL, tc.wantMax)
			}
		})
	}
	// Open gives the same answer for the same terms.
	e := newEnv(t, memorySQLite)
	e.svc.Limits = svc.Limits
	owner := newIIN(t)
	_, err := e.svc.Open(ctx, e.newDoc(t, owner), owner, 31*time.Second, 0)
	if wantCode(t, err, wallet.EINVALID); wallet.ErrorMessage(err) != "ttl_seconds must be between 1 and 30" {
		t.Errorf("Open: %q", wallet.ErrorMessage(err))
	}
}

func TestOpen_TokenCodeAndURL(t *testing.T) {
	e := newEnv(t, memorySQLite)
	doc, o := e.open(t, 0, 0)
	if !strings.HasPrefix(o.Share.ID, "shr_") {
		t.Errorf("share id %q", o.Share.ID)
	}
	id, secret, ok := strings.Cut(o.Token, ".")
	if !ok || id != o.Share.ID || len(secret) < 22 { // 22 base64url characters = 132 bits
		t.Errorf("token %q does not carry the share id and 128+ random bits", o.Token)
	}
	if len(o.ShortCode) != 6 || strings.Trim(o.ShortCode, "0123456789") != "" {
		t.Errorf("short code %q", o.ShortCode)
	}
	if o.URL != "https://qujat.test/s/"+o.Token {
		t.Errorf("URL = %q", o.URL)
	}
	sh, err := e.store.Share(ctx, o.Share.ID)
	noErr(t, err)
	if sh != o.Share {
		t.Errorf("stored share %+v, Open returned %+v", sh, o.Share)
	}
	if sh.DocumentID != doc.ID || sh.OwnerIIN != doc.SubjectIIN || sh.CreatedBy != doc.SubjectIIN {
		t.Errorf("share %+v does not match the document", sh)
	}
	evs, err := e.store.Events(ctx, doc.SubjectIIN)
	noErr(t, err)
	if len(evs) != 1 || evs[0].Kind != wallet.EventShareOpened || evs[0].ObjectID != o.Share.ID ||
		evs[0].ActorKind != wallet.ViewerCitizen || evs[0].ActorID != string(doc.SubjectIIN) {
		t.Errorf("owner's events = %+v, want one share_opened by the owner", evs)
	}
}

func TestOpen_SecretsAreNotStoredInClear(t *testing.T) {
	e := newEnv(t, memorySQLite)
	_, o := e.open(t, 0, 0)
	for _, key := range []string{"shareqr:" + o.Share.ID} {
		b, err := e.codes.Get(ctx, key)
		noErr(t, err)
		if bytes.Contains(b, []byte(o.Token)) || bytes.Contains(b, []byte(o.Token[len(o.Share.ID)+1:])) {
			t.Errorf("%s holds the token in clear", key)
		}
	}
}

func TestRedeemToken_ReleasesDocumentAndRecordsViewInBothAccounts(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 0)
		v := viewer(t)
		r, err := e.svc.RedeemToken(ctx, v, o.Token)
		noErr(t, err)
		if r.Document.ID != doc.ID {
			t.Errorf("released document %q, want %q", r.Document.ID, doc.ID)
		}
		want := wallet.View{
			ID: r.View.ID, DocumentID: doc.ID, DocumentType: wallet.IDCard, OwnerIIN: doc.SubjectIIN,
			ViewerKind: wallet.ViewerCitizen, ViewerID: string(v.IIN), Channel: wallet.ChannelQR,
			ShareID: o.Share.ID, At: e.clock.Now(), LogIndex: r.View.LogIndex,
		}
		if r.View != want || !strings.HasPrefix(r.View.ID, "vw_") {
			t.Errorf("view = %+v, want %+v", r.View, want)
		}
		// The view is in the history log, after the share_opened event.
		if r.View.LogIndex < 1 {
			t.Errorf("view's log index %d, want the leaf after the share's", r.View.LogIndex)
		}
		owners := e.viewsOfOwner(t, doc.SubjectIIN)
		if len(owners) != 1 || owners[0].ID != r.View.ID || owners[0].LogIndex != r.View.LogIndex {
			t.Errorf("owner's history = %+v, want the one view", owners)
		}
		viewers, err := e.store.ViewsByViewer(ctx, wallet.ViewerCitizen, string(v.IIN))
		noErr(t, err)
		if len(viewers) != 1 || viewers[0].ID != r.View.ID {
			t.Errorf("viewer's history = %+v, want the one view", viewers)
		}
	})
}

func TestRedeemCode_WithOwnerIINReleasesDocument(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 0)
		v := viewer(t)
		r, err := e.svc.RedeemCode(ctx, v, doc.SubjectIIN, o.ShortCode)
		noErr(t, err)
		if r.Document.ID != doc.ID || r.View.Channel != wallet.ChannelShortCode || r.View.ShareID != o.Share.ID {
			t.Errorf("redemption = %+v", r)
		}
		// The code is scoped to its owner: with another owner's IIN it is a
		// wrong code.
		_, o2 := e.open(t, 0, 0)
		_, err = e.svc.RedeemCode(ctx, viewer(t), newIIN(t), o2.ShortCode)
		wantCode(t, err, wallet.EINVALIDCODE)
	})
}

func TestRedeem_SingleUseShareSecondTimeExpired(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 1)
		_, err := e.svc.RedeemToken(ctx, viewer(t), o.Token)
		noErr(t, err)
		_, err = e.svc.RedeemToken(ctx, viewer(t), o.Token)
		wantCode(t, err, wallet.EEXPIRED)
		_, err = e.svc.RedeemCode(ctx, viewer(t), doc.SubjectIIN, o.ShortCode)
		if c := wallet.ErrorCode(err); c != wallet.EEXPIRED && c != wallet.EINVALIDCODE {
			t.Fatalf("code of a used share: %v", err)
		}
		if n := len(e.viewsOfOwner(t, doc.SubjectIIN)); n != 1 {
			t.Errorf("%d views stored, want 1", n)
		}
	})
}

func TestRedeem_MaxViewsThreeThenExpired(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 3)
		for i := range 3 {
			var err error
			if i == 1 {
				_, err = e.svc.RedeemCode(ctx, viewer(t), doc.SubjectIIN, o.ShortCode)
			} else {
				_, err = e.svc.RedeemToken(ctx, viewer(t), o.Token)
			}
			noErr(t, err)
		}
		_, err := e.svc.RedeemToken(ctx, viewer(t), o.Token)
		wantCode(t, err, wallet.EEXPIRED)
		if n := len(e.viewsOfOwner(t, doc.SubjectIIN)); n != 3 {
			t.Errorf("%d views stored, want 3", n)
		}
		infos, err := e.svc.List(ctx, doc.SubjectIIN)
		noErr(t, err)
		if len(infos) != 1 || infos[0].State != wallet.ShareUsed || infos[0].Share.Views != 3 {
			t.Errorf("list = %+v, want one used share with 3 views", infos)
		}
	})
}

func TestRedeem_ConcurrentRedemptionsOfSingleUseShareReleaseOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 1)
		const n = 50
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			successes int
			codes     = map[string]int{}
		)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v := viewer(t)
				<-start
				var err error
				if i%2 == 0 {
					_, err = e.svc.RedeemToken(ctx, v, o.Token)
				} else {
					_, err = e.svc.RedeemCode(ctx, v, doc.SubjectIIN, o.ShortCode)
				}
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					successes++
				} else {
					codes[wallet.ErrorCode(err)]++
				}
			}()
		}
		close(start)
		wg.Wait()
		if successes != 1 {
			t.Errorf("%d redemptions succeeded, want exactly 1 (failures: %v)", successes, codes)
		}
		for c, k := range codes {
			// A code redemption may also be refused as rate limited: every
			// code entered holds a guess of the owner's and the address's
			// budgets while it is looked up (RedeemCode), and a right one
			// gives it back only afterwards.
			if c != wallet.EEXPIRED && c != wallet.EINVALIDCODE && c != wallet.ERATELIMITED {
				t.Errorf("%d redemptions failed with %q, want expired", k, c)
			}
		}
		if vs := e.viewsOfOwner(t, doc.SubjectIIN); len(vs) != 1 {
			t.Errorf("%d views stored, want exactly 1", len(vs))
		}
		sh, err := e.store.Share(ctx, o.Share.ID)
		noErr(t, err)
		if sh.Views != 1 {
			t.Errorf("share counts %d views, want 1", sh.Views)
		}
	})
}

func TestRevoke_StopsTokenAndCodeAtOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 5)
		owner := doc.SubjectIIN
		// Someone else cannot even see it.
		wantCode(t, e.svc.Revoke(ctx, newIIN(t), o.Share.ID), wallet.ENOTFOUND)

		noErr(t, e.svc.Revoke(ctx, owner, o.Share.ID))
		_, err := e.svc.RedeemToken(ctx, viewer(t), o.Token)
		wantCode(t, err, wallet.EEXPIRED)
		_, err = e.svc.RedeemCode(ctx, viewer(t), owner, o.ShortCode)
		wantCode(t, err, wallet.EINVALIDCODE)
		for _, key := range []string{"sharekey:" + o.Share.ID, "shareqr:" + o.Share.ID} {
			if _, err := e.codes.Get(ctx, key); !wallet.IsCode(err, wallet.ENOTFOUND) {
				t.Errorf("%s is still in the short-lived store (%v)", key, err)
			}
		}

		// Idempotent: a second revoke succeeds and records nothing more.
		noErr(t, e.svc.Revoke(ctx, owner, o.Share.ID))
		kinds := e.eventKinds(t, owner)
		if count(kinds, wallet.EventShareRevoked) != 1 || count(kinds, wallet.EventShareOpened) != 1 {
			t.Errorf("owner's events %v, want one share_opened and one share_revoked", kinds)
		}
		if n := len(e.viewsOfOwner(t, owner)); n != 0 {
			t.Errorf("%d views stored, want none", n)
		}
		infos, err := e.svc.List(ctx, owner)
		noErr(t, err)
		if len(infos) != 1 || infos[0].State != wallet.ShareRevoked {
			t.Errorf("list = %+v, want the share revoked", infos)
		}
		_, err = e.svc.QR(ctx, owner, o.Share.ID, 0)
		wantCode(t, err, wallet.EEXPIRED)
	})
}

func TestRedeem_ExpiredShareReleasesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 60*time.Second, 2)
		e.clock.Advance(59 * time.Second)
		_, err := e.svc.RedeemToken(ctx, viewer(t), o.Token)
		noErr(t, err)
		e.clock.Advance(time.Second) // now exactly at ExpiresAt: expired
		_, err = e.svc.RedeemToken(ctx, viewer(t), o.Token)
		wantCode(t, err, wallet.EEXPIRED)
		_, err = e.svc.RedeemCode(ctx, viewer(t), doc.SubjectIIN, o.ShortCode)
		if b.shortLivedClock {
			// The short-lived store follows the same clock: the code is gone.
			wantCode(t, err, wallet.EINVALIDCODE)
		} else {
			// Redis keeps its own time; the durable share still says no.
			wantCode(t, err, wallet.EEXPIRED)
		}
		if n := len(e.viewsOfOwner(t, doc.SubjectIIN)); n != 1 {
			t.Errorf("%d views stored, want 1", n)
		}
		infos, err := e.svc.List(ctx, doc.SubjectIIN)
		noErr(t, err)
		if len(infos) != 1 || infos[0].State != wallet.ShareExpired {
			t.Errorf("list = %+v, want the share expired", infos)
		}
		_, err = e.svc.QR(ctx, doc.SubjectIIN, o.Share.ID, 0)
		wantCode(t, err, wallet.EEXPIRED)
	})
}

func TestRedeem_OwnerGetsConflictAndTheUseIsNotSpent(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 1)
		owner := sharing.Viewer{IIN: doc.SubjectIIN, IP: "192.0.2.1"}
		_, err := e.svc.RedeemToken(ctx, owner, o.Token)
		wantCode(t, err, wallet.ECONFLICT)
		_, err = e.svc.RedeemCode(ctx, owner, doc.SubjectIIN, o.ShortCode)
		wantCode(t, err, wallet.ECONFLICT)
		_, err = e.svc.RedeemToken(ctx, viewer(t), o.Token)
		noErr(t, err)
	})
}

func TestRedeem_GuardianShareIsSharedByTheGuardian(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		ward, guardian := newIIN(t), newIIN(t)
		doc := e.newDoc(t, ward)
		o, err := e.svc.Open(ctx, doc, guardian, 0, 1)
		noErr(t, err)
		evs, err := e.store.Events(ctx, ward)
		noErr(t, err)
		if len(evs) != 1 || evs[0].ActorKind != wallet.ViewerGuardian || evs[0].ActorID != string(guardian) {
			t.Errorf("ward's events = %+v, want share_opened by the guardian", evs)
		}
		// The guardian who opened it cannot redeem it either.
		_, err = e.svc.RedeemToken(ctx, sharing.Viewer{IIN: guardian, IP: "192.0.2.1"}, o.Token)
		wantCode(t, err, wallet.ECONFLICT)
		// The guardian sees it in their list, and may draw the QR code.
		infos, err := e.svc.List(ctx, guardian)
		noErr(t, err)
		if len(infos) != 1 || infos[0].State != wallet.ShareActive {
			t.Errorf("guardian's list = %+v", infos)
		}
		_, err = e.svc.QR(ctx, guardian, o.Share.ID, 0)
		noErr(t, err)

		r, err := e.svc.RedeemToken(ctx, viewer(t), o.Token)
		noErr(t, err)
		if r.View.SharedBy != guardian || r.View.OwnerIIN != ward {
			t.Errorf("view = %+v, want owner the ward and shared by the guardian", r.View)
		}
	})
}

func TestRedeem_AuthorizeRefusalSpendsNothing(t *testing.T) {
	e := newEnv(t, memorySQLite)
	doc, o := e.open(t, 0, 1)
	e.svc.Authorize = func(ctx context.Context, sh wallet.Share) error {
		if sh.ID != o.Share.ID {
			t.Errorf("Authorize asked about %q", sh.ID)
		}
		return wallet.Errorf(wallet.EEXPIRED, "the ward has come of age")
	}
	_, err := e.svc.RedeemToken(ctx, viewer(t), o.Token)
	wantCode(t, err, wallet.EEXPIRED)
	_, err = e.svc.RedeemCode(ctx, viewer(t), doc.SubjectIIN, o.ShortCode)
	wantCode(t, err, wallet.EEXPIRED)
	e.svc.Authorize = nil
	_, err = e.svc.RedeemToken(ctx, viewer(t), o.Token)
	noErr(t, err)
}

func TestRedeem_DurableCommitFailureReleasesNothingAndKeepsTheUse(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 1)
		e.log.FailBegins(true)
		r, err := e.svc.RedeemToken(ctx, viewer(t), o.Token)
		wantCode(t, err, wallet.EUNAVAILABLE)
		if r.Document.ID != "" || r.View.ID != "" {
			t.Errorf("a failed redemption released %+v", r)
		}
		_, err = e.svc.RedeemCode(ctx, viewer(t), doc.SubjectIIN, o.ShortCode)
		wantCode(t, err, wallet.EUNAVAILABLE)
		if n := len(e.viewsOfOwner(t, doc.SubjectIIN)); n != 0 {
			t.Errorf("%d views stored, want none", n)
		}
		e.log.FailBegins(false)
		_, err = e.svc.RedeemToken(ctx, viewer(t), o.Token)
		noErr(t, err)
	})
}

func TestRedeem_MalformedInputIsInvalid(t *testing.T) {
	e := newEnv(t, memorySQLite)
	doc, o := e.open(t, 0, 1)
	v := viewer(t)
	for _, tok := range []string{"", "abc", o.Share.ID, o.Share.ID + ".", "shr_x." + o.Token[len(o.Share.ID)+1:],
		o.Token + "A", o.Token[:len(o.Token)-1], strings.ToUpper(o.Share.ID) + o.Token[len(o.Share.ID):], o.Token + "\n"} {
		_, err := e.svc.RedeemToken(ctx, v, tok)
		wantCode(t, err, wallet.EINVALID)
	}
	for _, code := range []string{"", "12345", "1234567", "12345a", " 12345", "１２３４５６"} {
		_, err := e.svc.RedeemCode(ctx, v, doc.SubjectIIN, code)
		wantCode(t, err, wallet.EINVALID)
	}
	_, err := e.svc.RedeemCode(ctx, v, "123456789012", o.ShortCode)
	wantCode(t, err, wallet.EINVALID)
	_, err = e.svc.RedeemToken(ctx, sharing.Viewer{IIN: "nobody"}, o.Token)
	wantCode(t, err, wallet.EINVALID)
	// None of it was a guess, and the share is untouched.
	_, err = e.svc.RedeemCode(ctx, v, doc.SubjectIIN, o.ShortCode)
	noErr(t, err)
}

func TestRedeemToken_WrongSecretIsExpired(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		_, o := e.open(t, 0, 1)
		secret := []byte(o.Token[len(o.Share.ID)+1:])
		if secret[0] == 'A' {
			secret[0] = 'B'
		} else {
			secret[0] = 'A'
		}
		_, err := e.svc.RedeemToken(ctx, viewer(t), o.Share.ID+"."+string(secret))
		wantCode(t, err, wallet.EEXPIRED)
		// A well-formed token of no share at all says the same.
		_, o2 := e.open(t, 0, 1)
		_, err = e.svc.RedeemToken(ctx, viewer(t), "shr_"+strings.Repeat("a", 26)+o2.Token[len(o2.Share.ID):])
		wantCode(t, err, wallet.EEXPIRED)
		_, err = e.svc.RedeemToken(ctx, viewer(t), o.Token)
		noErr(t, err)
	})
}

// wrongCodeFor returns a six-digit code that is not the share's.
func wrongCodeFor(o sharing.Opened) string {
	if o.ShortCode == "000000" {
		return "000001"
	}
	return "000000"
}

func TestRedeemCode_ViewerRateLimitedAfterFiveWrongCodes(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		v := viewer(t)
		for i := range 5 {
			// A new owner each time, so that no owner's codes are voided.
			_, err := e.svc.RedeemCode(ctx, v, newIIN(t), "123456")
			wantCode(t, err, wallet.EINVALIDCODE)
			if left := wallet.AsError(err).AttemptsLeft; left != 4-i {
				t.Errorf("after %d wrong codes AttemptsLeft = %d, want %d", i+1, left, 4-i)
			}
		}
		// Now even the right code is refused, before it is looked at.
		doc, o := e.open(t, 0, 1)
		_, err := e.svc.RedeemCode(ctx, v, doc.SubjectIIN, o.ShortCode)
		wantCode(t, err, wallet.ERATELIMITED)
		if ra := wallet.AsError(err).RetryAfter; ra <= 0 || ra > 15*time.Minute {
			t.Errorf("RetryAfter = %v, want within (0, 15m]", ra)
		}
		// Another viewer is not affected, and the share was not touched.
		_, err = e.svc.RedeemCode(ctx, sharing.Viewer{IIN: newIIN(t), IP: "198.51.100.7"}, doc.SubjectIIN, o.ShortCode)
		noErr(t, err)
		// Tokens are not limited by wrong codes.
		_, o2 := e.open(t, 0, 1)
		_, err = e.svc.RedeemToken(ctx, v, o2.Token)
		noErr(t, err)
		if b.shortLivedClock {
			e.clock.Advance(15 * time.Minute)
			_, o3 := e.open(t, 0, 1)
			_, err = e.svc.RedeemCode(ctx, v, o3.Share.OwnerIIN, o3.ShortCode)
			noErr(t, err)
		}
	})
}

func TestRedeemCode_ViewerDailyLimit(t *testing.T) {
	e := newEnv(t, memorySQLite)
	v := viewer(t)
	for i := range 20 {
		if i > 0 && i%5 == 0 {
			e.clock.Advance(15 * time.Minute) // past the 15-minute limit, within the day
		}
		v.IP = "192.0.2." + string(rune('1'+i%9)) // under the address limit too
		_, err := e.svc.RedeemCode(ctx, v, newIIN(t), "123456")
		wantCode(t, err, wallet.EINVALIDCODE)
	}
	e.clock.Advance(15 * time.Minute)
	_, err := e.svc.RedeemCode(ctx, v, newIIN(t), "123456")
	wantCode(t, err, wallet.ERATELIMITED)
	if ra := wallet.AsError(err).RetryAfter; ra <= 15*time.Minute || ra > 24*time.Hour {
		t.Errorf("RetryAfter = %v, want the rest of the day", ra)
	}
}

func TestRedeemCode_AddressLimitAcrossViewers(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		const ip = "203.0.113.5"
		for i := range 10 {
			v := sharing.Viewer{IIN: newIIN(t), IP: ip} // a new viewer each time
			_, err := e.svc.RedeemCode(ctx, v, newIIN(t), "123456")
			wantCode(t, err, wallet.EINVALIDCODE)
			_ = i
		}
		doc, o := e.open(t, 0, 1)
		_, err := e.svc.RedeemCode(ctx, sharing.Viewer{IIN: newIIN(t), IP: ip}, doc.SubjectIIN, o.ShortCode)
		wantCode(t, err, wallet.ERATELIMITED)
		if ra := wallet.AsError(err).RetryAfter; ra <= 0 || ra > time.Minute {
			t.Errorf("RetryAfter = %v, want within (0, 1m]", ra)
		}
		_, err = e.svc.RedeemCode(ctx, sharing.Viewer{IIN: newIIN(t), IP: "203.0.113.6"}, doc.SubjectIIN, o.ShortCode)
		noErr(t, err)
	})
}

func TestRedeemCode_ThreeWrongCodesVoidTheOwnersLiveCodes(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		owner := newIIN(t)
		doc := e.newDoc(t, owner)
		o1, err := e.svc.Open(ctx, doc, owner, 0, 2)
		noErr(t, err)
		o2, err := e.svc.Open(ctx, doc, owner, 0, 2)
		noErr(t, err)
		wrong := "000000"
		for wrong == o1.ShortCode || wrong == o2.ShortCode {
			wrong = "00000" + string(rune(wrong[5]+1))
		}
		for range 3 { // three viewers, one wrong code each
			_, err := e.svc.RedeemCode(ctx, viewer(t), owner, wrong)
			wantCode(t, err, wallet.EINVALIDCODE)
		}
		for _, o := range []sharing.Opened{o1, o2} {
			_, err := e.svc.RedeemCode(ctx, viewer(t), owner, o.ShortCode)
			wantCode(t, err, wallet.EINVALIDCODE)
		}
		kinds := e.eventKinds(t, owner)
		if count(kinds, wallet.EventCodesVoided) != 1 {
			t.Errorf("owner's events %v, want one codes_voided", kinds)
		}
		// The tokens still work, and a new share gets a working code.
		_, err = e.svc.RedeemToken(ctx, viewer(t), o1.Token)
		noErr(t, err)
		o3, err := e.svc.Open(ctx, doc, owner, 0, 1)
		noErr(t, err)
		_, err = e.svc.RedeemCode(ctx, viewer(t), owner, o3.ShortCode)
		noErr(t, err)
		// Another owner's codes are untouched.
		d4, o4 := e.open(t, 0, 1)
		_, err = e.svc.RedeemCode(ctx, viewer(t), d4.SubjectIIN, o4.ShortCode)
		noErr(t, err)
	})
}

func TestOpen_ShortCodesAreUniqueAmongTheOwnersLiveCodes(t *testing.T) {
	e := newEnv(t, memorySQLite)
	// A random source that repeats: the first code drawn for the second
	// share is the first share's code, so Open must draw again.
	owner := newIIN(t)
	doc := e.newDoc(t, owner)
	e.svc.Rand = &repeatingRand{}
	o1, err := e.svc.Open(ctx, doc, owner, 0, 1)
	noErr(t, err)
	o2, err := e.svc.Open(ctx, doc, owner, 0, 1)
	noErr(t, err)
	if o1.ShortCode == o2.ShortCode {
		t.Fatalf("two live shares of one owner got code %s", o1.ShortCode)
	}
	for _, o := range []sharing.Opened{o1, o2} {
		r, err := e.svc.RedeemCode(ctx, viewer(t), owner, o.ShortCode)
		noErr(t, err)
		if r.View.ShareID != o.Share.ID {
			t.Errorf("code %s redeemed share %s, want %s", o.ShortCode, r.View.ShareID, o.Share.ID)
		}
	}
}

// repeatingRand is crypto/rand except for the bytes of six-digit codes
// (reads of 10 bytes, see wallet.RandomDigits): the first two codes drawn are
// the same, later ones differ.
type repeatingRand struct {
	mu        sync.Mutex
	codeReads int
}

func (r *repeatingRand) Read(p []byte) (int, error) {
	if len(p) != 10 {
		return rand.Read(p)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.codeReads++
	for i := range p {
		p[i] = byte(i)
	}
	if r.codeReads > 2 {
		p[0] = byte(r.codeReads)
	}
	return len(p), nil
}

func TestQR_DecodesToExactlyTheShareURL(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 1)
		img, err := e.svc.QR(ctx, doc.SubjectIIN, o.Share.ID, 0)
		noErr(t, err)
		if got := decodeQR(t, img); got != o.URL {
			t.Errorf("QR encodes %q, want %q", got, o.URL)
		}
		pic, err := png.Decode(bytes.NewReader(img))
		noErr(t, err)
		if sz := pic.Bounds().Size(); sz.X != 256 || sz.Y != 256 {
			t.Errorf("QR is %v, want 256×256", sz)
		}
		again, err := e.svc.QR(ctx, doc.SubjectIIN, o.Share.ID, 0)
		noErr(t, err)
		if !bytes.Equal(again, img) {
			t.Errorf("the second QR image differs from the first")
		}
		big, err := e.svc.QR(ctx, doc.SubjectIIN, o.Share.ID, 512)
		noErr(t, err)
		if got := decodeQR(t, big); got != o.URL {
			t.Errorf("512 px QR encodes %q", got)
		}

		_, err = e.svc.QR(ctx, newIIN(t), o.Share.ID, 0)
		wantCode(t, err, wallet.ENOTFOUND)
		_, err = e.svc.QR(ctx, doc.SubjectIIN, "shr_nosuchshare", 0)
		wantCode(t, err, wallet.ENOTFOUND)
		_, err = e.svc.QR(ctx, doc.SubjectIIN, o.Share.ID, 10)
		wantCode(t, err, wallet.EINVALID)

		_, err = e.svc.RedeemToken(ctx, viewer(t), o.Token)
		noErr(t, err)
		_, err = e.svc.QR(ctx, doc.SubjectIIN, o.Share.ID, 0)
		wantCode(t, err, wallet.EEXPIRED)
	})
}

func decodeQR(t testing.TB, b []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the QR image is not a PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatalf("gozxing bitmap: %v", err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("the QR image does not decode: %v", err)
	}
	return res.GetText()
}

func TestQR_ConcurrentRequestsAllGetTheImage(t *testing.T) {
	e := newEnv(t, memorySQLite)
	doc, o := e.open(t, 0, 1)
	var wg sync.WaitGroup
	imgs := make([][]byte, 20)
	for i := range imgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			img, err := e.svc.QR(ctx, doc.SubjectIIN, o.Share.ID, 0)
			if err != nil {
				t.Errorf("QR: %v", err)
			}
			imgs[i] = img
		}()
	}
	wg.Wait()
	for _, img := range imgs[1:] {
		if !bytes.Equal(img, imgs[0]) {
			t.Fatal("concurrent QR requests got different images")
		}
	}
	if got := decodeQR(t, imgs[0]); got != o.URL {
		t.Errorf("QR encodes %q", got)
	}
}

func TestOpen_SealKeyMustBe32Bytes(t *testing.T) {
	e := newEnv(t, memorySQLite)
	e.svc.SealKey = []byte("short")
	owner := newIIN(t)
	_, err := e.svc.Open(ctx, e.newDoc(t, owner), owner, 0, 0)
	wantCode(t, err, wallet.EINTERNAL)
	if infos, _ := e.svc.List(ctx, owner); len(infos) != 0 {
		t.Errorf("a failed Open left shares %+v", infos)
	}
}

func TestRedeem_DurableStoreIsTheFinalJudgeOfSingleUse(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 1)
		// The short-lived store counts no views: it lets all 50 through to
		// the durable store, which alone releases the one view there is.
		if _, err := e.codes.Get(ctx, "sharekey:"+o.Share.ID); err != nil {
			t.Fatalf("the share's entry: %v", err)
		}
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			successes int
		)
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.svc.RedeemToken(ctx, viewer(t), o.Token)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					successes++
				case !wallet.IsCode(err, wallet.EEXPIRED):
					t.Errorf("redemption failed with %v, want expired", err)
				}
			}()
		}
		wg.Wait()
		if successes != 1 {
			t.Errorf("%d redemptions succeeded, want exactly 1", successes)
		}
		if vs := e.viewsOfOwner(t, doc.SubjectIIN); len(vs) != 1 {
			t.Errorf("%d views stored, want exactly 1", len(vs))
		}
	})
}

func TestRedeem_RevokedShareWhoseEntryOutlivedItReleasesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env, b backend) {
		doc, o := e.open(t, 0, 5)
		owner := doc.SubjectIIN
		entry, err := e.codes.Get(ctx, "sharekey:"+o.Share.ID)
		noErr(t, err)
		noErr(t, e.svc.Revoke(ctx, owner, o.Share.ID))
		// As if the revocation's delete had not reached the short-lived
		// store: the entry still leads to the share, and the durable
		// store, which alone judges, says no.
		noErr(t, e.codes.Put(ctx, "sharekey:"+o.Share.ID, entry, time.Hour))
		red, err := e.svc.RedeemToken(ctx, viewer(t), o.Token)
		wantCode(t, err, wallet.EEXPIRED)
		if red.Document.ID != "" {
			t.Errorf("a revoked share released document %q", red.Document.ID)
		}
		if n := len(e.viewsOfOwner(t, owner)); n != 0 {
			t.Errorf("%d views stored, want none", n)
		}
	})
}
