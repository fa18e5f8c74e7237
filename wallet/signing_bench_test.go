package wallet_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// benchRing is a KeyRing of one key, for the benchmarks.
type benchRing struct{ pub wallet.PublicKey }

func (r benchRing) Signer(string) (wallet.IssuerKey, error) {
	return wallet.IssuerKey{}, wallet.Errorf(wallet.ENOTFOUND, "no signer")
}
func (r benchRing) PublicKeys() []wallet.PublicKey { return []wallet.PublicKey{r.pub} }
func (r benchRing) PublicKey(kid string) (wallet.PublicKey, bool) {
	return r.pub, kid == r.pub.KID
}

func benchKey(b *testing.B, alg string) (wallet.IssuerKey, benchRing) {
	b.Helper()
	var s crypto.Signer
	var err error
	if alg == wallet.AlgEdDSA {
		_, s, err = ed25519.GenerateKey(rand.Reader)
	} else {
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		b.Fatal(err)
	}
	k := wallet.IssuerKey{KID: "mvd-bench", Issuer: "mvd", Alg: alg, Key: s}
	return k, benchRing{pub: wallet.PublicKey{KID: k.KID, Issuer: "mvd", Alg: alg, Key: s.Public()}}
}

func benchContent() wallet.DocumentContent {
	until := time.Date(2034, 4, 12, 0, 0, 0, 0, time.UTC)
	return wallet.DocumentContent{
		Type: wallet.IDCard, Title: wallet.IDCard.Title(), SubjectIIN: "880412310009", Issuer: "mvd",
		Number: "041234567", IssuedAt: time.Date(2024, 4, 12, 0, 0, 0, 0, time.UTC), ValidUntil: &until,
		Fields: map[string]string{"surname": "Nurlanov", "given_name": "Aidos", "birth_date": "1988-04-12",
			"birth_place": "Almaty", "nationality": "KZ", "sex": "M"},
		Source: "demo",
	}
}

// BenchmarkSignDocument measures signing a document version (canonical
// JSON, JWS) with each issuer key algorithm.
func BenchmarkSignDocument(b *testing.B) {
	for _, alg := range []string{wallet.AlgEdDSA, wallet.AlgES256} {
		b.Run(alg, func(b *testing.B) {
			k, _ := benchKey(b, alg)
			c := benchContent()
			at := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := wallet.SignDocument(k, c, 1, at); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyDocument measures the public check of a signed document
// (signature and claims; the status lookups are not set, so no store).
func BenchmarkVerifyDocument(b *testing.B) {
	for _, alg := range []string{wallet.AlgEdDSA, wallet.AlgES256} {
		b.Run(alg, func(b *testing.B) {
			k, ring := benchKey(b, alg)
			jws, err := wallet.SignDocument(k, benchContent(), 1, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			v := &wallet.Verifier{Keys: ring, Now: time.Now}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if r := v.Verify(ctx, jws); !r.Valid {
					b.Fatalf("not valid: %+v", r)
				}
			}
		})
	}
}
