package exchange

import (
	"crypto"
	"encoding/json"
	"strings"
	"time"

	"github.com/qujat/qujat/wallet"
)

// TypResult is the typ of an agency's signature over its result document:
// the document the citizen keeps in their wallet and anyone can check with
// the agency's published key, apart from the message that carried it.
const TypResult = "qujat-result+jws"

// ResultClaims is what an agency signs about its result: whose it is, for
// which case, and the SHA-256 of the document's bytes.
type ResultClaims struct {
	Type         string            `json:"type"` // "result"
	Issuer       string            `json:"iss"`  // the agency's organisation id
	CaseID       string            `json:"case_id"`
	Holder       string            `json:"holder"` // the applicant's IIN
	DocumentType string            `json:"document_type,omitempty"`
	Number       string            `json:"number"`
	Title        string            `json:"title"`
	ContentType  string            `json:"content_type"`
	SHA256       string            `json:"sha256"`
	Fields       map[string]string `json:"fields,omitempty"`
	IssuedAt     time.Time         `json:"issued_at"`
	ValidUntil   *time.Time        `json:"valid_until,omitempty"`
	// Registry and Record name the record of a registry that Qujat hosts
	// for the agency, when the service's result is that record (published
	// by the agency's official): the citizen's wallet holds the record.
	Registry string `json:"registry,omitempty"`
	Record   string `json:"record,omitempty"`
}

// SignResult signs the claims with the agency's key (typ TypResult).
func SignResult(c ResultClaims, key wallet.IssuerKey) (string, error) {
	c.Type = "result"
	b, err := json.Marshal(c)
	if err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "exchange: result claims")
	}
	return Sign(b, key, TypResult)
}

// IsResultJWS reports whether jws is a compact JWS whose header says it is
// an agency's result (not verified).
func IsResultJWS(jws string) bool {
	if strings.Count(jws, ".") != 2 {
		return false
	}
	_, typ, err := HeaderKID(jws)
	return err == nil && typ == TypResult
}

// ReadResult checks a result signature with resolve and reads its claims;
// it returns the kid that signed. A *Rejected: ReasonBadRequest for
// anything that is not a complete result signature.
func ReadResult(jws string, resolve func(kid string) (crypto.PublicKey, error)) (ResultClaims, string, error) {
	s, err := Verify(jws, resolve)
	if err != nil {
		return ResultClaims{}, "", err
	}
	if s.Typ != TypResult {
		return ResultClaims{}, s.KID, reject(ReasonBadRequest, "not a result signature (typ %q)", s.Typ)
	}
	var c ResultClaims
	if err := strictJSON(s.Payload, &c); err != nil || c.Type != "result" || c.Issuer == "" || c.CaseID == "" ||
		c.Holder == "" || c.Number == "" || c.Title == "" || c.SHA256 == "" || c.IssuedAt.IsZero() {
		return ResultClaims{}, s.KID, reject(ReasonBadRequest, "a result signature names iss, case_id, holder, number, title, sha256 and issued_at")
	}
	return c, s.KID, nil
}
