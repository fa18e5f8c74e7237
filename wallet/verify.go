package wallet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Reasons a Verifier gives for an invalid document. They are stable: the
// public API returns them.
const (
	ReasonMalformed    = "malformed"     // not a signed document of this service
	ReasonBadSignature = "bad_signature" // the signature does not verify with the named key
	ReasonUnknownKey   = "unknown_key"   // no published key has that kid
	ReasonExpired      = "expired"       // exp has passed, or the document is expired now
	ReasonRevoked      = "revoked"       // the document is revoked, now or in the signed content
	// ReasonUnknownDocument: genuinely signed, but this service keeps no such
	// document, so its current status cannot be vouched for.
	ReasonUnknownDocument = "unknown_document"
	// ReasonStatusUnavailable: genuinely signed, but the current status could
	// not be read (the store is down); try again.
	ReasonStatusUnavailable = "status_unavailable"
	// ReasonKeyCompromised: signed with a key declared compromised at or
	// before the time the document says it was signed.
	ReasonKeyCompromised = "key_compromised"
)

// VerifyResult is the verdict on a signed document. Issuer, DocumentID and
// Version are set only once the signature has verified: unverified claims
// are never echoed.
type VerifyResult struct {
	Valid      bool   `json:"valid"`
	Issuer     string `json:"issuer,omitempty"`
	DocumentID string `json:"document_id,omitempty"`
	Version    int    `json:"version,omitempty"`
	// Status is the document's current status (valid, expired, revoked) as
	// the service knows it, or as the signed content says when the Verifier
	// has no Status function.
	Status string `json:"status,omitempty"`
	Reason string `json:"reason"` // one of the Reason constants, "" when valid
	// Superseded is set when a newer version of the document exists. Such a
	// document stays valid: it was genuinely issued and is not revoked or
	// expired; a verifier who needs the latest content asks its owner.
	Superseded bool `json:"superseded,omitempty"`
}

// Verifier checks signed documents against the published keys and their
// current status.
type Verifier struct {
	Keys KeyRing
	// Status returns the current status of a document (see
	// DocumentService.Status); ENOTFOUND if there is none. If nil, the
	// status is read from the signed content alone.
	Status func(ctx context.Context, documentID string) (string, error)
	// CurrentVersion, if set, returns the latest version number of a
	// document (see DocumentService.CurrentVersion), to report Superseded.
	CurrentVersion func(ctx context.Context, documentID string) (int, error)
	Now            func() time.Time
	// Compromised, if set, returns when a kid was declared compromised
	// (nil: it is not); a document it signed at or after then is refused.
	Compromised func(ctx context.Context, kid string) (*time.Time, error)
}

var (
	errUnknownKey  = errors.New("unknown key")
	errKeyMismatch = errors.New("key does not fit the header or the issuer")
	errNotDocument = errors.New("not a signed document")
)

// Verify checks jws, a compact JWS made by SignDocument. Only EdDSA and
// ES256 are accepted, and only with a key published for that algorithm and
// for the issuer named in the claims. A signature that verifies is then
// judged on status: revoked (signed content or current status) before
// expired (exp passed or current status expired).
func (v *Verifier) Verify(ctx context.Context, jws string) VerifyResult {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	var (
		claims  documentClaims
		usedKID string
	)
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{AlgEdDSA, AlgES256}),
		jwt.WithStrictDecoding(),      // one canonical encoding: no malleable last characters
		jwt.WithoutClaimsValidation(), // judged below, with v.Now
	)
	_, err := parser.ParseWithClaims(jws, &claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != DocumentJWSType {
			return nil, errNotDocument
		}
		kid, _ := t.Header["kid"].(string)
		usedKID = kid
		k, ok := v.Keys.PublicKey(kid)
		if !ok {
			return nil, errUnknownKey
		}
		if k.Alg != t.Method.Alg() || k.Issuer != claims.Issuer {
			return nil, errKeyMismatch
		}
		return k.Key, nil
	})
	switch {
	case err == nil:
	case errors.Is(err, errUnknownKey):
		return VerifyResult{Reason: ReasonUnknownKey}
	case errors.Is(err, errKeyMismatch), errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return VerifyResult{Reason: ReasonBadSignature}
	default:
		return VerifyResult{Reason: ReasonMalformed}
	}

	// The signature holds. The claims must agree with the content they carry.
	c, ok := claims.content()
	if !ok {
		return VerifyResult{Reason: ReasonMalformed}
	}
	res := VerifyResult{Issuer: c.Issuer, DocumentID: c.ID(), Version: claims.Ver, Status: c.Status(now)}
	if v.Compromised != nil {
		at, err := v.Compromised(ctx, usedKID)
		if err != nil {
			res.Status, res.Reason = "", ReasonStatusUnavailable
			return res
		}
		if at != nil && (claims.IssuedAt == nil || !claims.IssuedAt.Time.Before(*at)) {
			res.Reason = ReasonKeyCompromised
			return res
		}
	}
	if v.Status != nil {
		st, err := v.Status(ctx, res.DocumentID)
		switch {
		case err == nil:
			res.Status = st
		case IsCode(err, ENOTFOUND):
			res.Status = ""
			res.Reason = ReasonUnknownDocument
			return res
		default:
			res.Status = ""
			res.Reason = ReasonStatusUnavailable
			return res
		}
	}
	switch {
	case c.Revoked || res.Status == StatusRevoked:
		res.Reason = ReasonRevoked
		return res
	case !now.Before(claims.ExpiresAt.Time) || res.Status == StatusExpired:
		res.Reason = ReasonExpired
		return res
	}
	if v.CurrentVersion != nil {
		if cur, err := v.CurrentVersion(ctx, res.DocumentID); err == nil && cur > claims.Ver {
			res.Superseded = true
		}
	}
	res.Valid = true
	return res
}

// content decodes the doc claim and checks that it is canonical and that
// the registered claims agree with it; ok is false otherwise.
func (c *documentClaims) content() (DocumentContent, bool) {
	if c.ExpiresAt == nil || c.Ver < 1 {
		return DocumentContent{}, false
	}
	dec := json.NewDecoder(bytes.NewReader(c.Doc))
	dec.DisallowUnknownFields()
	var doc DocumentContent
	if err := dec.Decode(&doc); err != nil {
		return DocumentContent{}, false
	}
	if canon, err := doc.Canonical(); err != nil || !bytes.Equal(canon, c.Doc) {
		return DocumentContent{}, false
	}
	if c.Issuer != doc.Issuer || c.Subject != string(doc.SubjectIIN) ||
		c.ID != doc.ID()+":"+strconv.Itoa(c.Ver) {
		return DocumentContent{}, false
	}
	return doc, true
}
