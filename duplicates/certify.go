package duplicates

import (
	"context"
	"regexp"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/qujat/qujat/staff"
	"github.com/qujat/qujat/wallet"
)

// JWSType is the "typ" header of a duplicate's certification.
const JWSType = "qujat-duplicate+jwt"

// Party names a staff member or an organisation in a certification.
type Party struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Certified is what a duplicate's JWS certifies: the scan's digest and the
// paper document's metadata, who certified it and where.
type Certified struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	Number      string `json:"number"`
	IssuedOn    string `json:"issued_on"`
	IssuedBy    string `json:"issued_by"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Operator    Party  `json:"operator"`
	Centre      Party  `json:"centre"`
	RetainUntil string `json:"retain_until"`
}

// Claims are the claims of a duplicate's JWS: iss the centre, sub the
// owner's IIN, jti the duplicate's id, iat the certification, and dup.
type Claims struct {
	jwt.RegisteredClaims
	Duplicate Certified `json:"dup"`
}

var sixDigits = regexp.MustCompile(`^[0-9]{6}$`)

// Confirm checks the code the owner told the operator and certifies the
// duplicate: a JWS signed with the operator's own key over the scan's
// SHA-256 and the metadata, naming the operator and the centre, kept until
// retain_until (three calendar years, or Retention). The certification and
// the owner's duplicate_certified event are one change.
//
// EFORBIDDEN if the caller is not the operator who uploaded it; ENOTFOUND
// if there is no such duplicate at the caller's centre; EINVALID for a code
// that is not six digits; EINVALIDCODE with AttemptsLeft for a wrong code;
// EEXPIRED once the code expired or three wrong codes killed it;
// ECONFLICT if it is certified already; EUNAVAILABLE; EINTERNAL if it
// cannot be signed.
func (s *Service) Confirm(ctx context.Context, by staff.Acting, id, code string) (wallet.Duplicate, error) {
	if err := operatorOf(by); err != nil {
		return wallet.Duplicate{}, err
	}
	d, err := s.Store.Duplicate(ctx, id)
	if err != nil {
		return wallet.Duplicate{}, err
	}
	if d.CentreID != by.Organisation.ID {
		return wallet.Duplicate{}, wallet.Errorf(wallet.ENOTFOUND, "duplicate: not found")
	}
	if d.OperatorID != by.Member.ID {
		return wallet.Duplicate{}, wallet.Errorf(wallet.EFORBIDDEN, "only the operator who made the duplicate certifies it")
	}
	if d.Status != wallet.DuplicateAwaitingConsent {
		return wallet.Duplicate{}, wallet.Errorf(wallet.ECONFLICT, "the duplicate is %s", d.Status)
	}
	if !sixDigits.MatchString(code) {
		return wallet.Duplicate{}, wallet.Errorf(wallet.EINVALID, "code must be six digits")
	}
	subject, err := s.OTP.Verify(ctx, otpPurpose, d.ChallengeID, code)
	if err != nil {
		return wallet.Duplicate{}, err
	}
	if subject != d.ID {
		return wallet.Duplicate{}, wallet.Errorf(wallet.EINTERNAL, "the consent code belongs to another duplicate")
	}
	key, err := s.Staff.Signer(by.Member.ID)
	if err != nil {
		return wallet.Duplicate{}, wallet.Wrap(wallet.EINTERNAL, err, "the operator has no signing key")
	}
	at := s.now()
	until := s.retainUntil(at)
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: by.Organisation.ID, Subject: string(d.OwnerIIN), ID: d.ID, IssuedAt: jwt.NewNumericDate(at),
		},
		Duplicate: Certified{
			ID: d.ID, Type: d.Type, Number: d.Number, IssuedOn: d.IssuedOn, IssuedBy: d.IssuedBy, SHA256: d.SHA256,
			ContentType: d.ContentType, Size: d.Size,
			Operator:    Party{ID: by.Member.ID, Name: by.Member.Name},
			Centre:      Party{ID: by.Organisation.ID, Name: by.Organisation.Name},
			RetainUntil: until.Format(time.RFC3339),
		},
	}
	jws, err := wallet.SignJWS(key, JWSType, claims)
	if err != nil {
		return wallet.Duplicate{}, err
	}
	certified, err := s.event(wallet.EventDuplicateCertified, d, at)
	if err != nil {
		return wallet.Duplicate{}, err
	}
	certified.Details["operator"] = by.Member.ID
	change := wallet.Change{
		Ops:    []wallet.Op{wallet.CertifyDuplicate{ID: d.ID, At: at, RetainUntil: until, JWS: jws}},
		Events: []wallet.Event{certified},
	}
	if _, err := s.Changes.Commit(ctx, change); err != nil {
		return wallet.Duplicate{}, err
	}
	d.Status, d.CertifiedAt, d.RetainUntil, d.JWS = wallet.DuplicateCertified, &at, &until, jws
	return d, nil
}

// retainUntil is the end of a duplicate's retention when certified at at.
func (s *Service) retainUntil(at time.Time) time.Time {
	if s.Retention > 0 {
		return at.Add(s.Retention)
	}
	return at.AddDate(DefaultRetentionYears, 0, 0)
}

// OfCentre returns the duplicates made at the caller's centre, of owner if
// set, newest first: metadata only. EFORBIDDEN if the caller is not an
// operator of a service centre; EINVALID for a bad IIN; EUNAVAILABLE.
func (s *Service) OfCentre(ctx context.Context, by staff.Acting, owner wallet.IIN) ([]wallet.Duplicate, error) {
	if err := operatorOf(by); err != nil {
		return nil, err
	}
	if owner != "" {
		iin, err := wallet.ParseIIN(string(owner))
		if err != nil {
			return nil, err
		}
		owner = iin
	}
	return s.Store.DuplicatesOfCentre(ctx, by.Organisation.ID, owner)
}
