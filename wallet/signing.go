package wallet

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Signature algorithms an issuer key may use (JOSE names).
const (
	AlgEdDSA = "EdDSA" // Ed25519, the default
	AlgES256 = "ES256" // ECDSA on P-256 with SHA-256
)

// DocumentJWSType is the "typ" header of a signed document, so that a
// document can never be mistaken for another kind of token signed elsewhere.
const DocumentJWSType = "qujat-document+jwt"

// NoExpiryTerm is how long a document without an end of validity is signed
// for: its exp claim is its issue date plus this term. JWT verifiers expect
// an exp; a term longer than any life keeps the claim honest enough.
const NoExpiryTerm = 100 * 365 * 24 * time.Hour

// IssuerKey is the current signing key of an issuing authority.
type IssuerKey struct {
	KID    string
	Issuer string
	Alg    string // AlgEdDSA or AlgES256
	Key    crypto.Signer
}

// PublicKey is a published verification key of an issuer. Retired keys sign
// nothing new but stay published so that older documents still verify.
type PublicKey struct {
	KID       string
	Issuer    string
	Alg       string
	Key       crypto.PublicKey // ed25519.PublicKey or *ecdsa.PublicKey
	CreatedAt time.Time
	Retired   bool
}

// KeyRing holds the issuers' keys.
type KeyRing interface {
	// Signer returns the current signing key of issuer. ENOTFOUND if the
	// issuer has no key.
	Signer(issuer string) (IssuerKey, error)
	// PublicKeys returns every key, current and retired.
	PublicKeys() []PublicKey
	// PublicKey returns the key with that kid, current or retired.
	PublicKey(kid string) (PublicKey, bool)
}

// documentClaims are the claims of a signed document. The content is the
// "doc" claim, byte for byte the canonical JSON kept in Version.Content.
type documentClaims struct {
	jwt.RegisteredClaims
	Ver int             `json:"ver"`
	Doc json.RawMessage `json:"doc"`
}

// SignDocument signs version `version` of the document with content c as a
// compact JWS at time `at`. Header: alg, kid, typ (DocumentJWSType).
// Claims: iss (c.Issuer), sub (c.SubjectIIN), iat (at), exp (c.ValidUntil,
// or c.IssuedAt plus NoExpiryTerm when the document never expires), jti
// (document id ":" version), ver (version) and doc (c as canonical JSON).
// There is no nbf: a document is valid from the moment it is signed.
// EINVALID if the key does not belong to c's issuer or c is not a document;
// EINTERNAL if signing fails.
func SignDocument(k IssuerKey, c DocumentContent, version int, at time.Time) (string, error) {
	if k.Issuer != c.Issuer {
		return "", Errorf(EINVALID, "key %s belongs to issuer %q, not %q", k.KID, k.Issuer, c.Issuer)
	}
	if version < 1 {
		return "", Errorf(EINVALID, "version must be 1 or more")
	}
	content, err := c.Canonical()
	if err != nil {
		return "", err
	}
	method, err := signingMethod(k.Alg)
	if err != nil {
		return "", err
	}
	claims := documentClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    c.Issuer,
			Subject:   string(c.SubjectIIN),
			IssuedAt:  jwt.NewNumericDate(at),
			ExpiresAt: jwt.NewNumericDate(c.expiry(at)),
			ID:        c.ID() + ":" + strconv.Itoa(version),
		},
		Ver: version,
		Doc: content,
	}
	t := jwt.NewWithClaims(method, claims)
	t.Header["kid"] = k.KID
	t.Header["typ"] = DocumentJWSType
	s, err := t.SignedString(k.Key)
	if err != nil {
		return "", Wrap(EINTERNAL, err, "cannot sign document")
	}
	return s, nil
}

// expiry is the exp claim of c signed at `at`.
func (c DocumentContent) expiry(at time.Time) time.Time {
	if c.ValidUntil != nil {
		return *c.ValidUntil
	}
	from := c.IssuedAt
	if from.IsZero() {
		from = at
	}
	return from.Add(NoExpiryTerm)
}

// signingMethod returns the JWT signing method for alg. Both take any
// crypto.Signer, so keys may live outside the process (a KMS) later.
func signingMethod(alg string) (jwt.SigningMethod, error) {
	switch alg {
	case AlgEdDSA:
		return jwt.SigningMethodEdDSA, nil
	case AlgES256:
		return es256Signer{}, nil
	}
	return nil, Errorf(EINVALID, "unsupported signature algorithm %q", alg)
}

// es256Signer is ES256 for any crypto.Signer holding a P-256 key: the
// library's own method wants an *ecdsa.PrivateKey. The signer returns an
// ASN.1 signature, which JOSE wants as the fixed-size r || s.
type es256Signer struct{}

func (es256Signer) Alg() string { return AlgES256 }

func (es256Signer) Verify(signingString string, sig []byte, key any) error {
	return jwt.SigningMethodES256.Verify(signingString, sig, key)
}

func (es256Signer) Sign(signingString string, key any) ([]byte, error) {
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, jwt.ErrInvalidKeyType
	}
	pub, ok := s.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, jwt.ErrInvalidKeyType
	}
	digest := sha256.Sum256([]byte(signingString))
	der, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("ecdsa signer returned a malformed signature")
	}
	if rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 256 || rs.S.BitLen() > 256 {
		return nil, fmt.Errorf("ecdsa signer returned an out-of-range signature")
	}
	out := make([]byte, 64)
	rs.R.FillBytes(out[:32])
	rs.S.FillBytes(out[32:])
	return out, nil
}

// KeyAlg returns the algorithm a key pair is used with: AlgEdDSA for
// Ed25519, AlgES256 for ECDSA P-256. EINVALID for anything else.
func KeyAlg(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return AlgEdDSA, nil
		}
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return AlgES256, nil
		}
	}
	return "", Errorf(EINVALID, "unsupported key type %T", pub)
}

// JWK is one public key in JSON Web Key form (RFC 7517, RFC 8037).
type JWK struct {
	KTY string `json:"kty"`
	CRV string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
	KID string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKS returns keys as a JSON Web Key Set, {"keys": [...]}, in the order
// given: Ed25519 keys as OKP with x, P-256 keys as EC with x and y, each
// with kid, alg and use "sig". EINVALID for a key of another type or one
// whose Alg does not fit the key.
func JWKS(keys []PublicKey) ([]byte, error) {
	set := struct {
		Keys []JWK `json:"keys"`
	}{Keys: make([]JWK, 0, len(keys))}
	for _, k := range keys {
		alg, err := KeyAlg(k.Key)
		if err != nil {
			return nil, err
		}
		if alg != k.Alg {
			return nil, Errorf(EINVALID, "key %s is an %s key, not %s", k.KID, alg, k.Alg)
		}
		j := JWK{KID: k.KID, Alg: k.Alg, Use: "sig"}
		switch pub := k.Key.(type) {
		case ed25519.PublicKey:
			j.KTY, j.CRV = "OKP", "Ed25519"
			j.X = base64.RawURLEncoding.EncodeToString(pub)
		case *ecdsa.PublicKey:
			e, err := pub.ECDH()
			if err != nil {
				return nil, Wrap(EINVALID, err, "bad P-256 key "+k.KID)
			}
			b := e.Bytes() // 0x04 || x || y, 32 bytes each
			j.KTY, j.CRV = "EC", "P-256"
			j.X = base64.RawURLEncoding.EncodeToString(b[1:33])
			j.Y = base64.RawURLEncoding.EncodeToString(b[33:])
		}
		set.Keys = append(set.Keys, j)
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, Wrap(EINTERNAL, err, "cannot encode key set")
	}
	return b, nil
}

// SignJWS signs claims as a compact JWS with k (any crypto.Signer, so a key
// held outside the process works too). Header: alg, kid and typ, which
// names what the token is so it is never mistaken for another kind.
// EINVALID for an unsupported algorithm; EINTERNAL if signing fails.
func SignJWS(k IssuerKey, typ string, claims jwt.Claims) (string, error) {
	method, err := signingMethod(k.Alg)
	if err != nil {
		return "", err
	}
	t := jwt.NewWithClaims(method, claims)
	t.Header["kid"] = k.KID
	t.Header["typ"] = typ
	s, err := t.SignedString(k.Key)
	if err != nil {
		return "", Wrap(EINTERNAL, err, "cannot sign")
	}
	return s, nil
}
