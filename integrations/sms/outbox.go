// Package sms delivers and receives text messages. Two drivers implement
// outbox.Sender, for the durable outbox's worker: Outbox keeps messages in memory for development and tests (the
// embedded default, read through GET /v1/dev/sms), and HTTPGateway hands them
// to an SMS gateway in production. Inbound messages (citizens' YES/NO replies
// to consent requests) arrive from the gateway signed with HMAC-SHA256; this
// package checks the signature and reads the reply.
package sms

import (
	"context"
	"sync"
	"time"

	"github.com/qujat/qujat/outbox"
	"github.com/qujat/qujat/wallet"
)

var (
	_ outbox.Sender   = (*Outbox)(nil)
	_ outbox.IDSender = (*HTTPGateway)(nil)
)

// DefaultOutboxCapacity is how many messages an Outbox keeps by default.
const DefaultOutboxCapacity = 1000

// Message is one text message as the outbox keeps it.
type Message struct {
	To   string    `json:"to"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// Outbox is the development SMS driver: it delivers nothing and keeps the
// last messages sent, so that a developer (or a test) can read the codes.
// It keeps at most its capacity; older messages are dropped. It is safe for
// concurrent use. Never use it in production: it holds live codes in memory
// for anyone with access to the development endpoint.
type Outbox struct {
	now func() time.Time
	// deliverFirst, if set, delivers what is on its way to the outbox
	// (the durable outbox's due messages) before a read.
	deliverFirst func(context.Context) error

	mu   sync.Mutex
	ring []Message // ring buffer of capacity cap(ring) once full
	next int       // where the next message goes once the ring is full
}

// NewOutbox returns an empty outbox keeping the last capacity messages
// (DefaultOutboxCapacity if capacity < 1), stamped with now (time.Now if nil).
func NewOutbox(capacity int, now func() time.Time) *Outbox {
	if capacity < 1 {
		capacity = DefaultOutboxCapacity
	}
	if now == nil {
		now = time.Now
	}
	return &Outbox{now: now, ring: make([]Message, 0, capacity)}
}

// Send keeps the message. It fails (EUNAVAILABLE) only if ctx is done, as a
// real gateway would.
func (o *Outbox) Send(ctx context.Context, to, text string) error {
	if err := ctx.Err(); err != nil {
		return wallet.Wrap(wallet.EUNAVAILABLE, err, "SMS not sent")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	m := Message{To: to, Text: text, At: o.now()}
	if len(o.ring) < cap(o.ring) {
		o.ring = append(o.ring, m)
		return nil
	}
	o.ring[o.next] = m
	o.next = (o.next + 1) % len(o.ring)
	return nil
}

// DeliverFirst makes every read (Messages) first run deliver, which hands
// the outbox what is on its way: the service sets the durable outbox's
// Flush, so that a read shows the SMS a request just queued, not only what
// the worker has delivered so far. Call it before the outbox is shared.
func (o *Outbox) DeliverFirst(deliver func(context.Context) error) { o.deliverFirst = deliver }

// Messages returns the kept messages sent to to (all of them if to is ""),
// newest first. The phone is compared as given and, failing that, in its
// normalised form, so "8 701 123 45 67" finds "+77011234567".
func (o *Outbox) Messages(to string) []Message {
	if o.deliverFirst != nil {
		// What could not be delivered now shows later; a read still
		// answers with what there is.
		_ = o.deliverFirst(context.Background())
	}
	norm := ""
	if to != "" {
		norm, _ = NormalizePhone(to)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	out := []Message{}
	n := len(o.ring)
	for i := 0; i < n; i++ {
		// The newest message sits just before next (or at the end while filling).
		m := o.ring[((o.next-1-i)%n+n)%n]
		if to == "" || m.To == to || (norm != "" && m.To == norm) {
			out = append(out, m)
		}
	}
	return out
}
