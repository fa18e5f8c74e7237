package api_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/qujat/qujat/api"
	"github.com/qujat/qujat/signin"
	"github.com/qujat/qujat/wallet"
)

func TestSignIn_EndToEnd(t *testing.T) {
	s := newTestServer(t)
	a := s.adult()
	tok := s.signIn(a.IIN)
	r := s.do("GET", "/v1/me", tok.Access, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("me: %d %s", r.Status, r.Body)
	}
	if got := r.JSON(t)["iin"]; got != string(a.IIN) {
		t.Fatalf("me.iin = %v, want %s", got, a.IIN)
	}
}

func TestSignIn_BadInputGetsDocumentedErrors(t *testing.T) {
	s := newTestServer(t)
	a := s.adult()
	wrongCheck := string(a.IIN[:11]) + string('0'+(a.IIN[11]-'0'+1)%10)
	cases := []struct {
		name   string
		body   any
		ct     string
		status int
		code   string
	}{
		{"wrong check digit", map[string]string{"iin": wrongCheck}, "", 400, "invalid_request"},
		{"not digits", map[string]string{"iin": "90010130012x"}, "", 400, "invalid_request"},
		{"malformed JSON", []byte(`{"iin": "9001`), "", 400, "invalid_request"},
		{"not an object", []byte(`["iin"]`), "", 400, "invalid_request"},
		{"unknown field", map[string]string{"iin": string(a.IIN), "phone": "+77010000000"}, "", 400, "invalid_request"},
		{"field with other case", map[string]string{"IIN": string(a.IIN)}, "", 400, "invalid_request"},
		{"wrong type", []byte(`{"iin": 900101300123}`), "", 400, "invalid_request"},
		{"oversized body", []byte(`{"iin":"` + strings.Repeat("1", 70<<10) + `"}`), "", 413, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("POST", "/v1/auth/otp", "", tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if got := r.ErrorCode(t); got != tc.code {
				t.Fatalf("code %q, want %q", got, tc.code)
			}
		})
	}
	t.Run("wrong content type", func(t *testing.T) {
		req, _ := http.NewRequest("POST", s.URL+"/v1/auth/otp", strings.NewReader(`{"iin":"`+string(a.IIN)+`"}`))
		req.Header.Set("Content-Type", "text/plain")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("status %d, want 415", res.StatusCode)
		}
	})
	if n := len(s.Outbox.Messages("")); n != 0 {
		t.Fatalf("bad requests sent %d SMS", n)
	}
}

func TestSignIn_UnknownIINLooksLikeAKnownOne(t *testing.T) {
	s := newTestServer(t)
	var unknown wallet.IIN
	for serial := 9000; ; serial++ {
		iin, ok := wallet.MakeIIN(time.Date(1977, 7, 7, 0, 0, 0, 0, time.UTC), false, serial)
		if !ok {
			continue
		}
		if _, err := s.Demo.Citizen(t.Context(), iin); err != nil {
			unknown = iin
			break
		}
	}
	r := s.do("POST", "/v1/auth/otp", "", map[string]string{"iin": string(unknown)})
	if r.Status != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if m["challenge_id"] == "" || m["phone_hint"] == "" {
		t.Fatalf("incomplete challenge: %s", r.Body)
	}
	if n := len(s.Outbox.Messages("")); n != 0 {
		t.Fatalf("an SMS was sent for an unknown IIN")
	}
	// Its code never works: wrong, wrong, wrong, dead, like a real one.
	for i, want := range []int{401, 401, 401, 410} {
		r := s.do("POST", "/v1/auth/token", "", map[string]string{"challenge_id": m["challenge_id"].(string), "code": "123456"})
		if r.Status != want {
			t.Fatalf("try %d: status %d, want %d", i+1, r.Status, want)
		}
	}
}

func TestSignIn_WrongCodeFourTimes(t *testing.T) {
	s := newTestServer(t)
	a := s.adult()
	r := s.do("POST", "/v1/auth/otp", "", map[string]string{"iin": string(a.IIN)})
	ch := r.JSON(t)["challenge_id"].(string)
	right := s.lastCode(a.Phone)
	wrong := "000000"
	if right == wrong {
		wrong = "111111"
	}
	want := []struct {
		status int
		code   string
		left   float64
	}{{401, "invalid_code", 2}, {401, "invalid_code", 1}, {401, "invalid_code", 0}, {410, "expired", -1}}
	for i, w := range want {
		r := s.do("POST", "/v1/auth/token", "", map[string]string{"challenge_id": ch, "code": wrong})
		if r.Status != w.status || r.ErrorCode(t) != w.code {
			t.Fatalf("try %d: %d %s, want %d %s", i+1, r.Status, r.Body, w.status, w.code)
		}
		if w.left >= 0 {
			if got := r.JSON(t)["error"].(map[string]any)["attempts_left"]; got != w.left {
				t.Fatalf("try %d: attempts_left %v, want %v", i+1, got, w.left)
			}
		}
	}
	// The right code no longer works either: the challenge is dead.
	r = s.do("POST", "/v1/auth/token", "", map[string]string{"challenge_id": ch, "code": right})
	if r.Status != http.StatusGone {
		t.Fatalf("right code after 3 wrong: %d %s", r.Status, r.Body)
	}
}

func TestSignIn_CodeExpiresAfterFiveMinutes(t *testing.T) {
	s := newTestServer(t)
	a := s.adult()
	r := s.do("POST", "/v1/auth/otp", "", map[string]string{"iin": string(a.IIN)})
	ch := r.JSON(t)["challenge_id"].(string)
	code := s.lastCode(a.Phone)
	s.Clock.Advance(5*time.Minute + time.Second)
	r = s.do("POST", "/v1/auth/token", "", map[string]string{"challenge_id": ch, "code": code})
	if r.Status != http.StatusGone || r.ErrorCode(t) != "expired" {
		t.Fatalf("expired code: %d %s", r.Status, r.Body)
	}
}

// Sign-in codes spend the requester's budgets: an address gets 3 an hour,
// a device the citizen signed in on before has a reserve of its own, and
// an organisation's consent codes are not sign-in codes: hammering
// someone's sign-in blocks neither their known device nor a bank.
func TestSignIn_BudgetsPerRequesterAndPurpose(t *testing.T) {
	s := newTestServer(t)
	a := s.adult()
	otp := func(device string) response {
		return s.do("POST", "/v1/auth/otp", "", map[string]string{"iin": string(a.IIN), "device_token": device})
	}
	r := otp("")
	if r.Status != 202 {
		t.Fatalf("first code: %d %s", r.Status, r.Body)
	}
	r = s.do("POST", "/v1/auth/token", "", map[string]string{"challenge_id": r.JSON(t)["challenge_id"].(string), "code": s.lastCode(a.Phone)})
	device, _ := r.JSON(t)["device_token"].(string)
	if r.Status != 200 || !strings.HasPrefix(device, "dvc_") {
		t.Fatalf("token: %d %s", r.Status, r.Body)
	}
	for i := 1; i < signin.CodesPerAddress; i++ {
		if r := otp(""); r.Status != 202 {
			t.Fatalf("send %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	r = otp("")
	if r.Status != http.StatusTooManyRequests || r.ErrorCode(t) != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("send past the address's budget: %d %v %s", r.Status, r.Header, r.Body)
	}
	for i := range signin.CodesPerDevice {
		if r := otp(device); r.Status != 202 {
			t.Fatalf("known device, send %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	if r := otp(device); r.Status != http.StatusTooManyRequests {
		t.Fatalf("past the device's reserve: %d %s", r.Status, r.Body)
	}
	if r := otp(strings.Repeat("x", 200)); r.Status != http.StatusBadRequest || r.ErrorCode(t) != "invalid_request" {
		t.Fatalf("an overlong device token: %d %s", r.Status, r.Body)
	}
	if n := len(s.Outbox.Messages(a.Phone)); n != signin.CodesPerAddress+signin.CodesPerDevice {
		t.Fatalf("%d SMS sent, want %d", n, signin.CodesPerAddress+signin.CodesPerDevice)
	}
	// A bank's consent code is not held up by any of it.
	_, bank := s.bank("Halyk Test Bank", wallet.VehicleRegistration)
	s.askConsent(bank, a.IIN, "otp", "vehicle_registration")
	if n := len(s.Outbox.Messages(a.Phone)); n != signin.CodesPerAddress+signin.CodesPerDevice+1 {
		t.Fatalf("%d SMS sent, want the consent code too", n)
	}
}

func TestRefresh_RotatesAndReuseRevokesTheFamily(t *testing.T) {
	s := newTestServer(t)
	a := s.adult()
	tok := s.signIn(a.IIN)
	r := s.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": tok.Refresh})
	if r.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	next := r.JSON(t)["refresh_token"].(string)
	if next == tok.Refresh {
		t.Fatal("refresh token was not rotated")
	}
	// Reuse of the rotated token: refused, and the whole family dies.
	r = s.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": tok.Refresh})
	if r.Status != http.StatusUnauthorized || r.ErrorCode(t) != "unauthorized" {
		t.Fatalf("reuse: %d %s", r.Status, r.Body)
	}
	r = s.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": next})
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("family member after reuse: %d %s", r.Status, r.Body)
	}
}

func TestLogout_RevokesTheFamily(t *testing.T) {
	s := newTestServer(t)
	tok := s.signIn(s.adult().IIN)
	if r := s.do("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": tok.Refresh}); r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": tok.Refresh}); r.Status != http.StatusUnauthorized {
		t.Fatalf("refresh after logout: %d %s", r.Status, r.Body)
	}
}

// Logout ends the access token of the session too, on every citizen
// endpoint, and only that session's.
func TestLogout_RevokesTheAccessTokenToo(t *testing.T) {
	s := newTestServer(t)
	a := s.adult()
	tok := s.signIn(a.IIN)
	other := s.signIn(a.IIN)
	if r := s.do("GET", "/v1/me", tok.Access, nil); r.Status != 200 {
		t.Fatalf("before logout: %d", r.Status)
	}
	if r := s.do("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": tok.Refresh}); r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	for _, p := range []string{"/v1/me", "/v1/documents", "/v1/views?as=owner", "/v1/me/history"} {
		if r := s.do("GET", p, tok.Access, nil); r.Status != http.StatusUnauthorized || r.ErrorCode(t) != "unauthorized" {
			t.Errorf("%s after logout: %d %s", p, r.Status, r.Body)
		}
		if r := s.do("GET", p, other.Access, nil); r.Status != 200 {
			t.Errorf("%s of another sign-in: %d %s", p, r.Status, r.Body)
		}
	}
}

// A refresh token's reuse revokes the session, its newest access token
// included.
func TestRefresh_ReuseRevokesTheAccessToken(t *testing.T) {
	s := newTestServer(t)
	tok := s.signIn(s.adult().IIN)
	r := s.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": tok.Refresh})
	if r.Status != 200 {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	newest := r.JSON(t)["access_token"].(string)
	if r := s.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": tok.Refresh}); r.Status != http.StatusUnauthorized {
		t.Fatalf("reuse: %d", r.Status)
	}
	for _, at := range []string{tok.Access, newest} {
		if r := s.do("GET", "/v1/me", at, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("access token of a revoked session: %d", r.Status)
		}
	}
}

func TestAccessToken_RefusedWhenNotExactlyOurs(t *testing.T) {
	s := newTestServer(t)
	a := s.adult()
	good := s.signIn(a.IIN).Access
	if r := s.do("GET", "/v1/me", good, nil); r.Status != 200 {
		t.Fatalf("good token: %d", r.Status)
	}
	now := s.Clock.Now()
	claims := jwt.MapClaims{"iss": "qujat", "aud": api.AudienceCitizen, "sub": string(a.IIN), "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range claims {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	pub := []byte(s.TokenKey.Public().(ed25519.PublicKey))
	cases := map[string]string{
		"alg none":                        none,
		"HS256 keyed with our public key": sign(jwt.SigningMethodHS256, pub, claims),
		"another Ed25519 key":             sign(jwt.SigningMethodEdDSA, otherKey, claims),
		"expired":                         sign(jwt.SigningMethodEdDSA, s.TokenKey, with("exp", now.Add(-time.Minute).Unix())),
		"no exp":                          sign(jwt.SigningMethodEdDSA, s.TokenKey, with("exp", nil)),
		"no iss":                          sign(jwt.SigningMethodEdDSA, s.TokenKey, with("iss", nil)),
		"other iss":                       sign(jwt.SigningMethodEdDSA, s.TokenKey, with("iss", "evil")),
		"organisation audience":           sign(jwt.SigningMethodEdDSA, s.TokenKey, with("aud", api.AudienceOrganisation)),
		"no aud":                          sign(jwt.SigningMethodEdDSA, s.TokenKey, with("aud", nil)),
		"garbage":                         "not.a.token",
		"tampered":                        tamper(good),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			r := s.do("GET", "/v1/me", tok, nil)
			if r.Status != http.StatusUnauthorized || r.ErrorCode(t) != "unauthorized" {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
	}
	t.Run("our own token after 15 minutes", func(t *testing.T) {
		s.Clock.Advance(15*time.Minute + time.Second)
		r := s.do("GET", "/v1/me", good, nil)
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("no token", func(t *testing.T) {
		if r := s.do("GET", "/v1/me", "", nil); r.Status != http.StatusUnauthorized || r.ErrorCode(t) != "unauthorized" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
}

func TestSignIn_LimitedPerAddress(t *testing.T) {
	s := newTestServer(t)
	var last response
	for i := 0; i < 70; i++ {
		iin, ok := wallet.MakeIIN(time.Date(1970, 1, 1+i, 0, 0, 0, 0, time.UTC), false, 4242)
		if !ok {
			continue
		}
		last = s.do("POST", "/v1/auth/otp", "", map[string]string{"iin": string(iin)})
		if last.Status == http.StatusTooManyRequests {
			break
		}
	}
	if last.Status != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("70 sign-in requests from one address were not limited: %d", last.Status)
	}
}

// tamper changes one character in the middle of a token's signature, where
// every bit is significant (the last characters of base64url carry padding
// bits that a lenient decoder ignores).
func tamper(tok string) string {
	i := len(tok) - 20
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}
