package signin_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/signin"
	"github.com/qujat/qujat/wallet"
)

var ctx = context.Background()

func TestStart_KnownIINGetsACodeOnItsRegisteredPhone(t *testing.T) {
	e := newEnv(t)
	ch, err := e.start(ctx, e.known.IIN)
	if err != nil {
		t.Fatal(err)
	}
	if e.phones.count() != 1 {
		t.Fatalf("%d SMS sent, want 1", e.phones.count())
	}
	code := e.phones.lastCode(t, e.known.Phone)
	if !strings.HasPrefix(ch.ID, "otp_") || ch.PhoneHint != "+7 701 *** ** 67" {
		t.Errorf("challenge %+v", ch)
	}
	if want := e.clock.Now().Add(otp.DefaultTTL); !ch.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", ch.ExpiresAt, want)
	}
	p, err := e.svc.Finish(ctx, ch.ID, code)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if p.Citizen != e.known.IIN || p.AccessToken == "" || p.RefreshToken == "" || p.AccessTTL != accessTTL {
		t.Errorf("pair %+v", p)
	}
	if !strings.HasSuffix(p.AccessToken, string(e.known.IIN)) {
		t.Errorf("access token %q was not minted for the citizen", p.AccessToken)
	}
	// The code works once.
	_, err = e.svc.Finish(ctx, ch.ID, code)
	wantCode(t, err, wallet.EEXPIRED)
}

func TestStart_InvalidIINIsRefusedAndSendsNothing(t *testing.T) {
	e := newEnv(t)
	bad := e.known.IIN[:11] + wallet.IIN(rune('0'+(e.known.IIN[11]-'0'+1)%10))
	for _, iin := range []wallet.IIN{"", "12345", bad, "90010130012x"} {
		_, err := e.start(ctx, iin)
		wantCode(t, err, wallet.EINVALID)
	}
	if e.phones.count() != 0 {
		t.Fatalf("invalid IINs sent %d SMS", e.phones.count())
	}
}

var hintShape = regexp.MustCompile(`^\+7 [0-9]{3} \*\*\* \*\* [0-9]{2}$`)

// answers are what Finish says to four tries of a wrong code.
func answers(t *testing.T, e *env, challengeID string) []wallet.Error {
	t.Helper()
	var out []wallet.Error
	for i := 0; i < 4; i++ {
		_, err := e.svc.Finish(ctx, challengeID, "000000")
		we := wallet.AsError(err)
		if we == nil {
			t.Fatalf("try %d: %v", i+1, err)
		}
		out = append(out, wallet.Error{Code: we.Code, Message: we.Message, AttemptsLeft: we.AttemptsLeft})
	}
	return out
}

func TestStart_UnknownIINGetsADecoyThatLooksLikeAChallenge(t *testing.T) {
	e := newEnv(t)
	real, err := e.start(ctx, e.known.IIN)
	if err != nil {
		t.Fatal(err)
	}
	if e.phones.lastCode(t, e.known.Phone) == "000000" {
		t.Skip("the real code happens to be the wrong code this test tries")
	}
	sent := e.phones.count()

	decoy, err := e.start(ctx, e.unknown)
	if err != nil {
		t.Fatalf("Start for an unknown IIN: %v", err)
	}
	if e.phones.count() != sent {
		t.Fatal("an SMS was sent for an unknown IIN")
	}
	// The same shape: an id like a real one's, the same expiry, a plausible
	// phone hint, the same every time it is asked for.
	if !strings.HasPrefix(decoy.ID, "otp_") || len(decoy.ID) != len(real.ID) || decoy.ID == real.ID {
		t.Errorf("decoy id %q, real id %q", decoy.ID, real.ID)
	}
	if !decoy.ExpiresAt.Equal(real.ExpiresAt) {
		t.Errorf("decoy expires at %v, a real challenge at %v", decoy.ExpiresAt, real.ExpiresAt)
	}
	if !hintShape.MatchString(decoy.PhoneHint) || !hintShape.MatchString(real.PhoneHint) {
		t.Errorf("hints %q (decoy) and %q (real) are not of one shape", decoy.PhoneHint, real.PhoneHint)
	}
	again, err := e.start(ctx, e.unknown)
	if err != nil {
		t.Fatal(err)
	}
	if again.PhoneHint != decoy.PhoneHint || again.ID == decoy.ID {
		t.Errorf("asked again: %+v, first %+v", again, decoy)
	}

	// The same answers to wrong codes: 2, 1, 0 attempts left, then gone.
	gotReal, gotDecoy := answers(t, e, real.ID), answers(t, e, decoy.ID)
	for i := range gotReal {
		if gotReal[i] != gotDecoy[i] {
			t.Errorf("try %d: real %+v, decoy %+v", i+1, gotReal[i], gotDecoy[i])
		}
	}
	if gotDecoy[0].Code != wallet.EINVALIDCODE || gotDecoy[0].AttemptsLeft != 2 || gotDecoy[3].Code != wallet.EEXPIRED {
		t.Errorf("decoy answers %+v", gotDecoy)
	}
}

func TestStart_UnknownIINIsRateLimitedLikeAKnownOne(t *testing.T) {
	e := newEnv(t)
	for _, iin := range []wallet.IIN{e.known.IIN, e.unknown} {
		for i := 0; i < signin.CodesPerAddress; i++ {
			if _, err := e.start(ctx, iin); err != nil {
				t.Fatalf("%s: start %d: %v", iin, i+1, err)
			}
		}
		_, err := e.start(ctx, iin)
		if we := wantCode(t, err, wallet.ERATELIMITED); we.RetryAfter <= 0 {
			t.Errorf("%s: no RetryAfter", iin)
		}
	}
}

func TestFinish_WrongCodesKillTheChallenge(t *testing.T) {
	e := newEnv(t)
	ch, err := e.start(ctx, e.known.IIN)
	if err != nil {
		t.Fatal(err)
	}
	code := e.phones.lastCode(t, e.known.Phone)
	for left := 2; left >= 0; left-- {
		_, err := e.svc.Finish(ctx, ch.ID, wrongCode(code))
		if got := wantCode(t, err, wallet.EINVALIDCODE).AttemptsLeft; got != left {
			t.Fatalf("AttemptsLeft = %d, want %d", got, left)
		}
	}
	_, err = e.svc.Finish(ctx, ch.ID, code)
	wantCode(t, err, wallet.EEXPIRED)
}

func TestFinish_MalformedInputSpendsNoAttempt(t *testing.T) {
	e := newEnv(t)
	ch, err := e.start(ctx, e.known.IIN)
	if err != nil {
		t.Fatal(err)
	}
	code := e.phones.lastCode(t, e.known.Phone)
	for _, tc := range [][2]string{{"", code}, {ch.ID, ""}, {ch.ID, "12345"}, {ch.ID, "12345a"}} {
		_, err := e.svc.Finish(ctx, tc[0], tc[1])
		wantCode(t, err, wallet.EINVALID)
	}
	_, err = e.svc.Finish(ctx, "otp_nosuchchallenge", code)
	wantCode(t, err, wallet.EEXPIRED)
	if _, err := e.svc.Finish(ctx, ch.ID, code); err != nil {
		t.Fatalf("the right code after malformed tries: %v", err)
	}
}

func TestFinish_CodeExpires(t *testing.T) {
	e := newEnv(t)
	ch, err := e.start(ctx, e.known.IIN)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(otp.DefaultTTL + time.Second)
	_, err = e.svc.Finish(ctx, ch.ID, e.phones.lastCode(t, e.known.Phone))
	wantCode(t, err, wallet.EEXPIRED)
}

func TestRefresh_RotatesTheRefreshTokenAndMintsANewAccessToken(t *testing.T) {
	e := newEnv(t)
	p1 := e.signIn(t)
	e.clock.Advance(time.Hour)
	p2, err := e.svc.Refresh(ctx, p1.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if p2.Citizen != e.known.IIN || p2.RefreshToken == "" || p2.RefreshToken == p1.RefreshToken ||
		p2.AccessToken == "" || p2.AccessToken == p1.AccessToken || p2.AccessTTL != accessTTL {
		t.Fatalf("after %+v, refresh gave %+v", p1, p2)
	}
	if _, err := e.svc.Refresh(ctx, p2.RefreshToken); err != nil {
		t.Fatalf("the rotated token does not refresh: %v", err)
	}
}

func TestRefresh_TokensAreStoredOnlyAsTheirHash(t *testing.T) {
	e := newEnv(t)
	p := e.signIn(t)
	// The hash domain is "refresh": tokens given out before sign-in became
	// its own package must keep working.
	rt, err := e.store.RefreshTokenByHash(ctx, e.hasher.Hash("refresh", p.RefreshToken))
	if err != nil {
		t.Fatalf("no token stored under the hash of the secret: %v", err)
	}
	if rt.Hash == p.RefreshToken || rt.Subject != e.known.IIN || rt.FamilyID != rt.ID {
		t.Errorf("stored %+v", rt)
	}
	if want := e.clock.Now().Add(signin.DefaultRefreshTTL); !rt.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", rt.ExpiresAt, want)
	}
}

func TestRefresh_ReuseOfARotatedTokenRevokesTheFamily(t *testing.T) {
	e := newEnv(t)
	p1 := e.signIn(t)
	other := e.signIn(t) // another sign-in of the same citizen: another family
	p2, err := e.svc.Refresh(ctx, p1.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	p3, err := e.svc.Refresh(ctx, p2.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	// p1 comes back: someone holds a copy.
	_, err = e.svc.Refresh(ctx, p1.RefreshToken)
	if we := wantCode(t, err, wallet.EUNAUTHORIZED); !strings.Contains(we.Message, "already used") {
		t.Errorf("message %q", we.Message)
	}
	for name, tok := range map[string]string{"newest": p3.RefreshToken, "middle": p2.RefreshToken, "reused": p1.RefreshToken} {
		_, err := e.svc.Refresh(ctx, tok)
		if wantCode(t, err, wallet.EUNAUTHORIZED); err == nil {
			t.Errorf("%s token of a revoked family refreshed", name)
		}
	}
	if _, err := e.svc.Refresh(ctx, other.RefreshToken); err != nil {
		t.Fatalf("the other sign-in's family was revoked too: %v", err)
	}
}

func TestRefresh_ConcurrentReuseRotatesOnceAndRevokesTheFamily(t *testing.T) {
	e := newEnv(t)
	p := e.signIn(t)
	const n = 8
	var wg sync.WaitGroup
	pairs := make([]signin.Pair, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pairs[i], errs[i] = e.svc.Refresh(ctx, p.RefreshToken)
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("two concurrent refreshes with one token both succeeded")
		case err == nil:
			won = i
		default:
			wantCode(t, err, wallet.EUNAUTHORIZED)
		}
	}
	if won < 0 {
		t.Fatal("no refresh succeeded")
	}
	_, err := e.svc.Refresh(ctx, pairs[won].RefreshToken)
	wantCode(t, err, wallet.EUNAUTHORIZED)
}

func TestRefresh_RefusesUnknownEmptyAndExpiredTokens(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.Refresh(ctx, "")
	wantCode(t, err, wallet.EINVALID)
	_, err = e.svc.Refresh(ctx, "not-a-token-we-gave-out")
	wantCode(t, err, wallet.EUNAUTHORIZED)

	p := e.signIn(t)
	e.clock.Advance(signin.DefaultRefreshTTL)
	_, err = e.svc.Refresh(ctx, p.RefreshToken)
	wantCode(t, err, wallet.EUNAUTHORIZED)
}

func TestLogout_RevokesTheFamily(t *testing.T) {
	e := newEnv(t)
	p1 := e.signIn(t)
	other := e.signIn(t)
	p2, err := e.svc.Refresh(ctx, p1.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	// Logging out with an older token of the family ends it all.
	if err := e.svc.Logout(ctx, p1.RefreshToken); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	_, err = e.svc.Refresh(ctx, p2.RefreshToken)
	wantCode(t, err, wallet.EUNAUTHORIZED)
	if err := e.svc.Logout(ctx, p2.RefreshToken); err != nil {
		t.Errorf("second logout: %v", err)
	}
	if _, err := e.svc.Refresh(ctx, other.RefreshToken); err != nil {
		t.Fatalf("logout ended another sign-in: %v", err)
	}
}

func TestLogout_UnknownTokenIsNotAnErrorAndEmptyIsInvalid(t *testing.T) {
	e := newEnv(t)
	if err := e.svc.Logout(ctx, "not-a-token-we-gave-out"); err != nil {
		t.Errorf("unknown token: %v", err)
	}
	wantCode(t, e.svc.Logout(ctx, ""), wallet.EINVALID)
}

func TestAccount_ShowsThePhoneOnlyAsAHint(t *testing.T) {
	e := newEnv(t)
	a, err := e.svc.Account(ctx, e.known.IIN)
	if err != nil {
		t.Fatal(err)
	}
	want := signin.Account{IIN: e.known.IIN, Name: e.known.Name, PhoneHint: "+7 701 *** ** 67", BirthDate: e.known.BirthDate}
	if a != want {
		t.Errorf("Account = %+v, want %+v", a, want)
	}
	_, err = e.svc.Account(ctx, e.unknown)
	wantCode(t, err, wallet.ENOTFOUND)
}

// Logging out revokes the session's access tokens too: the session is
// listed as revoked for as long as they live, and only that session.
func TestLogout_RevokesTheSessionsAccessTokens(t *testing.T) {
	e := newEnv(t)
	p1 := e.signIn(t)
	other := e.signIn(t)
	p2, err := e.svc.Refresh(ctx, p1.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if p1.Session == "" || p2.Session != p1.Session || other.Session == p1.Session {
		t.Fatalf("sessions: %q %q %q", p1.Session, p2.Session, other.Session)
	}
	revoked := func(session string) bool {
		t.Helper()
		r, err := e.svc.SessionRevoked(ctx, session)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if revoked(p1.Session) {
		t.Fatal("a live session is revoked")
	}
	if err := e.svc.Logout(ctx, p2.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if !revoked(p1.Session) {
		t.Fatal("logout did not revoke the session's access tokens")
	}
	if revoked(other.Session) {
		t.Fatal("logout revoked another sign-in")
	}
	// The listing lasts as long as an access token lives, then goes.
	e.clock.Advance(accessTTL - time.Second)
	if !revoked(p1.Session) {
		t.Fatal("revocation forgotten while an access token may still live")
	}
	e.clock.Advance(2 * time.Minute)
	if revoked(p1.Session) {
		t.Fatal("revocation kept after every access token expired")
	}
}

// A refresh token's reuse revokes the session's access tokens as well.
func TestRefresh_ReuseRevokesTheSessionsAccessTokens(t *testing.T) {
	e := newEnv(t)
	p1 := e.signIn(t)
	if _, err := e.svc.Refresh(ctx, p1.RefreshToken); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Refresh(ctx, p1.RefreshToken)
	wantCode(t, err, wallet.EUNAUTHORIZED)
	if r, err := e.svc.SessionRevoked(ctx, p1.Session); err != nil || !r {
		t.Fatalf("after reuse: revoked %v, %v", r, err)
	}
}

func TestConfirm_SignsInWithoutTokensAndTheCodeWorksOnce(t *testing.T) {
	e := newEnv(t)
	ch, err := e.start(ctx, e.known.IIN)
	if err != nil {
		t.Fatal(err)
	}
	code := e.phones.lastCode(t, e.known.Phone)
	_, err = e.svc.Confirm(ctx, ch.ID, wrongCode(code))
	if we := wantCode(t, err, wallet.EINVALIDCODE); we.AttemptsLeft != 2 {
		t.Errorf("attempts left %d, want 2", we.AttemptsLeft)
	}
	iin, err := e.svc.Confirm(ctx, ch.ID, code)
	if err != nil || iin != e.known.IIN {
		t.Fatalf("Confirm = %q, %v", iin, err)
	}
	if n := e.svc.Access.(*accessTokens).n; n != 0 {
		t.Errorf("%d access tokens minted", n)
	}
	_, err = e.svc.Confirm(ctx, ch.ID, code)
	wantCode(t, err, wallet.EEXPIRED)
	_, err = e.svc.Confirm(ctx, "", code)
	wantCode(t, err, wallet.EINVALID)

	decoy, err := e.start(ctx, e.unknown)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Confirm(ctx, decoy.ID, "123456")
	wantCode(t, err, wallet.EINVALIDCODE)
}
