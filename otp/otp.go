// Package otp issues and checks one-time passwords sent by SMS: the six-digit
// codes with which citizens sign in and approve organisations' consent
// requests.
//
// A challenge is a wallet.Ticket in the short-lived store: one use, three
// wrong tries, five minutes. The code itself is never stored, only its
// peppered HMAC (wallet.Hasher), and the store checks it and spends the use
// or the try atomically, so concurrent guesses cannot overspend a challenge.
package otp

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/qujat/qujat/wallet"
)

// Defaults for the limits of a Service; a zero limit means its default.
const (
	DefaultTTL      = 5 * time.Minute
	DefaultAttempts = 3
)

// CodeLength is the number of digits of a code.
const CodeLength = 6

// SendWindow is the fixed window of the send budgets.
const SendWindow = time.Hour

// Budget is one limit on the codes sent to a phone: at most Limit codes of
// a purpose per fixed hour on the counter Name ("all", "addr:<address>",
// "client:<id>", ...). The callers choose their budgets, so that each
// requester spends its own and nobody can spend someone else's.
type Budget struct {
	Name  string
	Limit int64
}

// Challenge is what the caller of Issue learns: enough to tell the user where
// the code went and to verify it later, nothing of the code.
type Challenge struct {
	ID        string    `json:"challenge_id"`
	ExpiresAt time.Time `json:"expires_at"`
	PhoneHint string    `json:"phone_hint"` // e.g. "+7 701 *** ** 67"
}

// Service issues and verifies challenges. Store and Hasher are required;
// the other fields have defaults (time.Now, crypto/rand and the Default…
// limits) when zero. A Service is safe for concurrent use. It sends
// nothing: Issue returns the message, which the caller writes to the
// durable outbox in its own transaction.
type Service struct {
	Store  wallet.ShortLivedStore
	Hasher *wallet.Hasher
	Now    func() time.Time
	Rand   io.Reader

	TTL      time.Duration // how long a code lives
	Attempts int           // wrong codes allowed; the last one kills the challenge
}

// NewService returns a Service with the default clock, random source and limits.
func NewService(store wallet.ShortLivedStore, hasher *wallet.Hasher) *Service {
	return &Service{
		Store:    store,
		Hasher:   hasher,
		Now:      time.Now,
		Rand:     rand.Reader,
		TTL:      DefaultTTL,
		Attempts: DefaultAttempts,
	}
}

// payload is what a challenge's ticket carries.
type payload struct {
	Purpose string `json:"purpose"`
	Subject string `json:"subject"` // "" for a decoy
}

// Issue creates a challenge for subject, valid for purpose only, and
// returns it with the message text(code) to send to phone. The caller
// sends it (through the durable outbox) and cancels the challenge (Cancel)
// if the message cannot be written. purpose is a fixed name chosen by the
// caller ("signin", "consent"); a code issued for one purpose is never
// accepted for another.
//
// Every budget is spent at once, before anything is stored, and only if
// none is used up (see Budget): the counters are the phone's, per purpose.
//
// It returns EINVALID for an empty purpose, subject or phone, no budget
// (or a purpose longer than 64 bytes or with spaces or colons),
// ERATELIMITED with RetryAfter when a budget is used up for this hour
// (then nothing is stored), and EUNAVAILABLE when the store cannot be
// reached.
func (s *Service) Issue(ctx context.Context, purpose, subject, phone string, budgets []Budget, text func(code string) string) (Challenge, string, error) {
	switch {
	case !validPurpose(purpose):
		return Challenge{}, "", wallet.Errorf(wallet.EINVALID, "bad otp purpose")
	case subject == "":
		return Challenge{}, "", wallet.Errorf(wallet.EINVALID, "otp subject is required")
	case phone == "":
		return Challenge{}, "", wallet.Errorf(wallet.EINVALID, "phone is required")
	case text == nil:
		return Challenge{}, "", wallet.Errorf(wallet.EINVALID, "message text is required")
	}
	if err := s.spend(ctx, "{"+s.Hasher.Hash("otp-sends", phone)+"}:"+purpose, budgets); err != nil {
		return Challenge{}, "", err
	}
	id, err := wallet.NewID(s.rand(), "otp_")
	if err != nil {
		return Challenge{}, "", err
	}
	code, err := wallet.RandomDigits(s.rand(), CodeLength)
	if err != nil {
		return Challenge{}, "", err
	}
	if err := s.store(ctx, ticketKey(purpose, id), id, code, payload{Purpose: purpose, Subject: subject}); err != nil {
		return Challenge{}, "", err
	}
	return Challenge{ID: id, ExpiresAt: s.now().Add(s.ttl()), PhoneHint: PhoneHint(phone)}, text(code), nil
}

// FakeChallenge is what the caller gives out instead of Issue when subject is
// not known (an unregistered IIN), so that answers do not reveal who is
// registered. It behaves like a real challenge wherever a caller can look:
//
//   - the phone hint is made up but the same for the same subject (keyed by
//     the pepper), so asking twice does not expose it;
//   - it spends budgets of its own, keyed by the subject instead of a
//     phone, so that a request past a limit is refused with ERATELIMITED
//     as a real one would be;
//   - it stores a decoy ticket that no code opens, so Verify answers
//     EINVALIDCODE with the attempts left, then EEXPIRED, like a real one.
//
// Nothing is sent. Errors are those of Issue.
func (s *Service) FakeChallenge(ctx context.Context, purpose, subject string, budgets []Budget) (Challenge, error) {
	switch {
	case !validPurpose(purpose):
		return Challenge{}, wallet.Errorf(wallet.EINVALID, "bad otp purpose")
	case subject == "":
		return Challenge{}, wallet.Errorf(wallet.EINVALID, "otp subject is required")
	}
	// The key holds a hash of the subject rather than the subject itself.
	if err := s.spend(ctx, "{decoy:"+s.Hasher.Hash("otp-decoy-sends", subject)+"}:"+purpose, budgets); err != nil {
		return Challenge{}, err
	}
	id, err := wallet.NewID(s.rand(), "otp_")
	if err != nil {
		return Challenge{}, err
	}
	// A secret that is not six digits: no code can ever match it.
	secret, err := wallet.RandomToken(s.rand(), 32)
	if err != nil {
		return Challenge{}, err
	}
	if err := s.store(ctx, ticketKey(purpose, id), id, secret, payload{Purpose: purpose}); err != nil {
		return Challenge{}, err
	}
	return Challenge{ID: id, ExpiresAt: s.now().Add(s.ttl()), PhoneHint: s.decoyHint(subject)}, nil
}

// Verify checks code against the challenge and returns the subject it was
// issued for. The right code spends the challenge: it works once.
//
// It returns EINVALID if code is not six digits (that spends no attempt: it
// cannot be right), EINVALIDCODE with AttemptsLeft for a wrong code (the
// challenge is gone when AttemptsLeft is 0), EEXPIRED if the challenge does
// not exist, has expired, was used or killed by wrong codes, or was issued for
// another purpose, and EUNAVAILABLE if the store cannot be reached.
func (s *Service) Verify(ctx context.Context, purpose, challengeID, code string) (string, error) {
	if !isCode(code) {
		return "", wallet.Errorf(wallet.EINVALID, "code must be %d digits", CodeLength)
	}
	if !validPurpose(purpose) || !validID(challengeID) {
		return "", expired()
	}
	use, err := s.Store.UseTicket(ctx, ticketKey(purpose, challengeID), secretName, s.hash(challengeID, code))
	switch wallet.ErrorCode(err) {
	case "":
	case wallet.ENOTFOUND:
		return "", expired()
	case wallet.EINVALIDCODE:
		left := 0
		if e := wallet.AsError(err); e != nil && e.AttemptsLeft > 0 {
			left = e.AttemptsLeft
		}
		return "", &wallet.Error{Code: wallet.EINVALIDCODE, Message: "wrong code", AttemptsLeft: left}
	default:
		return "", err
	}
	var p payload
	if err := json.Unmarshal(use.Payload, &p); err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "bad otp challenge payload")
	}
	// The key already binds the purpose; this is a second lock on that door,
	// and a decoy (no subject) can never pass even if its secret matched.
	if p.Purpose != purpose || p.Subject == "" {
		return "", expired()
	}
	return p.Subject, nil
}

// Cancel deletes a challenge, so that its code stops working at once (a
// consent decided by other means, a user who asked for a new code).
// Cancelling an unknown challenge is not an error. EUNAVAILABLE if the store
// cannot be reached.
func (s *Service) Cancel(ctx context.Context, purpose, challengeID string) error {
	if !validPurpose(purpose) || !validID(challengeID) {
		return nil
	}
	return s.Store.Delete(ctx, ticketKey(purpose, challengeID))
}

// secretName is the name of the code's hash in the ticket.
const secretName = "otp"

// ticketKey is where a challenge lives. The purpose is part of the key, so a
// challenge asked for with the wrong purpose is simply not there: that is
// EEXPIRED and, unlike a wrong code, costs the real challenge nothing.
func ticketKey(purpose, id string) string { return "otp:" + purpose + ":" + id }

// hash binds the code to its challenge, so that two challenges with the same
// code do not have the same hash in the store.
func (s *Service) hash(id, code string) string {
	return s.Hasher.Hash(wallet.SecretOTP, id+"\x00"+code)
}

func (s *Service) store(ctx context.Context, key, id, secret string, p payload) error {
	body, err := json.Marshal(p)
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "encode otp challenge")
	}
	return s.Store.PutTicket(ctx, key, wallet.Ticket{
		Secrets:  map[string]string{secretName: s.hash(id, secret)},
		Uses:     1,
		Attempts: s.attempts(),
		Payload:  body,
	}, s.ttl())
}

// spend reserves one code on every budget of the counters under prefix
// (which carries the hash-slot tag), or on none.
func (s *Service) spend(ctx context.Context, prefix string, budgets []Budget) error {
	if len(budgets) == 0 {
		return wallet.Errorf(wallet.EINVALID, "otp: a code needs a send budget")
	}
	bs := make([]wallet.Budget, len(budgets))
	for i, b := range budgets {
		if b.Name == "" || b.Limit <= 0 {
			return wallet.Errorf(wallet.EINVALID, "otp: bad send budget")
		}
		bs[i] = wallet.Budget{Key: "otp-sends:" + prefix + ":" + b.Name, Limit: b.Limit, Window: SendWindow}
	}
	_, err := s.Store.Reserve(ctx, bs)
	if e := wallet.AsError(err); e != nil && e.Code == wallet.ERATELIMITED {
		return &wallet.Error{Code: wallet.ERATELIMITED, Message: "too many codes sent to this phone; try again later", RetryAfter: e.RetryAfter}
	}
	return err
}

func expired() *wallet.Error {
	return wallet.Errorf(wallet.EEXPIRED, "challenge expired or used")
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) rand() io.Reader {
	if s.Rand == nil {
		return rand.Reader
	}
	return s.Rand
}

func (s *Service) ttl() time.Duration {
	if s.TTL <= 0 {
		return DefaultTTL
	}
	return s.TTL
}

func (s *Service) attempts() int {
	if s.Attempts <= 0 {
		return DefaultAttempts
	}
	return s.Attempts
}

func isCode(code string) bool {
	if len(code) != CodeLength {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

func validPurpose(p string) bool {
	return p != "" && len(p) <= 64 && !strings.ContainsAny(p, ": \t\r\n\x00")
}

// validID accepts what NewID makes, loosely: anything else cannot be a
// challenge, and is kept out of store keys.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
