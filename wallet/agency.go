package wallet

import (
	"context"
	"time"
)

// Uses of an agency's or a centre's exchange key (JWK "use").
const (
	KeyUseSig = "sig" // verifies what the holder signs
	KeyUseEnc = "enc" // what is sent to the holder is encrypted to it
)

// Agency is a state body's system that takes cases from service centres
// over the exchange protocol: where to send packages, its public keys, and
// the zone and production calendar that fix a package's day of receipt.
// Agencies are settings (registered by an administrator), written by plain
// Store methods; what passes between a centre and an agency goes through
// Change.
type Agency struct {
	OrganisationID string // the agency's client id (kind gov)
	Endpoint       string // URL that takes the centre's messages
	TimeZone       string // IANA zone of the agency
	Calendar       string // production calendar code (kz, ru)
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// AgencyKey is one public key an agency registered. A new registration makes
// its keys current and retires the agency's earlier keys of the same use
// (they still verify what they signed before); a compromised key verifies
// nothing signed at or after CompromisedAt.
type AgencyKey struct {
	KID            string
	OrganisationID string
	Use            string // KeyUseSig or KeyUseEnc
	JWK            string // the public JWK exactly as registered
	CreatedAt      time.Time
	RetiredAt      *time.Time
	CompromisedAt  *time.Time
}

// AgencyStore keeps agencies and their keys.
type AgencyStore interface {
	// RegisterAgency creates the agency or replaces its endpoint, zone and
	// calendar (CreatedAt of an existing one stays), and adds keys: each
	// becomes current for its use and the agency's other keys of that use
	// are retired at a.UpdatedAt. A kid already registered with the same JWK
	// for this agency stays as it is (registering twice is harmless).
	// ENOTFOUND if the organisation is not a client; ECONFLICT if a kid is
	// registered with another JWK or for another agency.
	RegisterAgency(ctx context.Context, a Agency, keys []AgencyKey) error
	// Agency returns one agency. ENOTFOUND.
	Agency(ctx context.Context, organisationID string) (Agency, error)
	// Agencies returns every agency, oldest first.
	Agencies(ctx context.Context) ([]Agency, error)
	// AgencyKeys returns the agency's keys, oldest first.
	AgencyKeys(ctx context.Context, organisationID string) ([]AgencyKey, error)
	// AgencyKey returns the key with that kid. ENOTFOUND.
	AgencyKey(ctx context.Context, kid string) (AgencyKey, error)
	// MarkAgencyKeyCompromised sets CompromisedAt if unset (the earliest
	// time said stays). ENOTFOUND.
	MarkAgencyKeyCompromised(ctx context.Context, kid string, at time.Time) error
}
