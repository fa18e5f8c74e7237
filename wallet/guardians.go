package wallet

import (
	"context"
	"slices"
	"time"
)

// Guardianship decides, at request time, who may act for whom: a citizen
// for themselves, and a legal representative for a minor whom the registry
// lists as theirs, until the minor's 18th birthday by the service's clock.
// Nothing is stored, so access ends on that birthday with no job to run.
type Guardianship struct {
	Directory Directory
	Now       func() time.Time
}

// MayActFor returns nil if caller may act for subject. It returns ENOTFOUND
// otherwise (never revealing whether subject exists), EUNAVAILABLE if the
// registry cannot be reached.
func (g Guardianship) MayActFor(ctx context.Context, caller, subject IIN) error {
	if caller == subject {
		return nil
	}
	return g.IsGuardianOf(ctx, caller, subject)
}

// IsGuardianOf returns nil if guardian legally represents ward today and
// ward is a minor. ENOTFOUND otherwise; EUNAVAILABLE as above.
func (g Guardianship) IsGuardianOf(ctx context.Context, guardian, ward IIN) error {
	if guardian == ward {
		return Errorf(ENOTFOUND, "no such ward")
	}
	guardians, err := g.Directory.Guardians(ctx, ward)
	if err != nil {
		if IsCode(err, ENOTFOUND) {
			return Errorf(ENOTFOUND, "no such ward")
		}
		return err
	}
	if !slices.Contains(guardians, guardian) {
		return Errorf(ENOTFOUND, "no such ward")
	}
	w, err := g.Directory.Citizen(ctx, ward)
	if err != nil {
		if IsCode(err, ENOTFOUND) {
			return Errorf(ENOTFOUND, "no such ward")
		}
		return err
	}
	now := time.Now()
	if g.Now != nil {
		now = g.Now()
	}
	if !IsMinor(w.BirthDate, now) {
		return Errorf(ENOTFOUND, "no such ward")
	}
	return nil
}

// AuthorizeShare is the check a share makes before it releases anything:
// a share a guardian opened stays good only while the guardian may still
// act for the owner. It returns EEXPIRED otherwise.
func (g Guardianship) AuthorizeShare(ctx context.Context, sh Share) error {
	if sh.CreatedBy == "" || sh.CreatedBy == sh.OwnerIIN {
		return nil
	}
	err := g.IsGuardianOf(ctx, sh.CreatedBy, sh.OwnerIIN)
	if IsCode(err, ENOTFOUND) {
		return Errorf(EEXPIRED, "share expired, used up or revoked")
	}
	return err
}
