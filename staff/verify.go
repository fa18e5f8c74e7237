package staff

import (
	"errors"

	"github.com/golang-jwt/jwt/v5"

	"github.com/qujat/qujat/wallet"
)

// PublicKey returns a staff key, current or retired, by kid, reading the
// key ring again for a key made by another process (`qujat staff create`,
// `qujat keys compromise`).
func (s *Service) PublicKey(kid string) (wallet.PublicKey, bool) {
	if s.Keys == nil || kid == "" {
		return wallet.PublicKey{}, false
	}
	if k, ok := s.Keys.PublicKey(kid); ok {
		return k, true
	}
	if err := s.Keys.Reload(); err != nil {
		return wallet.PublicKey{}, false
	}
	return s.Keys.PublicKey(kid)
}

var errUnknownKey = errors.New("unknown staff key")

// Signer is the staff member who signed an act, as a verification names
// them.
type Signer struct {
	Kind         string `json:"kind"` // "staff"
	ID           string `json:"id"`
	Name         string `json:"name"`
	Organisation string `json:"organisation"`
}

// ParseSigned checks a JWS that a staff member signed with their own key:
// its typ must be typ, its algorithm one the keys use (pinned: EdDSA,
// ES256) and the key's, its signature the published key's of its kid. It
// decodes the payload into claims and returns the key that signed, or the
// reason it does not verify (wallet.ReasonUnknownKey, ReasonBadSignature,
// ReasonMalformed). Whose key it must be is the caller's check.
func (s *Service) ParseSigned(jws, typ string, claims jwt.Claims) (wallet.PublicKey, string) {
	parser := jwt.NewParser(jwt.WithValidMethods([]string{wallet.AlgEdDSA, wallet.AlgES256}), jwt.WithStrictDecoding(), jwt.WithoutClaimsValidation())
	var key wallet.PublicKey
	_, err := parser.ParseWithClaims(jws, claims, func(t *jwt.Token) (any, error) {
		if got, _ := t.Header["typ"].(string); got != typ {
			return nil, errUnknownKey
		}
		kid, _ := t.Header["kid"].(string)
		k, ok := s.PublicKey(kid)
		if !ok || k.Alg != t.Method.Alg() {
			return nil, errUnknownKey
		}
		key = k
		return k.Key, nil
	})
	switch {
	case err == nil:
		return key, ""
	case errors.Is(err, errUnknownKey):
		return key, wallet.ReasonUnknownKey
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return key, wallet.ReasonBadSignature
	default:
		return key, wallet.ReasonMalformed
	}
}
