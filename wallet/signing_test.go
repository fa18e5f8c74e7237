package wallet_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qujat/qujat/wallet"
)

// memKeyRing is a KeyRing in memory for tests.
type memKeyRing struct {
	mu      sync.Mutex
	n       int
	current map[string]string
	keys    map[string]memKey
}

type memKey struct {
	pub    wallet.PublicKey
	signer crypto.Signer
}

func newMemKeyRing(t *testing.T, alg string, issuers ...string) *memKeyRing {
	t.Helper()
	r := &memKeyRing{current: map[string]string{}, keys: map[string]memKey{}}
	for _, is := range issuers {
		r.rotate(t, is, alg)
	}
	return r
}

func (r *memKeyRing) rotate(t *testing.T, issuer, alg string) string {
	t.Helper()
	var s crypto.Signer
	var err error
	switch alg {
	case wallet.AlgEdDSA:
		_, s, err = ed25519.GenerateKey(rand.Reader)
	case wallet.AlgES256:
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("alg %q", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return r.add(issuer, alg, s)
}

func (r *memKeyRing) add(issuer, alg string, s crypto.Signer) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	kid := fmt.Sprintf("%s-k%d", issuer, r.n)
	r.keys[kid] = memKey{pub: wallet.PublicKey{KID: kid, Issuer: issuer, Alg: alg, Key: s.Public(), CreatedAt: time.Unix(int64(r.n), 0)}, signer: s}
	r.current[issuer] = kid
	return kid
}

func (r *memKeyRing) Signer(issuer string) (wallet.IssuerKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kid, ok := r.current[issuer]
	if !ok {
		return wallet.IssuerKey{}, wallet.Errorf(wallet.ENOTFOUND, "no key for %s", issuer)
	}
	k := r.keys[kid]
	return wallet.IssuerKey{KID: kid, Issuer: issuer, Alg: k.pub.Alg, Key: k.signer}, nil
}

func (r *memKeyRing) PublicKeys() []wallet.PublicKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []wallet.PublicKey
	for i := 1; i <= r.n; i++ {
		for kid, k := range r.keys {
			if k.pub.CreatedAt.Unix() == int64(i) {
				p := k.pub
				p.Retired = r.current[p.Issuer] != kid
				out = append(out, p)
			}
		}
	}
	return out
}

func (r *memKeyRing) PublicKey(kid string) (wallet.PublicKey, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.keys[kid]
	if !ok {
		return wallet.PublicKey{}, false
	}
	p := k.pub
	p.Retired = r.current[p.Issuer] != kid
	return p, true
}

// opaqueSigner hides the concrete key type, as a KMS-backed signer would.
type opaqueSigner struct{ s crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.s.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, d, opts)
}

var t0 = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func datep(y int, m time.Month, d int) *time.Time { t := date(y, m, d); return &t }

func mustIIN(t *testing.T, birth time.Time, female bool) wallet.IIN {
	t.Helper()
	for serial := 1; serial < 10000; serial++ {
		if iin, ok := wallet.MakeIIN(birth, female, serial); ok {
			return iin
		}
	}
	t.Fatal("no IIN")
	return ""
}

func sampleContent(t *testing.T) wallet.DocumentContent {
	t.Helper()
	c, err := wallet.ContentFromRecord(wallet.Record{
		Source: "population", Type: wallet.IDCard, Number: "043218765", Issuer: "mvd",
		Subject:  mustIIN(t, date(1990, 1, 1), false),
		Fields:   map[string]string{"surname": "ABENOV", "given_names": "ARMAN"},
		IssuedAt: date(2020, 5, 4), ValidUntil: datep(2030, 5, 3),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func payloadClaims(t *testing.T, payload []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSignDocument_VerifiesWithIndependentJOSELibraryAgainstJWKS(t *testing.T) {
	for _, tc := range []struct {
		alg     string
		joseAlg jose.SignatureAlgorithm
		opaque  bool
	}{
		{wallet.AlgEdDSA, jose.EdDSA, false},
		{wallet.AlgES256, jose.ES256, false},
		{wallet.AlgES256, jose.ES256, true}, // a signer that is not an *ecdsa.PrivateKey
	} {
		t.Run(fmt.Sprintf("%s/opaque=%v", tc.alg, tc.opaque), func(t *testing.T) {
			keys := newMemKeyRing(t, tc.alg, "mvd")
			if tc.opaque {
				k, _ := keys.Signer("mvd")
				keys.add("mvd", tc.alg, opaqueSigner{k.Key})
			}
			c := sampleContent(t)
			k, err := keys.Signer("mvd")
			if err != nil {
				t.Fatal(err)
			}
			jws, err := wallet.SignDocument(k, c, 3, t0)
			if err != nil {
				t.Fatal(err)
			}

			jwks, err := wallet.JWKS(keys.PublicKeys())
			if err != nil {
				t.Fatal(err)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(jwks, &set); err != nil {
				t.Fatalf("JWKS does not parse as a JWK set: %v\n%s", err, jwks)
			}
			sig, err := jose.ParseSigned(jws, []jose.SignatureAlgorithm{tc.joseAlg})
			if err != nil {
				t.Fatal(err)
			}
			h := sig.Signatures[0].Protected
			if h.KeyID != k.KID || h.Algorithm != tc.alg || h.ExtraHeaders["typ"] != wallet.DocumentJWSType {
				t.Fatalf("header: kid %q alg %q typ %v", h.KeyID, h.Algorithm, h.ExtraHeaders["typ"])
			}
			found := set.Key(h.KeyID)
			if len(found) != 1 {
				t.Fatalf("kid %s in JWKS %d times", h.KeyID, len(found))
			}
			payload, err := sig.Verify(found[0])
			if err != nil {
				t.Fatalf("go-jose does not verify the document: %v", err)
			}

			claims := payloadClaims(t, payload)
			want := map[string]any{
				"iss": "mvd",
				"sub": string(c.SubjectIIN),
				"iat": float64(t0.Unix()),
				"exp": float64(date(2030, 5, 3).Unix()),
				"jti": c.ID() + ":3",
				"ver": float64(3),
			}
			for name, v := range want {
				if claims[name] != v {
					t.Errorf("claim %s = %v, want %v", name, claims[name], v)
				}
			}
			if _, ok := claims["nbf"]; ok {
				t.Error("nbf is set")
			}
			canon, _ := c.Canonical()
			if !strings.Contains(string(payload), `"doc":`+string(canon)) {
				t.Errorf("doc claim is not the canonical content byte for byte:\n%s", payload)
			}
		})
	}
}

func TestSignDocument_NoEndOfValidityExpiresHundredYearsAfterIssue(t *testing.T) {
	keys := newMemKeyRing(t, wallet.AlgEdDSA, "mvd")
	c := sampleContent(t)
	c.ValidUntil = nil
	k, _ := keys.Signer("mvd")
	jws, err := wallet.SignDocument(k, c, 1, t0)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jose.ParseSigned(jws, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	claims := payloadClaims(t, sig.UnsafePayloadWithoutVerification())
	if want := float64(c.IssuedAt.Add(wallet.NoExpiryTerm).Unix()); claims["exp"] != want {
		t.Fatalf("exp %v, want %v", claims["exp"], want)
	}
}

func TestSignDocument_RefusesAnotherIssuersKey(t *testing.T) {
	keys := newMemKeyRing(t, wallet.AlgEdDSA, "mvd", "minjust")
	k, _ := keys.Signer("minjust")
	_, err := wallet.SignDocument(k, sampleContent(t), 1, t0)
	if !wallet.IsCode(err, wallet.EINVALID) {
		t.Fatalf("err %v, want invalid_request", err)
	}
}

func TestJWKS_StandardMembers(t *testing.T) {
	keys := newMemKeyRing(t, wallet.AlgEdDSA, "mvd")
	keys.rotate(t, "minjust", wallet.AlgES256)
	b, err := wallet.JWKS(keys.PublicKeys())
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("%d keys", len(set.Keys))
	}
	okp, ec := set.Keys[0], set.Keys[1]
	if okp["kty"] != "OKP" || okp["crv"] != "Ed25519" || len(okp["x"]) != 43 || okp["y"] != "" ||
		okp["alg"] != "EdDSA" || okp["use"] != "sig" || okp["kid"] != "mvd-k1" {
		t.Errorf("OKP key %v", okp)
	}
	if ec["kty"] != "EC" || ec["crv"] != "P-256" || len(ec["x"]) != 43 || len(ec["y"]) != 43 ||
		ec["alg"] != "ES256" || ec["use"] != "sig" || ec["kid"] != "minjust-k2" {
		t.Errorf("EC key %v", ec)
	}
	for _, k := range set.Keys {
		if _, ok := k["d"]; ok {
			t.Error("private part published")
		}
	}
	if empty, _ := wallet.JWKS(nil); string(empty) != `{"keys":[]}` {
		t.Errorf("empty set %s", empty)
	}
}

func TestJWKS_RefusesKeyWhoseAlgDoesNotFit(t *testing.T) {
	keys := newMemKeyRing(t, wallet.AlgEdDSA, "mvd")
	pk := keys.PublicKeys()
	pk[0].Alg = wallet.AlgES256
	if _, err := wallet.JWKS(pk); !wallet.IsCode(err, wallet.EINVALID) {
		t.Fatalf("err %v", err)
	}
}
