package wallet

import (
	"context"
	"time"
)

// Staff roles: an operator acts for a service centre, an official for a
// state body.
const (
	RoleOperator = "operator"
	RoleOfficial = "official"
)

// StaffMember is a person who acts for an organisation (a client of kind
// service_centre or gov) and signs what they certify with a key of their
// own. Staff are settings, not history: registering or disabling one is
// an administrator's act, written by plain Store methods; what they certify
// goes through Change.
type StaffMember struct {
	ID             string // "stf_…"
	OrganisationID string // the client they act for
	IIN            IIN    // their phone is the one the registry lists for it
	Name           string
	Role           string // RoleOperator or RoleOfficial
	KeyID          string // kid of their signing key
	CreatedAt      time.Time
	DisabledAt     *time.Time
}

// StaffStore keeps staff members.
type StaffStore interface {
	// CreateStaff stores a new staff member. ECONFLICT if the id exists or
	// the IIN already belongs to an active staff member.
	CreateStaff(ctx context.Context, m StaffMember) error
	// StaffMember returns one staff member, disabled or not. ENOTFOUND.
	StaffMember(ctx context.Context, id string) (StaffMember, error)
	// ActiveStaffByIIN returns the active staff member with that IIN.
	// ENOTFOUND if there is none.
	ActiveStaffByIIN(ctx context.Context, iin IIN) (StaffMember, error)
	// Staff returns every staff member, oldest first.
	Staff(ctx context.Context) ([]StaffMember, error)
	// DisableStaff sets DisabledAt if unset. ENOTFOUND.
	DisableStaff(ctx context.Context, id string, at time.Time) error
}
