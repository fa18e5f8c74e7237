package wallet

import (
	"context"
	"time"
)

// IdempotencyKeyTTL is how long an Idempotency-Key and its outcome are kept
// at least.
const IdempotencyKeyTTL = 24 * time.Hour

// IdempotencyRecord is the outcome of a request made with an
// Idempotency-Key: what is needed to answer the same request again.
type IdempotencyRecord struct {
	Caller string // who made the request (an IIN)
	Key    string // the Idempotency-Key, 1..255 printable ASCII
	// RequestHash identifies the request (operation and body): the key
	// reused with another request is refused (EIDEMPOTENCY).
	RequestHash string
	// Outcome is opaque to the store; whatever is secret in it is sealed by
	// its owner.
	Outcome   []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// IdempotencyStore reads stored outcomes; they are written only by
// SaveIdempotency, with the change they are the outcome of.
type IdempotencyStore interface {
	// Idempotency returns the caller's record of key, if it has not
	// expired at now. ENOTFOUND otherwise.
	Idempotency(ctx context.Context, caller, key string, now time.Time) (IdempotencyRecord, error)
}
