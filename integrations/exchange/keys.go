// Package exchange is the protected exchange between service centres and
// agencies (PROTOCOL.md in this directory is its description for an
// agency's implementers): the messages, their signatures (JWS) and
// encryption (JWE, ECDH-ES+A256KW with A256GCM), receipts and rejections,
// and the keys on both sides. It knows nothing of cases or stores: the
// cases package builds messages with it and keeps what it returns.
package exchange

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/keyfiles"
)

// Algorithms of the exchange, pinned: nothing else is accepted.
const (
	KeyAlgorithm       = jose.ECDH_ES_A256KW
	ContentEncryption  = jose.A256GCM
	MediaType          = "application/jose"
	issuerSigning      = "exchange-sig"
	issuerEncryption   = "exchange-enc"
	encryptionAlgLabel = "ECDH-ES+A256KW"
)

// SignatureAlgorithms are the JWS algorithms the exchange accepts.
var SignatureAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA}

// ParsePublicJWK reads one public JWK for use (wallet.KeyUseSig: an EC
// P-256 or Ed25519 key; wallet.KeyUseEnc: an EC P-256 key) and returns it
// with its kid (the RFC 7638 thumbprint when the JWK names none). EINVALID
// for anything else: a private key, another curve, a "use" that disagrees.
func ParsePublicJWK(b []byte, use string) (jose.JSONWebKey, error) {
	var k jose.JSONWebKey
	if err := json.Unmarshal(b, &k); err != nil {
		return k, wallet.Errorf(wallet.EINVALID, "not a JWK: %v", err)
	}
	if !k.Valid() {
		return k, wallet.Errorf(wallet.EINVALID, "not a valid JWK")
	}
	if !k.IsPublic() {
		return k, wallet.Errorf(wallet.EINVALID, "a private key was given where a public key belongs: keep the private key")
	}
	if k.Use != "" && k.Use != use {
		return k, wallet.Errorf(wallet.EINVALID, "the JWK's use is %q, not %q", k.Use, use)
	}
	switch pk := k.Key.(type) {
	case *ecdsa.PublicKey:
		if pk.Curve != elliptic.P256() {
			return k, wallet.Errorf(wallet.EINVALID, "EC keys must be on P-256")
		}
	case ed25519.PublicKey:
		if use == wallet.KeyUseEnc {
			return k, wallet.Errorf(wallet.EINVALID, "an encryption key must be EC P-256 (ECDH-ES)")
		}
	default:
		return k, wallet.Errorf(wallet.EINVALID, "keys must be EC P-256 or (for signing) Ed25519")
	}
	if k.KeyID == "" {
		tp, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			return k, wallet.Errorf(wallet.EINVALID, "cannot take the JWK's thumbprint: %v", err)
		}
		k.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	}
	k.Use = use
	if use == wallet.KeyUseEnc {
		k.Algorithm = encryptionAlgLabel
	} else if _, ok := k.Key.(ed25519.PublicKey); ok {
		k.Algorithm = string(jose.EdDSA)
	} else {
		k.Algorithm = string(jose.ES256)
	}
	return k, nil
}

// PublishedKey is one of a centre's exchange keys as published at
// /.well-known/exchange-keys.json.
type PublishedKey struct {
	jose.JSONWebKey
	Status        string     `json:"-"`
	CreatedAt     time.Time  `json:"-"`
	CompromisedAt *time.Time `json:"-"`
}

// MarshalJSON is the public JWK with "status", "created_at" and, for a
// compromised key, "compromised_at".
func (p PublishedKey) MarshalJSON() ([]byte, error) {
	b, err := p.JSONWebKey.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["status"] = p.Status
	m["created_at"] = p.CreatedAt.UTC().Format(time.RFC3339)
	if p.CompromisedAt != nil {
		m["compromised_at"] = p.CompromisedAt.UTC().Format(time.RFC3339)
	}
	return json.Marshal(m)
}

// CentreKeys are Qujat's exchange keys, used for every service centre: one
// signs (the seal on manifests, receipts and rejections), one decrypts what
// agencies encrypt to the centres. They are kept like the issuers' keys (a
// keyfiles ring under keys/exchange of the data directory), both ES256/P-256;
// older keys stay so that what they signed verifies and what was encrypted to
// them can be read.
type CentreKeys struct {
	ring *keyfiles.KeyRing
}

// OpenCentreKeys opens (creating on first use) the exchange keys under dir.
// EINTERNAL on file errors.
func OpenCentreKeys(dir string) (*CentreKeys, error) {
	ring, err := keyfiles.Open(filepath.Join(dir, "exchange"), []string{issuerSigning, issuerEncryption}, wallet.AlgES256)
	if err != nil {
		return nil, err
	}
	return &CentreKeys{ring: ring}, nil
}

// Signer is the current signing key.
func (c *CentreKeys) Signer() (wallet.IssuerKey, error) { return c.ring.Signer(issuerSigning) }

// Rotate gives the centre a new key for use (after a compromise) and
// returns its kid. EINVALID for another use.
func (c *CentreKeys) Rotate(use string) (string, error) {
	switch use {
	case wallet.KeyUseSig:
		return c.ring.Rotate(issuerSigning, wallet.AlgES256)
	case wallet.KeyUseEnc:
		return c.ring.Rotate(issuerEncryption, wallet.AlgES256)
	}
	return "", wallet.Errorf(wallet.EINVALID, "no exchange key use %q", use)
}

// EncryptionKey is the current encryption key's public half and kid.
func (c *CentreKeys) EncryptionKey() (jose.JSONWebKey, error) {
	k, err := c.ring.Signer(issuerEncryption)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	return jose.JSONWebKey{Key: k.Key.Public(), KeyID: k.KID, Use: wallet.KeyUseEnc, Algorithm: encryptionAlgLabel}, nil
}

// DecryptionKey is the private encryption key with that kid, current or
// retired.
func (c *CentreKeys) DecryptionKey(kid string) (*ecdsa.PrivateKey, bool) {
	pub, ok := c.ring.PublicKey(kid)
	if !ok || pub.Issuer != issuerEncryption {
		return nil, false
	}
	s, ok := c.ring.PrivateKey(kid)
	if !ok {
		return nil, false
	}
	ek, ok := s.(*ecdsa.PrivateKey)
	return ek, ok
}

// VerificationKey is the public signing key with that kid, current or
// retired, with the time it was made. ENOTFOUND.
func (c *CentreKeys) VerificationKey(kid string) (wallet.PublicKey, error) {
	pub, ok := c.ring.PublicKey(kid)
	if !ok || pub.Issuer != issuerSigning {
		return wallet.PublicKey{}, wallet.Errorf(wallet.ENOTFOUND, "no exchange signing key %q", kid)
	}
	return pub, nil
}

// Owns tells whether kid is one of the centre's exchange keys (either use).
func (c *CentreKeys) Owns(kid string) bool {
	pub, ok := c.ring.PublicKey(kid)
	return ok && (pub.Issuer == issuerSigning || pub.Issuer == issuerEncryption)
}

// Published lists every exchange key, current and retired, as JWKs with
// their use and status. compromised gives the time a kid was declared
// compromised (nil: none is).
func (c *CentreKeys) Published(compromised func(kid string) *time.Time) []PublishedKey {
	out := []PublishedKey{}
	for _, k := range c.ring.PublicKeys() {
		var use, alg string
		switch k.Issuer {
		case issuerSigning:
			use, alg = wallet.KeyUseSig, string(jose.ES256)
		case issuerEncryption:
			use, alg = wallet.KeyUseEnc, encryptionAlgLabel
		default:
			continue
		}
		p := PublishedKey{JSONWebKey: jose.JSONWebKey{Key: k.Key, KeyID: k.KID, Use: use, Algorithm: alg}, Status: "active", CreatedAt: k.CreatedAt}
		if k.Retired {
			p.Status = "retired"
		}
		if compromised != nil {
			if at := compromised(k.KID); at != nil {
				p.Status, p.CompromisedAt = "compromised", at
			}
		}
		out = append(out, p)
	}
	return out
}

// Reload reads the key files again (a key rotated by another process).
func (c *CentreKeys) Reload() error { return c.ring.Reload() }
