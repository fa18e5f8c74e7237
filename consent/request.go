package consent

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/wallet"
)

// Request is what an organisation asks for.
type Request struct {
	IIN           wallet.IIN
	DocumentTypes []wallet.DocumentType
	Purpose       string
	Method        string        // wallet.ConsentOTP, ConsentSMSReply or ConsentApp
	ValidFor      time.Duration // how long a grant lasts; 0 means Limits.DefaultValidFor
}

// Purpose length bounds, in characters.
const (
	MinPurpose = 3
	MaxPurpose = 500
)

// otpPurpose is the OTP service purpose of consent codes. The challenge's
// subject is the consent id, and SubmitOTP checks it, so a code sent for one
// request never grants another.
const otpPurpose = "consent"

// smsPurposeMax is how much of the purpose an SMS quotes, in characters; the
// app shows it whole.
const smsPurposeMax = 160

// Request stores an organisation's request for a citizen's documents and asks
// the citizen (see the package doc for the methods), returning the pending
// consent. The phone comes from the Directory, never from the organisation.
//
// It returns:
//   - EUNAUTHORIZED if the client is unknown or disabled;
//   - EINVALID for a malformed IIN, a purpose shorter than MinPurpose or
//     longer than MaxPurpose characters (or with control or invisible
//     formatting characters: hiddenInPurpose), no,
//     unknown or repeated document types, an unknown method, or a ValidFor
//     outside MinValidFor..Limits.MaxValidFor;
//   - EFORBIDDEN for a bank asking for an identity document (inPersonOnly),
//     or naming the first type the client is not admitted for;
//   - ERATELIMITED with RetryAfter when the client has made
//     Limits.PerClientPerHour requests this hour, or sent this citizen
//     Limits.PerClientPerIINPerHour, or the citizen has received
//     Limits.PerIINPerHour from all clients (nothing is stored);
//   - ENOTFOUND if the registry knows no citizen with that IIN (see the
//     package doc for why this may be said);
//   - EUNAVAILABLE if the registry, the short-lived store or the durable store
//     cannot be reached (nothing is stored, no SMS queued). The SMS gateway
//     is not called: see the package doc, "Delivery".
func (s *Service) Request(ctx context.Context, clientID string, r Request) (wallet.Consent, error) {
	iin, purpose, validFor, err := s.checkRequest(r)
	if err != nil {
		return wallet.Consent{}, err
	}
	client, err := s.activeClient(ctx, clientID)
	if err != nil {
		return wallet.Consent{}, err
	}
	for _, t := range r.DocumentTypes {
		if inPersonOnly(client.Kind, t) {
			return wallet.Consent{}, wallet.Errorf(wallet.EFORBIDDEN,
				"identity documents (%s) are presented to banks in person, by QR code or short code (POST /v1/shares/redeem), not by remote consent", t)
		}
	}
	for _, t := range r.DocumentTypes {
		if !slices.Contains(client.DocumentTypes, t) {
			return wallet.Consent{}, wallet.Errorf(wallet.EFORBIDDEN, "client is not admitted for document type %q", t)
		}
	}
	now := s.now()
	// The client's limit is counted before the registry is asked, so that
	// nobody can look up more IINs than the limit allows.
	if err := s.limit(ctx, "consent-rate:client:"+client.ID, s.perClient(), "too many consent requests from this client"); err != nil {
		return wallet.Consent{}, err
	}
	citizen, err := s.Directory.Citizen(ctx, iin)
	if err != nil {
		return wallet.Consent{}, err
	}
	// A minor is asked through their legal representative: the request,
	// its SMS and the decision are the representative's.
	asked, err := s.askedFor(ctx, citizen, now)
	if err != nil {
		return wallet.Consent{}, err
	}
	phone, err := sms.NormalizePhone(asked.Phone)
	if err != nil {
		return wallet.Consent{}, wallet.Wrap(wallet.EUNAVAILABLE, err, "the registry lists no usable phone for this citizen")
	}
	// Each organisation spends its own budget of requests to a citizen and
	// the citizen's shared one, at once: one organisation cannot use up
	// what the others may ask. The keys hold a keyed hash of the IIN: the
	// short-lived store need not learn who is being asked about.
	tag := "consent-rate:{" + s.Hasher.Hash("consent-rate-iin", string(iin)) + "}:"
	if _, err := s.Codes.Reserve(ctx, []wallet.Budget{
		{Key: tag + "client:" + client.ID, Limit: int64(s.perClientPerIIN()), Window: rateWindow},
		{Key: tag + "all", Limit: int64(s.perIIN()), Window: rateWindow},
	}); err != nil {
		if e := wallet.AsError(err); e != nil && e.Code == wallet.ERATELIMITED {
			return wallet.Consent{}, &wallet.Error{Code: wallet.ERATELIMITED, Message: "too many consent requests for this citizen; try again later", RetryAfter: e.RetryAfter}
		}
		return wallet.Consent{}, err
	}
	if err := s.durableLimits(ctx, client.ID, iin, now); err != nil {
		return wallet.Consent{}, err
	}

	id, err := wallet.NewID(s.rand(), "cns_")
	if err != nil {
		return wallet.Consent{}, err
	}
	c := wallet.Consent{
		ID:               id,
		ClientID:         client.ID,
		SubjectIIN:       iin,
		Phone:            phone,
		DocumentTypes:    append([]wallet.DocumentType(nil), r.DocumentTypes...),
		Purpose:          purpose,
		Method:           r.Method,
		Status:           wallet.ConsentPending,
		ValidFor:         validFor,
		CreatedAt:        now,
		RequestExpiresAt: now.Add(s.requestTTL()),
	}
	details := map[string]string{
		"client_name":    client.Name,
		"document_types": joinTypes(c.DocumentTypes),
		"purpose":        c.Purpose,
		"method":         c.Method,
	}
	requested, err := s.event(wallet.EventConsentRequested, c, wallet.ViewerOrganisation, client.ID, details, now)
	if err != nil {
		return wallet.Consent{}, err
	}
	// The request, its event and the SMS that asks the citizen are one
	// change: the citizen is never asked about a request that is not in
	// their history, and a stored request always has its message queued.
	change := wallet.Change{Ops: []wallet.Op{wallet.CreateConsent{Consent: c}}, Events: []wallet.Event{requested}}
	child := ""
	if asked.IIN != citizen.IIN {
		child = firstName(citizen.Name)
	}
	msg, undo, err := s.ask(ctx, client, c, asked.IIN, child)
	if err != nil {
		return wallet.Consent{}, err
	}
	if msg != nil {
		change.Ops = append(change.Ops, wallet.QueueMessage{Message: *msg})
	}
	if _, err := s.Changes.Commit(ctx, change); err != nil {
		undo(context.WithoutCancel(ctx))
		return wallet.Consent{}, err
	}
	if msg != nil {
		s.Outbox.Kicked()
	}
	return withStatus(c, now), nil
}

// askedFor returns who decides a request about citizen: the citizen, or,
// for a minor, their first legal representative the registry lists who is
// an adult with a phone. EFORBIDDEN for a minor nobody can be asked for;
// EUNAVAILABLE if the registry cannot be reached.
func (s *Service) askedFor(ctx context.Context, citizen wallet.Citizen, now time.Time) (wallet.Citizen, error) {
	if !wallet.IsMinor(citizen.BirthDate, now) {
		return citizen, nil
	}
	reps, err := s.Directory.Guardians(ctx, citizen.IIN)
	if err != nil && !wallet.IsCode(err, wallet.ENOTFOUND) {
		return wallet.Citizen{}, err
	}
	for _, iin := range reps {
		rep, err := s.Directory.Citizen(ctx, iin)
		switch {
		case wallet.IsCode(err, wallet.ENOTFOUND):
			continue
		case err != nil:
			return wallet.Citizen{}, err
		}
		if rep.Phone != "" && !wallet.IsMinor(rep.BirthDate, now) {
			return rep, nil
		}
	}
	return wallet.Citizen{}, wallet.Errorf(wallet.EFORBIDDEN, "the citizen is a minor and the registry lists no legal representative who can be asked")
}

// firstName is the first word of a registered name ("Alikhan Nurlanov").
func firstName(name string) string {
	if f := strings.Fields(name); len(f) > 0 {
		return f[0]
	}
	return "the child"
}

// hiddenInPurpose reports the characters a purpose must not have: controls
// (Cc), invisible formatting characters (Cf: bidirectional overrides such
// as U+202E, zero-width spaces and joiners, U+FEFF, soft hyphens) and line
// or paragraph separators. With them an organisation could make the purpose
// the citizen reads differ from the one it stores.
func hiddenInPurpose(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// checkRequest validates r on its own and returns the IIN, the trimmed
// purpose and the validity.
func (s *Service) checkRequest(r Request) (wallet.IIN, string, time.Duration, error) {
	iin, err := wallet.ParseIIN(string(r.IIN))
	if err != nil {
		return "", "", 0, err
	}
	purpose := strings.TrimSpace(r.Purpose)
	n := utf8.RuneCountInString(purpose)
	switch {
	case !utf8.ValidString(purpose) || n < MinPurpose || n > MaxPurpose:
		return "", "", 0, wallet.Errorf(wallet.EINVALID, "purpose must be %d to %d characters", MinPurpose, MaxPurpose)
	case strings.IndexFunc(purpose, hiddenInPurpose) >= 0:
		return "", "", 0, wallet.Errorf(wallet.EINVALID, "purpose must be one line without control or invisible formatting characters")
	}
	for _, t := range r.DocumentTypes {
		// Electronic duplicates of paper documents go to their owner and to
		// state bodies on their own endpoints, never by consent.
		if _, dup := locale.DuplicateTitle(locale.EN, string(t)); t == "duplicate" || dup && !t.Valid() {
			return "", "", 0, wallet.Errorf(wallet.EFORBIDDEN, "electronic duplicates are never released by consent (%s)", t)
		}
	}
	if err := checkTypes(r.DocumentTypes); err != nil {
		return "", "", 0, err
	}
	switch r.Method {
	case wallet.ConsentOTP, wallet.ConsentSMSReply, wallet.ConsentApp:
	default:
		return "", "", 0, wallet.Errorf(wallet.EINVALID, "method must be otp, sms_reply or app")
	}
	validFor := r.ValidFor
	if validFor == 0 {
		validFor = s.defaultValidFor()
	}
	if validFor < MinValidFor || validFor > s.maxValidFor() {
		return "", "", 0, wallet.Errorf(wallet.EINVALID, "validity must be between %d seconds and %d days",
			int(MinValidFor/time.Second), int(s.maxValidFor()/(24*time.Hour)))
	}
	return iin, purpose, validFor, nil
}

// limit counts one more request on the counter at key and refuses it past
// max in the current hour. ERATELIMITED with RetryAfter; EUNAVAILABLE if the
// short-lived store cannot be reached.
func (s *Service) limit(ctx context.Context, key string, max int, message string) error {
	n, left, err := s.Codes.Incr(ctx, key, rateWindow)
	if err != nil {
		return err
	}
	if n > int64(max) {
		if left <= 0 {
			left = time.Second
		}
		return &wallet.Error{Code: wallet.ERATELIMITED, Message: message + "; try again later", RetryAfter: left}
	}
	return nil
}

// durableLimits is the backstop of the counters: should the short-lived store
// lose them (a restart, a failover), the durable record still caps requests
// at the same numbers in any sliding hour.
func (s *Service) durableLimits(ctx context.Context, clientID string, iin wallet.IIN, now time.Time) error {
	// The last hour, open at its start: a request made exactly an hour ago
	// no longer counts (stores keep microseconds).
	since := now.Add(-rateWindow).Add(time.Microsecond)
	n, err := s.Store.CountConsentsSince(ctx, clientID, "", since)
	if err != nil {
		return err
	}
	if n >= s.perClient() {
		// The exact moment a slot frees up would need the client's whole
		// list; a minute is a fair hint for a limit that is rarely hit.
		return &wallet.Error{Code: wallet.ERATELIMITED, Message: "too many consent requests from this client; try again later", RetryAfter: time.Minute}
	}
	n, err = s.Store.CountConsentsSince(ctx, clientID, iin, since)
	if err != nil {
		return err
	}
	if n >= s.perClientPerIIN() {
		return &wallet.Error{Code: wallet.ERATELIMITED, Message: "too many consent requests for this citizen; try again later", RetryAfter: time.Minute}
	}
	n, err = s.Store.CountConsentsSince(ctx, "", iin, since)
	if err != nil {
		return err
	}
	if n >= s.perIIN() {
		retry := time.Minute
		if cs, err := s.Store.ConsentsOfSubject(ctx, iin); err == nil && len(cs) >= s.perIIN() {
			// Newest first: the perIIN-th newest leaves the window first.
			if d := cs[s.perIIN()-1].CreatedAt.Add(rateWindow).Sub(now); d > 0 {
				retry = d
			}
		}
		return &wallet.Error{Code: wallet.ERATELIMITED, Message: "too many consent requests for this citizen; try again later", RetryAfter: retry}
	}
	return nil
}

// ask prepares what asks the citizen (or, for a minor, the representative
// asked) by the request's method, in the language of the person asked: for
// otp, a code challenge (its send budgets spent) and its SMS; for
// sms_reply, a reply number and its SMS; for app, nothing. child is the
// minor's first name when a representative is asked, "" otherwise. It
// returns the message to queue with the request (nil for app) and how to
// undo what it stored should the request not be committed.
func (s *Service) ask(ctx context.Context, client wallet.Client, c wallet.Consent, asked wallet.IIN, child string) (*wallet.Message, func(context.Context), error) {
	lang := s.Language.Of(ctx, asked)
	var text string
	// An SMS that arrives with less than half the request's time left is of
	// little use; past this the outbox gives it up and the request is
	// denied by the system (DeliveryFailed).
	notAfter := c.CreatedAt.Add(s.requestTTL() / 2)
	undo := func(context.Context) {}
	switch c.Method {
	case wallet.ConsentOTP:
		budgets := []otp.Budget{{Name: "client:" + client.ID, Limit: int64(s.perClientPerIIN())}, {Name: "all", Limit: int64(s.perIIN())}}
		ch, t, err := s.OTP.Issue(ctx, otpPurpose, c.ID, c.Phone, budgets, func(code string) string {
			return otpText(lang, client, c, code, child)
		})
		if err != nil {
			return nil, nil, err
		}
		undo = func(ctx context.Context) {
			_ = s.OTP.Cancel(ctx, otpPurpose, ch.ID)
			_ = s.Codes.Delete(ctx, challengeKey(c.ID))
		}
		if err := s.Codes.Put(ctx, challengeKey(c.ID), []byte(ch.ID), s.requestTTL()); err != nil {
			undo(context.WithoutCancel(ctx))
			return nil, nil, err
		}
		text, notAfter = t, ch.ExpiresAt
	case wallet.ConsentSMSReply:
		ref, err := s.newReplyRef(ctx, c)
		if err != nil {
			return nil, nil, err
		}
		undo = func(ctx context.Context) { _ = s.Codes.Delete(ctx, replyKey(s.Hasher, c.Phone, ref)) }
		text = replyText(lang, client, c, ref, int(s.requestTTL()/time.Minute), child)
	default: // app: it shows in the citizen's list
		return nil, undo, nil
	}
	msg, err := s.Outbox.Message(otpPurpose, c.ID, c.Phone, text, notAfter)
	if err != nil {
		undo(context.WithoutCancel(ctx))
		return nil, nil, err
	}
	return &msg, undo, nil
}

// DeliveryFailed is told of a consent SMS the outbox gave up on (the
// outbox worker's GaveUp): the request, if still pending, is marked denied
// by the system, with details reason=delivery_failed, so that the
// organisation learns at once and a request nobody could have seen is
// never granted by a late reply. Messages of other purposes are ignored.
func (s *Service) DeliveryFailed(ctx context.Context, m wallet.Message) {
	if m.Purpose != otpPurpose || m.Ref == "" {
		return
	}
	c, err := s.Store.Consent(ctx, m.Ref)
	if err != nil || c.Status != wallet.ConsentPending {
		return
	}
	_ = s.failDelivery(ctx, c, wallet.Errorf(wallet.EUNAVAILABLE, "the request could not be delivered"))
}

// failDelivery marks a request that could not reach the citizen denied by the
// system, so that it can never be granted, and returns cause: as it is if it
// carries a domain code, EUNAVAILABLE otherwise (a sender's bare error).
func (s *Service) failDelivery(ctx context.Context, c wallet.Consent, cause error) error {
	if wallet.AsError(cause) == nil {
		cause = wallet.Wrap(wallet.EUNAVAILABLE, cause, "the request could not be delivered")
	}
	ctx = context.WithoutCancel(ctx)
	now := s.now()
	denied, err := s.event(wallet.EventConsentDenied, c, actorSystem, "", map[string]string{"reason": "delivery_failed"}, now)
	if err != nil {
		return cause
	}
	deny := wallet.UpdateConsent{ID: c.ID, Update: func(cur wallet.Consent) (wallet.Consent, error) {
		if cur.Status != wallet.ConsentPending {
			return cur, wallet.Errorf(wallet.ECONFLICT, "consent already decided")
		}
		cur.Status, cur.DecidedAt = wallet.ConsentDenied, &now
		return cur, nil
	}}
	if _, err := s.Changes.Commit(ctx, wallet.Change{Ops: []wallet.Op{deny}, Events: []wallet.Event{denied}}); err != nil {
		// Neither the denial nor its event is stored: the request stays
		// pending, with its history, until it expires.
		return errors.Join(cause, err)
	}
	return cause
}

// newReplyRef draws the reference an sms_reply request's SMS asks to be sent
// back, and keeps it, hashed with the phone, in the short-lived store for as
// long as the request lives, pointing at the request. References are
// distinct among the open requests to one phone, so a reply answers exactly
// the request whose number it carries.
func (s *Service) newReplyRef(ctx context.Context, c wallet.Consent) (string, error) {
	for range 20 {
		ref, err := randomDigits(s.rand(), sms.RefDigits)
		if err != nil {
			return "", err
		}
		ok, err := s.Codes.PutNew(ctx, replyKey(s.Hasher, c.Phone, ref), []byte(c.ID), s.requestTTL())
		if err != nil {
			return "", err
		}
		if ok {
			return ref, nil
		}
	}
	return "", wallet.Errorf(wallet.EUNAVAILABLE, "no free reply number for this phone")
}

// replyKey is where the request a reply reference names is kept.
func replyKey(h *wallet.Hasher, phone, ref string) string {
	return "consent-reply:" + h.Hash("consent-reply", phone+" "+ref)
}

// randomDigits returns n uniformly random decimal digits.
func randomDigits(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	out := make([]byte, 0, n)
	for len(out) < n {
		if _, err := io.ReadFull(r, b); err != nil {
			return "", wallet.Wrap(wallet.EINTERNAL, err, "no randomness")
		}
		for _, x := range b {
			if x < 250 && len(out) < n { // 250 = 25 × 10: no modulo bias
				out = append(out, '0'+x%10)
			}
		}
	}
	return string(out), nil
}

// challengeKey is where the id of an otp request's challenge is kept.
func challengeKey(consentID string) string { return "consent-otp:" + consentID }

// joinTypes lists types for an event's details.
func joinTypes(types []wallet.DocumentType) string {
	s := make([]string, len(types))
	for i, t := range types {
		s[i] = string(t)
	}
	return strings.Join(s, ",")
}
