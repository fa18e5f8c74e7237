// Package staff registers the people who act for an organisation (operators
// of a service centre, officials of a state body), gives each a signing key
// of their own, signs them in with a one-time code to their registered
// phone and publishes their public keys. Staff records are settings written
// by an administrator (`qujat staff`); what staff certify goes through
// wallet.Change in the packages that certify it.
package staff

import (
	"context"
	"crypto/rand"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/outbox"
	"github.com/qujat/qujat/wallet"
)

// Keys keeps the staff's signing keys, one key ring entry per staff member
// (the "issuer" is the staff id). wallet/keyfiles.KeyRing is one; a
// hardware or cloud key service can take its place behind the same
// wallet.KeyRing (Signer gives a crypto.Signer).
type Keys interface {
	wallet.KeyRing
	// Rotate makes a new current key for owner and returns its kid.
	Rotate(owner, alg string) (string, error)
	// Reload reads keys another process added.
	Reload() error
}

// Tokens mints staff access tokens (api.TokenIssuer).
type Tokens interface {
	// IssueStaffToken returns an access token of the staff audience for
	// the staff member and how long it is valid. EINTERNAL.
	IssueStaffToken(staffID string) (string, time.Duration, error)
}

// otpPurpose is the purpose of staff sign-in codes: a citizen's sign-in or
// consent code never signs a staff member in, nor the other way round.
const otpPurpose = "staff-signin"

// Codes a staff member's phone receives per hour for signing in.
const (
	CodesPerAddress = 3
	CodesPerPhone   = 5
)

// MaxName is the longest staff name, in characters.
const MaxName = 200

// Service registers staff and signs them in. Store, Keys and Hasher are
// required for registering; Directory, OTP, Outbox and Tokens for signing
// in. Now and Rand default to time.Now and crypto/rand.
type Service struct {
	Store wallet.Store
	// Published serves the staff list behind the published keys
	// (PublicKeys), which may lag (a replica); nil: Store.
	Published wallet.PublishedReads
	Keys      Keys
	Directory wallet.Directory
	OTP       *otp.Service
	Outbox    *outbox.Queue
	Tokens    Tokens
	Now       func() time.Time
	Rand      io.Reader
	// Language tells the language of the staff member's SMS.
	Language locale.OfCitizen
}

// roleKind is the organisation kind each role acts for.
var roleKind = map[string]string{
	wallet.RoleOperator: consent.KindServiceCentre,
	wallet.RoleOfficial: consent.KindGov,
}

// Create registers a staff member of the organisation and gives them a new
// signing key. An operator acts for a service centre, an official for a
// state body (client kind gov).
//
// EINVALID for a bad IIN, an empty, over-long or control-character name, an
// unknown role, an unknown or disabled organisation or one of the wrong
// kind; ECONFLICT if the IIN is already an active staff member's;
// EINTERNAL if the key cannot be made; EUNAVAILABLE.
func (s *Service) Create(ctx context.Context, organisationID string, iin wallet.IIN, name, role string) (wallet.StaffMember, error) {
	iin, err := wallet.ParseIIN(string(iin))
	if err != nil {
		return wallet.StaffMember{}, err
	}
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return wallet.StaffMember{}, wallet.Errorf(wallet.EINVALID, "name is required")
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxName:
		return wallet.StaffMember{}, wallet.Errorf(wallet.EINVALID, "name must be at most %d characters of UTF-8", MaxName)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return wallet.StaffMember{}, wallet.Errorf(wallet.EINVALID, "name must not contain control characters")
	}
	kind, ok := roleKind[role]
	if !ok {
		return wallet.StaffMember{}, wallet.Errorf(wallet.EINVALID, "role must be operator or official")
	}
	org, err := s.Store.Client(ctx, organisationID)
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
		return wallet.StaffMember{}, wallet.Errorf(wallet.EINVALID, "no organisation %q", organisationID)
	case err != nil:
		return wallet.StaffMember{}, err
	case org.DisabledAt != nil:
		return wallet.StaffMember{}, wallet.Errorf(wallet.EINVALID, "organisation %s is disabled", org.ID)
	case org.Kind != kind:
		return wallet.StaffMember{}, wallet.Errorf(wallet.EINVALID, "an %s acts for an organisation of kind %s, not %s", role, kind, org.Kind)
	}
	// Checked before a key is made, so that a refused registration leaves
	// no key behind; the store's unique index holds it under races.
	if _, err := s.Store.ActiveStaffByIIN(ctx, iin); err == nil {
		return wallet.StaffMember{}, wallet.Errorf(wallet.ECONFLICT, "this IIN is already an active staff member")
	} else if !wallet.IsCode(err, wallet.ENOTFOUND) {
		return wallet.StaffMember{}, err
	}
	if s.Keys == nil {
		return wallet.StaffMember{}, wallet.Errorf(wallet.EINTERNAL, "no staff key store")
	}
	id, err := wallet.NewID(s.rand(), "stf_")
	if err != nil {
		return wallet.StaffMember{}, err
	}
	kid, err := s.Keys.Rotate(id, "")
	if err != nil {
		return wallet.StaffMember{}, err
	}
	m := wallet.StaffMember{
		ID: id, OrganisationID: org.ID, IIN: iin, Name: name, Role: role, KeyID: kid, CreatedAt: s.now(),
	}
	if err := s.Store.CreateStaff(ctx, m); err != nil {
		return wallet.StaffMember{}, err
	}
	return m, nil
}

// List returns every staff member, oldest first. EUNAVAILABLE.
func (s *Service) List(ctx context.Context) ([]wallet.StaffMember, error) {
	return s.Store.Staff(ctx)
}

// Disable disables a staff member for good: they can no longer sign in,
// their tokens stop working and their key is published as retired (what
// they certified still verifies). Disabling twice is not an error.
// ENOTFOUND; EUNAVAILABLE.
func (s *Service) Disable(ctx context.Context, id string) error {
	return s.Store.DisableStaff(ctx, id, s.now())
}

// Acting is a staff member at work: who they are and the organisation they
// act for.
type Acting struct {
	Member       wallet.StaffMember
	Organisation wallet.Client // without SecretHash
}

// Active returns the staff member of a token, who must still be active and
// whose organisation must still be enabled, on every request (a token issued
// before they were disabled stops working at once). EUNAUTHORIZED
// otherwise; EUNAVAILABLE.
func (s *Service) Active(ctx context.Context, staffID string) (Acting, error) {
	unauthorized := wallet.Errorf(wallet.EUNAUTHORIZED, "invalid or expired access token")
	m, err := s.Store.StaffMember(ctx, staffID)
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
		return Acting{}, unauthorized
	case err != nil:
		return Acting{}, err
	case m.DisabledAt != nil:
		return Acting{}, unauthorized
	}
	org, err := s.Store.Client(ctx, m.OrganisationID)
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
		return Acting{}, unauthorized
	case err != nil:
		return Acting{}, err
	case org.DisabledAt != nil:
		return Acting{}, unauthorized
	}
	org.SecretHash = ""
	return Acting{Member: m, Organisation: org}, nil
}

// Signer returns the staff member's current signing key, reading the key
// store again if another process made it. ENOTFOUND if they have none;
// EINTERNAL.
func (s *Service) Signer(staffID string) (wallet.IssuerKey, error) {
	if s.Keys == nil {
		return wallet.IssuerKey{}, wallet.Errorf(wallet.ENOTFOUND, "no staff key store")
	}
	k, err := s.Keys.Signer(staffID)
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		if err := s.Keys.Reload(); err != nil {
			return wallet.IssuerKey{}, err
		}
		k, err = s.Keys.Signer(staffID)
	}
	return k, err
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func (s *Service) rand() io.Reader {
	if s.Rand == nil {
		return rand.Reader
	}
	return s.Rand
}
