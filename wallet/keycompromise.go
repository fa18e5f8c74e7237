package wallet

import (
	"context"
	"time"
)

// KeyCompromise records that one of Qujat's keys (an issuer's, a staff
// member's, an exchange key) is compromised from At: nothing it signed at
// or after At is to be trusted. It is a setting an administrator makes
// (`qujat keys compromise`), not anyone's history.
type KeyCompromise struct {
	KID         string
	At          time.Time
	RecordedAt  time.Time
	Replacement string // kid of the key made to replace it
}

// KeyCompromiseStore keeps compromised keys.
type KeyCompromiseStore interface {
	// MarkKeyCompromised records the compromise; for a kid recorded
	// already the earlier At stays and Replacement is set if it was empty.
	MarkKeyCompromised(ctx context.Context, k KeyCompromise) error
	// KeyCompromises returns every compromised key, oldest record first.
	KeyCompromises(ctx context.Context) ([]KeyCompromise, error)
}
