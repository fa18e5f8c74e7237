package exchange

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qujat/qujat/wallet"
)

// Reasons of a rejection, stable codes (PROTOCOL.md lists them).
const (
	ReasonBadRequest        = "bad_request"        // not a message of this protocol
	ReasonDecryption        = "decryption_failed"  // not encrypted to a key of the receiver
	ReasonBadSignature      = "bad_signature"      // a signature does not verify
	ReasonUnknownKey        = "unknown_key"        // signed with a key the receiver does not know
	ReasonKeyCompromised    = "key_compromised"    // signed with a key compromised before it signed
	ReasonUnknownCase       = "unknown_case"       // names a case or package the receiver does not have
	ReasonReplay            = "replay"             // an id seen before with other content
	ReasonDigestMismatch    = "digest_mismatch"    // an item's bytes are not those the manifest names
	ReasonWrongRecipient    = "wrong_recipient"    // addressed to someone else
	ReasonOperatorSignature = "operator_signature" // an item's operator signature does not verify
)

// Rejected is a message refused for a stable reason.
type Rejected struct {
	Reason string
	Detail string
}

func (r *Rejected) Error() string {
	if r.Detail == "" {
		return r.Reason
	}
	return r.Reason + ": " + r.Detail
}

func reject(reason, format string, args ...any) error {
	return &Rejected{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf is the stable reason of a refusal (ReasonBadRequest for an error
// that is not a Rejected).
func ReasonOf(err error) string {
	var r *Rejected
	if errors.As(err, &r) {
		return r.Reason
	}
	return ReasonBadRequest
}

// Digest is the lowercase hex SHA-256 of b.
func Digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Sign makes a compact JWS of payload with key, its kid and typ in the
// protected header.
func Sign(payload []byte, key wallet.IssuerKey, typ string) (string, error) {
	var alg jose.SignatureAlgorithm
	switch key.Alg {
	case wallet.AlgES256:
		alg = jose.ES256
	case wallet.AlgEdDSA:
		alg = jose.EdDSA
	default:
		return "", wallet.Errorf(wallet.EINTERNAL, "exchange: no JWS algorithm for %q", key.Alg)
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", key.KID)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key.Key}, opts)
	if err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "exchange: signer")
	}
	obj, err := s.Sign(payload)
	if err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "exchange: sign")
	}
	return obj.CompactSerialize()
}

// Signed is a verified JWS: its payload, the kid and typ of its header.
type Signed struct {
	Payload []byte
	KID     string
	Typ     string
}

// HeaderKID reads the kid and typ of a compact JWS without verifying it.
func HeaderKID(jws string) (kid, typ string, err error) {
	obj, err := jose.ParseSigned(jws, SignatureAlgorithms)
	if err != nil || len(obj.Signatures) != 1 {
		return "", "", reject(ReasonBadRequest, "not a compact JWS with one signature")
	}
	h := obj.Signatures[0].Protected
	t, _ := h.ExtraHeaders[jose.HeaderType].(string)
	return h.KeyID, t, nil
}

// Verify checks a compact JWS signed with one of SignatureAlgorithms by the
// key its kid names. A *Rejected: ReasonBadRequest (not a JWS, no kid),
// ReasonUnknownKey (resolve does not know the kid), ReasonBadSignature; or
// resolve's own *wallet.Error as it is (EUNAVAILABLE: ask again later).
func Verify(jws string, resolve func(kid string) (crypto.PublicKey, error)) (Signed, error) {
	obj, err := jose.ParseSigned(jws, SignatureAlgorithms)
	if err != nil || len(obj.Signatures) != 1 {
		return Signed{}, reject(ReasonBadRequest, "not a compact JWS with one signature")
	}
	h := obj.Signatures[0].Protected
	if h.KeyID == "" {
		return Signed{}, reject(ReasonBadRequest, "the JWS names no kid")
	}
	key, err := resolve(h.KeyID)
	if err != nil {
		var r *Rejected
		if errors.As(err, &r) {
			return Signed{}, err
		}
		// The resolver's own failure (its store unavailable): not a
		// verdict on the message, which the caller must not refuse for it.
		if wallet.AsError(err) != nil {
			return Signed{}, err
		}
		return Signed{}, reject(ReasonUnknownKey, "key %s: %v", h.KeyID, err)
	}
	payload, err := obj.Verify(key)
	if err != nil {
		return Signed{}, reject(ReasonBadSignature, "signature of key %s does not verify", h.KeyID)
	}
	t, _ := h.ExtraHeaders[jose.HeaderType].(string)
	return Signed{Payload: payload, KID: h.KeyID, Typ: t}, nil
}

// Encrypt makes a compact JWE of plaintext for the recipient's public
// encryption key (ECDH-ES+A256KW, A256GCM), naming its kid.
func Encrypt(plaintext []byte, to jose.JSONWebKey, contentType string) (string, error) {
	enc, err := jose.NewEncrypter(ContentEncryption, jose.Recipient{Algorithm: KeyAlgorithm, Key: to.Key, KeyID: to.KeyID},
		(&jose.EncrypterOptions{}).WithContentType(jose.ContentType(contentType)))
	if err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "exchange: encrypter")
	}
	obj, err := enc.Encrypt(plaintext)
	if err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "exchange: encrypt")
	}
	return obj.CompactSerialize()
}

// Decrypt opens a compact JWE made by Encrypt with the private key its kid
// names. A *Rejected: ReasonBadRequest (not a JWE of the pinned
// algorithms), ReasonDecryption (no such key here, or it does not open).
func Decrypt(jwe string, key func(kid string) (*ecdsa.PrivateKey, bool)) ([]byte, string, error) {
	obj, err := jose.ParseEncrypted(jwe, []jose.KeyAlgorithm{KeyAlgorithm}, []jose.ContentEncryption{ContentEncryption})
	if err != nil {
		return nil, "", reject(ReasonBadRequest, "not a compact JWE with ECDH-ES+A256KW and A256GCM")
	}
	kid := obj.Header.KeyID
	priv, ok := key(kid)
	if !ok {
		return nil, kid, reject(ReasonDecryption, "not encrypted to a key of the receiver (kid %q)", kid)
	}
	b, err := obj.Decrypt(priv)
	if err != nil {
		return nil, kid, reject(ReasonDecryption, "the JWE does not open with key %s", kid)
	}
	return b, kid, nil
}

// IsJWE tells a compact JWE (five parts) from a compact JWS (three).
func IsJWE(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			n++
		}
	}
	return n == 4
}
