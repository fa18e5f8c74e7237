package duplicates

import (
	"context"

	"github.com/golang-jwt/jwt/v5"

	"github.com/qujat/qujat/staff"
	"github.com/qujat/qujat/wallet"
)

// Verification reasons beside the documents' (wallet.Reason…).
const (
	ReasonPurged   = "purged"
	ReasonTampered = "digest_mismatch"
)

// Signer is who certified a duplicate.
type Signer = staff.Signer

// Verification is the answer to a duplicate's JWS.
type Verification struct {
	Valid       bool    `json:"valid"`
	Kind        string  `json:"kind"` // "duplicate"
	DocumentID  string  `json:"document_id,omitempty"`
	Status      string  `json:"status,omitempty"`
	Signer      *Signer `json:"signer,omitempty"`
	CertifiedAt string  `json:"certified_at,omitempty"`
	SHA256      string  `json:"sha256,omitempty"`
	Reason      string  `json:"reason,omitempty"`
}

// IsDuplicateJWS reports whether a compact JWS says it is a duplicate's
// certification (its typ header); the signature is not checked.
func IsDuplicateJWS(jws string) bool {
	t, _, err := jwt.NewParser().ParseUnverified(jws, &Claims{})
	if err != nil {
		return false
	}
	typ, _ := t.Header["typ"].(string)
	return typ == JWSType
}

// Verify checks a duplicate's JWS: the signature by a published staff key,
// that the key is the one of the staff member the JWS names, and the
// duplicate's state now. A purged duplicate is not valid any more (reason
// purged); a stored digest that differs from the signed one is
// digest_mismatch. It never fails: every problem is a reason.
func (s *Service) Verify(ctx context.Context, jws string) Verification {
	out := Verification{Kind: "duplicate"}
	var claims Claims
	key, reason := s.Staff.ParseSigned(jws, JWSType, &claims)
	if reason != "" {
		out.Reason = reason
		return out
	}
	dup := claims.Duplicate
	if key.Issuer != dup.Operator.ID || claims.ID != dup.ID {
		out.Reason = wallet.ReasonBadSignature
		return out
	}
	out.DocumentID, out.SHA256 = dup.ID, dup.SHA256
	out.Signer = &Signer{Kind: wallet.ActorStaff, ID: dup.Operator.ID, Name: dup.Operator.Name, Organisation: dup.Centre.Name}
	if claims.IssuedAt != nil {
		out.CertifiedAt = claims.IssuedAt.UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	reads := s.Published
	if reads == nil {
		reads = s.Store
	}
	d, err := reads.Duplicate(ctx, dup.ID)
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
		out.Reason = wallet.ReasonUnknownDocument
		return out
	case err != nil:
		out.Reason = wallet.ReasonStatusUnavailable
		return out
	}
	out.Status = d.Status
	switch {
	case d.Status == wallet.DuplicatePurged:
		out.Reason = ReasonPurged
	case d.SHA256 != dup.SHA256 || d.Status != wallet.DuplicateCertified || d.JWS != jws:
		out.Reason = ReasonTampered
	default:
		out.Valid = true
	}
	return out
}
