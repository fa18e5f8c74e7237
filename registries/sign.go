package registries

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/qujat/qujat/staff"
	"github.com/qujat/qujat/wallet"
)

// JWSType is the "typ" header of a hosted record's signed version.
const JWSType = "qujat-registry-record+jwt"

// Party names a staff member or an organisation.
type Party struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// RecordHolder is who holds a record, as signed.
type RecordHolder struct {
	Kind string `json:"kind"` // "iin" or "bin"
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Content is what a signed version says: its canonical JSON (encoding/json
// of this struct: fields in this order, map keys sorted, times in UTC) is
// the version's Content, the "rec" claim of its JWS, and what its hash
// covers with the JWS and the hash before.
type Content struct {
	Registry     string            `json:"registry"`
	RegistryName string            `json:"registry_name"`
	Organisation Party             `json:"organisation"`
	DocumentType string            `json:"document_type"`
	Number       string            `json:"number"`
	Version      int               `json:"version"`
	Status       string            `json:"status"` // published or revoked
	Holder       RecordHolder      `json:"holder"`
	Fields       map[string]string `json:"fields"`
	ValidUntil   *time.Time        `json:"valid_until"`
	Reason       string            `json:"reason,omitempty"`
	PrevHash     string            `json:"prev_hash"`
	SignedBy     Party             `json:"signed_by"`
	SignedAt     time.Time         `json:"signed_at"`
}

// Claims are a signed version's JWS claims: iss the organisation, sub the
// holder's IIN or BIN, jti "{code}/{number}:{version}", iat the signing.
type Claims struct {
	jwt.RegisteredClaims
	Record Content `json:"rec"`
}

// signed signs v (a draft, or a new revocation) as status with the
// official's key, after the signed versions in versions.
func (s *Service) signed(by staff.Acting, reg wallet.Registry, rec wallet.RegistryRecord, versions []wallet.RegistryVersion,
	v wallet.RegistryVersion, status string) (wallet.RegistryVersion, error) {
	prev := ""
	for _, p := range versions {
		if p.Signed() && p.Version < v.Version {
			prev = p.Hash
		}
	}
	key, err := s.Staff.Signer(by.Member.ID)
	if err != nil {
		return wallet.RegistryVersion{}, wallet.Wrap(wallet.EINTERNAL, err, "the official has no signing key")
	}
	at := s.now().Truncate(time.Second)
	c := Content{
		Registry: reg.Code, RegistryName: reg.Name, Organisation: Party{ID: by.Organisation.ID, Name: by.Organisation.Name},
		DocumentType: string(reg.DocumentType), Number: rec.Number, Version: v.Version, Status: status,
		Holder: RecordHolder{Kind: rec.HolderKind, ID: rec.HolderID, Name: rec.HolderName},
		Fields: v.Fields, ValidUntil: v.ValidUntil, Reason: v.Reason, PrevHash: prev,
		SignedBy: Party{ID: by.Member.ID, Name: by.Member.Name}, SignedAt: at,
	}
	if c.Fields == nil {
		c.Fields = map[string]string{}
	}
	content, err := json.Marshal(c)
	if err != nil {
		return wallet.RegistryVersion{}, wallet.Wrap(wallet.EINTERNAL, err, "cannot encode the record")
	}
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: reg.OrganisationID, Subject: rec.HolderID,
			ID: fmt.Sprintf("%s/%s:%d", reg.Code, rec.Number, v.Version), IssuedAt: jwt.NewNumericDate(at)},
		Record: c,
	}
	jws, err := wallet.SignJWS(key, JWSType, claims)
	if err != nil {
		return wallet.RegistryVersion{}, err
	}
	v.Status, v.SignedBy, v.SignerName, v.SignedAt = status, by.Member.ID, by.Member.Name, &at
	v.Content, v.JWS, v.PrevHash = content, jws, prev
	v.Hash = wallet.VersionHash(prev, content, jws)
	return v, nil
}

// Verification reasons beside the documents' (wallet.Reason…).
const (
	ReasonSuperseded = "superseded"
	ReasonTampered   = "hash_mismatch"
)

// Signer is who signed a record's version.
type Signer = staff.Signer

// Verification is the answer to a record version's JWS.
type Verification struct {
	Valid          bool    `json:"valid"`
	Kind           string  `json:"kind"` // "registry_record"
	DocumentID     string  `json:"document_id,omitempty"`
	Issuer         string  `json:"issuer,omitempty"`
	Registry       string  `json:"registry,omitempty"`
	Number         string  `json:"number,omitempty"`
	Version        int     `json:"version,omitempty"`
	CurrentVersion int     `json:"current_version,omitempty"`
	Status         string  `json:"status,omitempty"` // of the record now, or superseded for an old version
	Signer         *Signer `json:"signer,omitempty"`
	SignedAt       string  `json:"signed_at,omitempty"`
	URL            string  `json:"url,omitempty"`
	Reason         string  `json:"reason,omitempty"`
}

// IsRecordJWS reports whether a compact JWS says it is a hosted record's
// version (its typ header); the signature is not checked.
func IsRecordJWS(jws string) bool {
	t, _, err := jwt.NewParser().ParseUnverified(jws, &Claims{})
	if err != nil {
		return false
	}
	typ, _ := t.Header["typ"].(string)
	return typ == JWSType
}

// parse checks a record JWS's signature with the published key of the
// staff member it names. It returns a reason when it does not verify.
func (s *Service) parse(jws string) (Claims, string) {
	var claims Claims
	key, reason := s.Staff.ParseSigned(jws, JWSType, &claims)
	if reason != "" {
		return claims, reason
	}
	if key.Issuer != claims.Record.SignedBy.ID {
		return claims, wallet.ReasonBadSignature
	}
	return claims, ""
}

// Verify checks a record version's JWS: the signature by the published key
// of the official it names, that the stored version is exactly what was
// signed, and the record's state now. Valid only for the current version
// of a record that is neither revoked nor expired; an older version is
// superseded (CurrentVersion and URL say where the current one is). It
// never fails: every problem is a reason.
func (s *Service) Verify(ctx context.Context, jws string) Verification {
	out := Verification{Kind: "registry_record"}
	claims, reason := s.parse(jws)
	if reason != "" {
		out.Reason = reason
		return out
	}
	c := claims.Record
	out.Registry, out.Number, out.Version = c.Registry, c.Number, c.Version
	out.Issuer = c.Organisation.Name
	out.Signer = &Signer{Kind: wallet.ActorStaff, ID: c.SignedBy.ID, Name: c.SignedBy.Name, Organisation: c.Organisation.Name}
	out.SignedAt = c.SignedAt.UTC().Format(time.RFC3339)
	if c.Holder.Kind == wallet.HolderCitizen {
		out.DocumentID = wallet.DocumentID(wallet.IIN(c.Holder.ID), wallet.DocumentType(c.DocumentType), c.Number)
	}
	reg, err := s.Store.Registry(ctx, c.Registry)
	if err != nil {
		out.Reason = lookupReason(err)
		return out
	}
	_, versions, err := s.Store.RegistryRecord(ctx, reg.Code, c.Number)
	if err != nil {
		out.Reason = lookupReason(err)
		return out
	}
	out.URL = s.PublicURL + RecordPath(reg.Code, c.Number)
	var this *wallet.RegistryVersion
	for i := range versions {
		if versions[i].Version == c.Version {
			this = &versions[i]
		}
	}
	if this == nil || !this.Signed() || this.JWS != jws || this.Hash != wallet.VersionHash(this.PrevHash, this.Content, this.JWS) {
		out.Reason = ReasonTampered
		return out
	}
	if stored, _ := json.Marshal(c); !bytes.Equal(stored, this.Content) {
		out.Reason = ReasonTampered
		return out
	}
	st := stateOf(versions, s.now())
	out.CurrentVersion, out.Status = st.current.Version, st.status
	switch {
	case this.Version != st.current.Version:
		out.Status, out.Reason = wallet.RegistrySuperseded, ReasonSuperseded
		if st.status == wallet.StatusRevoked {
			out.Status, out.Reason = wallet.StatusRevoked, wallet.ReasonRevoked
		}
	case st.status == wallet.StatusRevoked:
		out.Reason = wallet.ReasonRevoked
	case st.status == wallet.StatusExpired:
		out.Reason = wallet.ReasonExpired
	default:
		out.Valid = true
	}
	return out
}

func lookupReason(err error) string {
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return wallet.ReasonUnknownDocument
	}
	return wallet.ReasonStatusUnavailable
}

// RecordPath is the path of a record's published page.
func RecordPath(code, number string) string { return "/r/" + code + "/" + number }

// VersionPath is the path of one published version's page.
func VersionPath(code, number string, version int) string {
	return fmt.Sprintf("/r/%s/%s/versions/%d", code, number, version)
}

// ClaimsOf returns the record a hosted record's JWS says it signs, without
// checking the signature (Verify does): for showing a wallet document
// that came from a hosted registry.
func ClaimsOf(jws string) (Content, bool) {
	var c Claims
	t, _, err := jwt.NewParser().ParseUnverified(jws, &c)
	if err != nil {
		return Content{}, false
	}
	if typ, _ := t.Header["typ"].(string); typ != JWSType {
		return Content{}, false
	}
	return c.Record, true
}
