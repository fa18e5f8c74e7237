package wallet

import (
	"context"
	"time"
)

// ShortLivedStore keeps data that expires on its own within minutes: OTP
// challenges, share tokens and short codes, rate-limit counters. Redis in
// production, process memory in the embedded default; both pass the suite in
// shortlived/shortlivedtest. Every operation that fails because the store cannot
// be reached returns EUNAVAILABLE.
type ShortLivedStore interface {
	Ping(ctx context.Context) error
	// Put sets key to value, replacing any value, expiring after ttl.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// PutAll sets each entry's key to its value, replacing any, all
	// expiring after ttl, in one round trip where the store allows (one
	// Redis: a pipeline; a Redis Cluster: one SET after another). It is not
	// atomic: after an error some may be set and others not.
	PutAll(ctx context.Context, ttl time.Duration, entries ...KeyValue) error
	// PutNew sets key only if it does not exist; it reports whether it did.
	PutNew(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Get returns the value of key. ENOTFOUND if absent or expired.
	Get(ctx context.Context, key string) ([]byte, error)
	// Delete removes the keys; absent keys are ignored.
	Delete(ctx context.Context, keys ...string) error
	// Incr adds one to the counter at key and returns the new count and the
	// time left before the counter expires. A new counter expires after
	// window (a fixed window); later increments do not extend it.
	Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error)
	// Count returns the counter at key and the time it has left (0, 0 if absent).
	Count(ctx context.Context, key string) (int64, time.Duration, error)
	// PutTicket stores a ticket at key, replacing any, expiring after ttl.
	PutTicket(ctx context.Context, key string, t Ticket, ttl time.Duration) error
	// UseTicket atomically checks hash against the ticket's secret of the
	// given name and, if it matches, spends one use (deleting the ticket when
	// none is left). It returns ENOTFOUND if there is no ticket (expired, used
	// up or deleted) or it has no such secret. A wrong hash spends one attempt
	// of a ticket with limited attempts and returns EINVALIDCODE with
	// AttemptsLeft; the ticket is deleted when no attempt is left.
	UseTicket(ctx context.Context, key, name, hash string) (TicketUse, error)
	// Reserve atomically checks every budget and, only if each counter is
	// below its limit, adds one to all of them (a new counter expires after
	// its window, as with Incr). It returns the new counts, in order. If any
	// counter is at its limit nothing is added and the error is ERATELIMITED
	// with RetryAfter the longest time left among the full counters (at least
	// a second). All keys must share one Redis Cluster hash slot ("{tag}").
	Reserve(ctx context.Context, budgets []Budget) ([]int64, error)
	// Unreserve takes one back from each counter that still exists and is
	// above zero: a reservation that was not needed after all. The keys must
	// share one hash slot, as for Reserve.
	Unreserve(ctx context.Context, keys ...string) error
}

// KeyValue is one entry of a PutAll.
type KeyValue struct {
	Key   string
	Value []byte
}

// Budget is one counter of a Reserve: at most Limit within a fixed Window.
type Budget struct {
	Key    string
	Limit  int64
	Window time.Duration
}

// Ticket is a short-lived secret-guarded grant: an OTP challenge (one use,
// three attempts) or a share (max_views uses, reached by a token or a code).
type Ticket struct {
	Secrets  map[string]string // name → hex hash of the secret
	Uses     int               // successful uses left (at least 1)
	Attempts int               // wrong tries left; 0 means unlimited
	Payload  []byte            // opaque to the store
}

// TicketUse is the result of a successful UseTicket.
type TicketUse struct {
	Payload  []byte
	UsesLeft int // uses left after this one
}
