// Package outbox delivers text messages to citizens' phones from the
// durable outbox (wallet.OutboxStore).
//
// A request that sends an SMS does not call the gateway: it writes the
// message, sealed, in its own transaction (wallet.QueueMessage in its
// change, or Queue.Enqueue when the message is its only durable effect) and
// answers. The Worker claims due messages, hands them to the Sender and
// retries with backoff until the message's NotAfter, when the message is
// given up and whoever sent it is told (Worker.GaveUp). So:
//
//   - a message exists exactly when the change that sends it does;
//   - the request's answer and its timing do not depend on the gateway:
//     a registered IIN and an unknown one (whose decoy message is written
//     the same way and never sent) are answered alike, and a failing
//     gateway delays messages instead of failing requests;
//   - a message may be delivered twice when a gateway's answer is lost
//     (at least once); the message id travels with it so that a gateway
//     can drop the second copy, and a second copy of a code is harmless.
//
// The text is sealed with AES-256-GCM under a key derived from the
// service's pepper, so that a copy of the database does not hold live
// codes in clear, and is erased with the phone once delivered or given up.
package outbox

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"io"
	"strings"
	"time"

	"github.com/qujat/qujat/wallet"
)

// Sender delivers a text message to a phone number (E.164).
type Sender interface {
	// Send delivers text to the phone to. It returns EUNAVAILABLE if the
	// message could not be handed over. Implementations must not log text:
	// it carries codes.
	Send(ctx context.Context, to, text string) error
}

// IDSender is a Sender that passes the message's id on (as an idempotency
// key), so that the receiver can drop a second delivery of one message.
type IDSender interface {
	SendID(ctx context.Context, id, to, text string) error
}

// Sealer encrypts and opens message texts.
type Sealer struct{ aead cipher.AEAD }

// NewSealer returns a Sealer keyed from the service's Hasher (its pepper),
// so that no other secret needs to be kept.
func NewSealer(h *wallet.Hasher) *Sealer {
	key, err := hex.DecodeString(h.Hash("outbox-seal-key", "v1"))
	if err != nil || len(key) != 32 {
		panic("outbox: the hasher does not give 32-byte keys")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &Sealer{aead: aead}
}

// Seal encrypts text for the message id (bound as associated data, so a
// sealed text cannot be moved to another message).
func (s *Sealer) Seal(id, text string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "no randomness")
	}
	return s.aead.Seal(nonce, nonce, []byte(text), []byte(id)), nil
}

// Open decrypts a sealed text of message id. EINTERNAL if it does not
// open (another key, another message, or tampered).
func (s *Sealer) Open(id string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", wallet.Errorf(wallet.EINTERNAL, "outbox: sealed text too short")
	}
	text, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(id))
	if err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "outbox: sealed text does not open")
	}
	return string(text), nil
}

// Queue builds sealed messages and writes the ones that are a request's
// only durable effect. Store and Seal are required; Now and Rand default to
// time.Now and crypto/rand. Kick, if set, is called after a message is
// written (Worker.Kick), so that delivery starts at once.
type Queue struct {
	Store wallet.OutboxStore
	Seal  *Sealer
	Now   func() time.Time
	Rand  io.Reader
	Kick  func()
}

// Message returns a sealed message of purpose to the phone to, worth
// delivering until notAfter, about ref (may be ""). It stores nothing: the
// caller writes it, with its change (wallet.QueueMessage) or Enqueue.
func (q *Queue) Message(purpose, ref, to, text string, notAfter time.Time) (wallet.Message, error) {
	id, err := wallet.NewID(q.rand(), "msg_")
	if err != nil {
		return wallet.Message{}, err
	}
	sealed, err := q.Seal.Seal(id, text)
	if err != nil {
		return wallet.Message{}, err
	}
	return wallet.Message{ID: id, To: to, Sealed: sealed, Purpose: purpose, Ref: ref, CreatedAt: q.now(), NotAfter: notAfter}, nil
}

// Decoy returns a message like one of Message with a text of textLen
// bytes, for a request about nobody (an unknown IIN), so that the request
// does the same work as a real one. It is stored dropped and never sent.
func (q *Queue) Decoy(purpose string, textLen int, notAfter time.Time) (wallet.Message, error) {
	m, err := q.Message(purpose, "", "", strings.Repeat(" ", textLen), notAfter)
	m.Decoy = true
	return m, err
}

// Enqueue writes m on its own and kicks the worker. Errors of
// wallet.OutboxStore.EnqueueMessage.
func (q *Queue) Enqueue(ctx context.Context, m wallet.Message) error {
	if err := q.Store.EnqueueMessage(ctx, m); err != nil {
		return err
	}
	q.Kicked()
	return nil
}

// Kicked tells the worker that a message was written (by Enqueue, or with
// a change that the caller committed).
func (q *Queue) Kicked() {
	if q.Kick != nil {
		q.Kick()
	}
}

func (q *Queue) now() time.Time {
	if q.Now == nil {
		return time.Now().UTC()
	}
	return q.Now().UTC()
}

func (q *Queue) rand() io.Reader {
	if q.Rand == nil {
		return rand.Reader
	}
	return q.Rand
}
