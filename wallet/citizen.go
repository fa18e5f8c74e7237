package wallet

import (
	"context"
	"time"
)

// Citizen is a person as the population registry knows them.
type Citizen struct {
	IIN       IIN       `json:"iin"`
	Name      string    `json:"name"`
	Phone     string    `json:"phone"`      // E.164, the registered phone
	BirthDate time.Time `json:"birth_date"` // a date, midnight UTC
	// GuardianOf lists the minors this citizen legally represents, as the
	// registry's birth and guardianship records say.
	GuardianOf []IIN `json:"guardian_of"`
}

// Directory answers who a citizen is. The population registry is its source
// of truth; nothing a caller claims is trusted.
type Directory interface {
	// Citizen returns the citizen with that IIN. ENOTFOUND if unknown,
	// EUNAVAILABLE if the registry cannot be reached.
	Citizen(ctx context.Context, iin IIN) (Citizen, error)
	// Guardians returns the IINs of the legal representatives of iin
	// (empty for a person nobody represents). EUNAVAILABLE as above.
	Guardians(ctx context.Context, iin IIN) ([]IIN, error)
}
