package wallet

import (
	"context"
	"time"
)

// Message is a text message to a citizen's phone in the durable outbox:
// written in the transaction of the request that sends it (QueueMessage, or
// OutboxStore.EnqueueMessage when the request changes nothing else) and
// delivered by the outbox worker, with retries, until NotAfter. The store
// never sees the text: Sealed is encrypted by the outbox package, and the
// phone and the sealed text are erased once the message is delivered or
// given up.
type Message struct {
	ID      string
	To      string // E.164; "" for a decoy
	Sealed  []byte // the encrypted text
	Purpose string // what sent it: "signin", "consent", ...
	// Ref names what the message is about (a consent id), for whoever must
	// hear of a message that could not be delivered.
	Ref       string
	CreatedAt time.Time
	// NotAfter is when the message stops being worth delivering (the code
	// in it expires then).
	NotAfter time.Time
	// Decoy marks the message written for an unknown IIN so that the
	// request does the same work as for a registered one: it is stored
	// already dropped and never delivered.
	Decoy bool

	// Set by the store.
	Status    string // MessagePending, MessageSent, MessageFailed or MessageDropped
	Attempts  int    // delivery attempts so far, counting the claim that returned it
	LastError string // why the last attempt failed
}

// Message statuses.
const (
	MessagePending = "pending"
	MessageSent    = "sent"
	MessageFailed  = "failed"  // given up: NotAfter passed before a delivery
	MessageDropped = "dropped" // a decoy
)

// QueueMessage stores a message in the outbox with the change that sends
// it, so that it exists exactly when the change does. EINVALID without an
// id, a phone (unless Decoy) or a sealed text; ECONFLICT if the id exists.
type QueueMessage struct{ Message Message }

func (QueueMessage) What() string { return "queue message" }

// Check refuses a message the outbox cannot hold: EINVALID without an id
// or a purpose, without a phone and a sealed text (unless a decoy), or
// with NotAfter not after CreatedAt.
func (m Message) Check() error {
	const what = "queue message"
	switch {
	case m.ID == "" || m.Purpose == "":
		return Errorf(EINVALID, "%s: an id and a purpose are required", what)
	case !m.Decoy && (m.To == "" || len(m.Sealed) == 0):
		return Errorf(EINVALID, "%s: a phone and a text are required", what)
	case !m.NotAfter.After(m.CreatedAt):
		return Errorf(EINVALID, "%s: not_after must be after created_at", what)
	}
	return nil
}

// OutboxStore keeps the durable outbox.
type OutboxStore interface {
	// EnqueueMessage stores a message on its own, for a request whose only
	// durable effect is the message (a sign-in code). Errors as QueueMessage,
	// EUNAVAILABLE if the store cannot be reached.
	EnqueueMessage(ctx context.Context, m Message) error
	// ClaimMessages returns up to max pending messages due at now (their
	// next attempt is not after now and no other worker's lease on them is
	// live), leased to the caller until now+lease, each with Attempts
	// counting this claim. Messages past NotAfter are not returned: they
	// are marked failed and returned by ExpireMessages.
	ClaimMessages(ctx context.Context, now time.Time, lease time.Duration, max int) ([]Message, error)
	// MessageSent marks a message delivered and erases its phone and text.
	// ENOTFOUND if it is not pending.
	MessageSent(ctx context.Context, id string, at time.Time) error
	// MessageRetry records a failed attempt: the message is due again at
	// next. ENOTFOUND if it is not pending.
	MessageRetry(ctx context.Context, id string, next time.Time, reason string) error
	// ExpireMessages marks failed the pending messages whose NotAfter is
	// before now, erasing their phone and text, and returns them (up to
	// max), so that what they were about can be told.
	ExpireMessages(ctx context.Context, now time.Time, max int) ([]Message, error)
	// PurgeMessages deletes up to max messages that were delivered, given
	// up or dropped before before, and returns how many it deleted.
	PurgeMessages(ctx context.Context, before time.Time, max int) (int, error)
	// OutboxMessage returns one message as stored (tests and operations).
	// ENOTFOUND.
	OutboxMessage(ctx context.Context, id string) (Message, error)
}
