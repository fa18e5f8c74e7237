package wallet_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/qujat/qujat/wallet"
)

func signed(t *testing.T, keys wallet.KeyRing, c wallet.DocumentContent, ver int) string {
	t.Helper()
	k, err := keys.Signer(c.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := wallet.SignDocument(k, c, ver, t0)
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

func verifierAt(keys wallet.KeyRing, now time.Time) *wallet.Verifier {
	return &wallet.Verifier{Keys: keys, Now: func() time.Time { return now }}
}

func TestVerify_Reasons(t *testing.T) {
	ctx := context.Background()
	for _, alg := range []string{wallet.AlgEdDSA, wallet.AlgES256} {
		t.Run(alg, func(t *testing.T) {
			keys := newMemKeyRing(t, alg, "mvd")
			c := sampleContent(t)
			jws := signed(t, keys, c, 1)

			revoked := c
			revoked.Revoked = true
			stranger := newMemKeyRing(t, alg)
			stranger.n = 100
			stranger.rotate(t, "mvd", alg) // kid mvd-k101: not in keys

			statusOf := func(st string, err error) func(context.Context, string) (string, error) {
				return func(context.Context, string) (string, error) { return st, err }
			}
			for _, tc := range []struct {
				name   string
				jws    string
				now    time.Time
				status func(context.Context, string) (string, error)
				reason string
				st     string
			}{
				{name: "valid", jws: jws, now: t0, reason: "", st: wallet.StatusValid},
				{name: "valid with store status", jws: jws, now: t0, status: statusOf(wallet.StatusValid, nil), reason: "", st: wallet.StatusValid},
				{name: "exp passed", jws: jws, now: date(2030, 5, 3).Add(time.Second), reason: wallet.ReasonExpired, st: wallet.StatusExpired},
				{name: "expired in store", jws: jws, now: t0, status: statusOf(wallet.StatusExpired, nil), reason: wallet.ReasonExpired, st: wallet.StatusExpired},
				{name: "revoked in store", jws: jws, now: t0, status: statusOf(wallet.StatusRevoked, nil), reason: wallet.ReasonRevoked, st: wallet.StatusRevoked},
				{name: "revoked in content", jws: signed(t, keys, revoked, 1), now: t0, reason: wallet.ReasonRevoked, st: wallet.StatusRevoked},
				{name: "revoked in content, store behind", jws: signed(t, keys, revoked, 1), now: t0, status: statusOf(wallet.StatusValid, nil), reason: wallet.ReasonRevoked, st: wallet.StatusValid},
				{name: "revoked beats expired", jws: signed(t, keys, revoked, 1), now: date(2031, 1, 1), reason: wallet.ReasonRevoked, st: wallet.StatusRevoked},
				{name: "unknown document", jws: jws, now: t0, status: statusOf("", wallet.Errorf(wallet.ENOTFOUND, "x")), reason: wallet.ReasonUnknownDocument},
				{name: "status unavailable", jws: jws, now: t0, status: statusOf("", wallet.Errorf(wallet.EUNAVAILABLE, "x")), reason: wallet.ReasonStatusUnavailable},
				{name: "unknown key", jws: signed(t, stranger, c, 1), now: t0, reason: wallet.ReasonUnknownKey},
				{name: "empty", jws: "", now: t0, reason: wallet.ReasonMalformed},
				{name: "garbage", jws: "not a jws", now: t0, reason: wallet.ReasonMalformed},
				{name: "two segments", jws: jws[:strings.LastIndex(jws, ".")], now: t0, reason: wallet.ReasonMalformed},
				{name: "signature cut", jws: jws[:strings.LastIndex(jws, ".")+1], now: t0, reason: wallet.ReasonBadSignature},
			} {
				t.Run(tc.name, func(t *testing.T) {
					v := verifierAt(keys, tc.now)
					v.Status = tc.status
					r := v.Verify(ctx, tc.jws)
					if r.Reason != tc.reason || r.Valid != (tc.reason == "") || r.Status != tc.st {
						t.Fatalf("got %+v, want reason %q status %q", r, tc.reason, tc.st)
					}
					signatureHolds := tc.reason != wallet.ReasonMalformed && tc.reason != wallet.ReasonBadSignature && tc.reason != wallet.ReasonUnknownKey
					if signatureHolds && (r.Issuer != "mvd" || r.DocumentID != c.ID() || r.Version != 1) {
						t.Fatalf("verified facts missing: %+v", r)
					}
					if !signatureHolds && (r.Issuer != "" || r.DocumentID != "" || r.Status != "") {
						t.Fatalf("unverified claims echoed: %+v", r)
					}
				})
			}
		})
	}
}

func TestVerify_AnyChangedCharacterIsNeverValid(t *testing.T) {
	ctx := context.Background()
	for _, alg := range []string{wallet.AlgEdDSA, wallet.AlgES256} {
		keys := newMemKeyRing(t, alg, "mvd")
		jws := signed(t, keys, sampleContent(t), 1)
		v := verifierAt(keys, t0)
		if r := v.Verify(ctx, jws); !r.Valid {
			t.Fatalf("%s: genuine document: %+v", alg, r)
		}
		for i := 0; i < len(jws); i++ {
			if jws[i] == '.' {
				continue
			}
			b := []byte(jws)
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			r := v.Verify(ctx, string(b))
			if r.Valid {
				t.Fatalf("%s: character %d changed, still valid", alg, i)
			}
			inSig := i > strings.LastIndex(jws, ".")
			switch {
			case inSig && r.Reason != wallet.ReasonBadSignature && r.Reason != wallet.ReasonMalformed:
				t.Fatalf("%s: signature character %d changed: %q", alg, i, r.Reason)
			case r.Reason != wallet.ReasonBadSignature && r.Reason != wallet.ReasonMalformed && r.Reason != wallet.ReasonUnknownKey:
				t.Fatalf("%s: character %d changed: %q", alg, i, r.Reason)
			}
		}
	}
}

// forge builds a compact JWS from a header, claims and a signing function.
func forge(t *testing.T, header map[string]any, claims []byte, sign func(signingInput string) []byte) string {
	t.Helper()
	h, _ := json.Marshal(header)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(claims)
	return in + "." + base64.RawURLEncoding.EncodeToString(sign(in))
}

func TestVerify_AlgorithmsArePinned(t *testing.T) {
	ctx := context.Background()
	keys := newMemKeyRing(t, wallet.AlgEdDSA, "mvd")
	keys.rotate(t, "other", wallet.AlgES256)
	c := sampleContent(t)
	genuine := signed(t, keys, c, 1)
	parts := strings.Split(genuine, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	k, _ := keys.Signer("mvd")
	pub := k.Key.Public().(ed25519.PublicKey)
	edSign := func(in string) []byte { return ed25519.Sign(k.Key.(ed25519.PrivateKey), []byte(in)) }

	for _, tc := range []struct {
		name string
		jws  string
	}{
		{"alg none", forge(t, map[string]any{"alg": "none", "kid": k.KID, "typ": wallet.DocumentJWSType}, payload, func(string) []byte { return nil })},
		{"alg none with the genuine signature", forge(t, map[string]any{"alg": "none", "kid": k.KID, "typ": wallet.DocumentJWSType}, payload, func(string) []byte {
			s, _ := base64.RawURLEncoding.DecodeString(parts[2])
			return s
		})},
		{"HS256 keyed with the public key", func() string {
			tok := jwt.New(jwt.SigningMethodHS256)
			tok.Header["kid"], tok.Header["typ"] = k.KID, wallet.DocumentJWSType
			var m jwt.MapClaims
			json.Unmarshal(payload, &m)
			tok.Claims = m
			s, err := tok.SignedString([]byte(pub))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}()},
		{"ES256 header on an EdDSA key", forge(t, map[string]any{"alg": "ES256", "kid": k.KID, "typ": wallet.DocumentJWSType}, payload, edSign)},
		{"EdDSA header naming the ES256 key", forge(t, map[string]any{"alg": "EdDSA", "kid": "other-k2", "typ": wallet.DocumentJWSType}, payload, edSign)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := verifierAt(keys, t0).Verify(ctx, tc.jws)
			if r.Valid || (r.Reason != wallet.ReasonBadSignature && r.Reason != wallet.ReasonMalformed) {
				t.Fatalf("%+v", r)
			}
		})
	}
}

func TestVerify_KeyOfAnotherIssuerIsRefused(t *testing.T) {
	// A genuine signature by minjust's key over a document claiming to be
	// issued by mvd: the key was never published for mvd.
	keys := newMemKeyRing(t, wallet.AlgEdDSA, "mvd", "minjust")
	c := sampleContent(t)
	k, _ := keys.Signer("minjust")
	canon, _ := c.Canonical()
	claims, _ := json.Marshal(map[string]any{
		"iss": "mvd", "sub": string(c.SubjectIIN), "iat": t0.Unix(), "exp": date(2030, 5, 3).Unix(),
		"jti": c.ID() + ":1", "ver": 1, "doc": json.RawMessage(canon),
	})
	jws := forge(t, map[string]any{"alg": "EdDSA", "kid": k.KID, "typ": wallet.DocumentJWSType}, claims, func(in string) []byte {
		return ed25519.Sign(k.Key.(ed25519.PrivateKey), []byte(in))
	})
	if r := verifierAt(keys, t0).Verify(context.Background(), jws); r.Valid || r.Reason != wallet.ReasonBadSignature {
		t.Fatalf("%+v", r)
	}
}

func TestVerify_SignedClaimsMustAgreeWithTheContent(t *testing.T) {
	keys := newMemKeyRing(t, wallet.AlgEdDSA, "mvd")
	c := sampleContent(t)
	k, _ := keys.Signer("mvd")
	canon, _ := c.Canonical()
	base := func() map[string]any {
		return map[string]any{
			"iss": "mvd", "sub": string(c.SubjectIIN), "iat": t0.Unix(), "exp": date(2030, 5, 3).Unix(),
			"jti": c.ID() + ":1", "ver": 1, "doc": json.RawMessage(canon),
		}
	}
	sign := func(m map[string]any, typ string) string {
		b, _ := json.Marshal(m)
		return forge(t, map[string]any{"alg": "EdDSA", "kid": k.KID, "typ": typ}, b, func(in string) []byte {
			return ed25519.Sign(k.Key.(ed25519.PrivateKey), []byte(in))
		})
	}
	if r := verifierAt(keys, t0).Verify(context.Background(), sign(base(), wallet.DocumentJWSType)); !r.Valid {
		t.Fatalf("well-formed forgery with the real key should verify: %+v", r)
	}
	for name, mod := range map[string]func(map[string]any){
		"another subject": func(m map[string]any) { m["sub"] = "900101300123" },
		"another jti":     func(m map[string]any) { m["jti"] = "doc_x:1" },
		"version 0":       func(m map[string]any) { m["ver"] = 0; m["jti"] = c.ID() + ":0" },
		"no exp":          func(m map[string]any) { delete(m, "exp") },
		"no doc":          func(m map[string]any) { delete(m, "doc") },
		"doc not canonical": func(m map[string]any) {
			var fields map[string]any // members in another order
			json.Unmarshal(canon, &fields)
			m["doc"] = fields
		},
		"doc with an unknown field": func(m map[string]any) {
			m["doc"] = json.RawMessage(strings.Replace(string(canon), `{"type":`, `{"x":1,"type":`, 1))
		},
	} {
		m := base()
		mod(m)
		if r := verifierAt(keys, t0).Verify(context.Background(), sign(m, wallet.DocumentJWSType)); r.Valid || r.Reason != wallet.ReasonMalformed {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if r := verifierAt(keys, t0).Verify(context.Background(), sign(base(), "JWT")); r.Valid || r.Reason != wallet.ReasonMalformed {
		t.Errorf("typ JWT: %+v", r)
	}
}

func TestVerify_RandomKeyWithKnownKidIsBadSignature(t *testing.T) {
	keys := newMemKeyRing(t, wallet.AlgEdDSA, "mvd")
	k, _ := keys.Signer("mvd")
	_, impostor, _ := ed25519.GenerateKey(rand.Reader)
	jws, err := wallet.SignDocument(wallet.IssuerKey{KID: k.KID, Issuer: "mvd", Alg: wallet.AlgEdDSA, Key: impostor}, sampleContent(t), 1, t0)
	if err != nil {
		t.Fatal(err)
	}
	if r := verifierAt(keys, t0).Verify(context.Background(), jws); r.Valid || r.Reason != wallet.ReasonBadSignature {
		t.Fatalf("%+v", r)
	}
}

func TestVerify_OldDocumentVerifiesAfterRotation(t *testing.T) {
	keys := newMemKeyRing(t, wallet.AlgEdDSA, "mvd")
	c := sampleContent(t)
	old := signed(t, keys, c, 1)
	newKID := keys.rotate(t, "mvd", wallet.AlgES256)
	fresh := signed(t, keys, c, 2)
	v := verifierAt(keys, t0)
	if r := v.Verify(context.Background(), old); !r.Valid {
		t.Fatalf("old: %+v", r)
	}
	if r := v.Verify(context.Background(), fresh); !r.Valid {
		t.Fatalf("new: %+v", r)
	}
	if !strings.Contains(headerOf(t, fresh), `"kid":"`+newKID+`"`) {
		t.Fatalf("new document header %s", headerOf(t, fresh))
	}
}

func headerOf(t *testing.T, jws string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.SplitN(jws, ".", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVerify_ACompromisedKeyRefusesWhatItSignedFromThen(t *testing.T) {
	ctx := context.Background()
	keys := newMemKeyRing(t, wallet.AlgEdDSA, "mvd")
	jws := signed(t, keys, sampleContent(t), 1) // signed at t0
	k, _ := keys.Signer("mvd")
	for _, tc := range []struct {
		name   string
		at     *time.Time
		err    error
		reason string
	}{
		{"not compromised", nil, nil, ""},
		{"compromised after it signed", ptr(t0.Add(time.Second)), nil, ""},
		{"compromised when it signed", ptr(t0), nil, wallet.ReasonKeyCompromised},
		{"compromised before", ptr(t0.Add(-time.Hour)), nil, wallet.ReasonKeyCompromised},
		{"cannot tell", nil, wallet.Errorf(wallet.EUNAVAILABLE, "down"), wallet.ReasonStatusUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := verifierAt(keys, t0)
			v.Compromised = func(_ context.Context, kid string) (*time.Time, error) {
				if kid != k.KID {
					t.Fatalf("asked about %s", kid)
				}
				return tc.at, tc.err
			}
			if r := v.Verify(ctx, jws); r.Reason != tc.reason || r.Valid != (tc.reason == "") {
				t.Fatalf("%+v", r)
			}
		})
	}
}

func ptr(t time.Time) *time.Time { return &t }
