package consent

import (
	"context"
	"time"

	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/wallet"
)

// Status returns the effective status of c at now: its stored status, or
// expired for a request still pending at RequestExpiresAt or a grant at
// GrantExpiresAt.
func Status(c wallet.Consent, now time.Time) string {
	switch c.Status {
	case wallet.ConsentPending:
		if !now.Before(c.RequestExpiresAt) {
			return wallet.ConsentExpired
		}
	case wallet.ConsentGranted:
		if c.GrantExpiresAt != nil && !now.Before(*c.GrantExpiresAt) {
			return wallet.ConsentExpired
		}
	}
	return c.Status
}

// withStatus returns c with its effective status at now in Status.
func withStatus(c wallet.Consent, now time.Time) wallet.Consent {
	c.Status = Status(c, now)
	return c
}

// decision is one transition of a consent.
type decision struct {
	to        string // granted, denied or revoked
	actorKind string
	actorID   string
	details   map[string]string
}

// decide applies d to the consent, as it is inside the change's
// transaction, at the time now judges expiry, and commits it with its event
// (one wallet.Change). check, if set, runs on the consent as stored before
// the transition rules. It returns the consent with its
// effective status.
//
// EEXPIRED if the request (for granted or denied) or the grant (for revoked)
// has expired; ECONFLICT if the consent is in any other state than the
// transition needs ("consent already decided"); errors of check and of the
// store as they are.
func (s *Service) decide(ctx context.Context, id string, d decision, check func(wallet.Consent) error) (wallet.Consent, error) {
	kind := map[string]string{
		wallet.ConsentGranted: wallet.EventConsentGranted,
		wallet.ConsentDenied:  wallet.EventConsentDenied,
		wallet.ConsentRevoked: wallet.EventConsentRevoked,
	}[d.to]
	now := s.now()
	var updated wallet.Consent
	op := wallet.UpdateConsent{ID: id, Result: &updated, Update: func(c wallet.Consent) (wallet.Consent, error) {
		if check != nil {
			if err := check(c); err != nil {
				return c, err
			}
		}
		return transition(c, d.to, now)
	}}
	// The event's subject is the consent's; it is read before the change
	// and checked inside it (the consent's subject never changes).
	cur, err := s.Store.Consent(ctx, id)
	if err != nil {
		return wallet.Consent{}, err
	}
	ev, err := s.event(kind, cur, d.actorKind, d.actorID, d.details, now)
	if err != nil {
		return wallet.Consent{}, err
	}
	// The transition is judged on the consent as it is inside the change's
	// transaction, and committed with its event, or neither is.
	if _, err := s.Changes.Commit(ctx, wallet.Change{Ops: []wallet.Op{op}, Events: []wallet.Event{ev}}); err != nil {
		return wallet.Consent{}, err
	}
	if d.to != wallet.ConsentRevoked && updated.Method == wallet.ConsentOTP {
		s.dropChallenge(ctx, updated.ID)
	}
	return withStatus(updated, now), nil
}

// transition returns c moved to status to at now, or why it cannot move.
func transition(c wallet.Consent, to string, now time.Time) (wallet.Consent, error) {
	eff := Status(c, now)
	switch to {
	case wallet.ConsentGranted, wallet.ConsentDenied:
		switch eff {
		case wallet.ConsentPending:
		case wallet.ConsentExpired:
			if c.Status == wallet.ConsentPending {
				return c, wallet.Errorf(wallet.EEXPIRED, "consent request expired")
			}
			return c, alreadyDecided()
		default:
			return c, alreadyDecided()
		}
		t := now
		c.Status, c.DecidedAt = to, &t
		if to == wallet.ConsentGranted {
			exp := now.Add(c.ValidFor)
			c.GrantExpiresAt = &exp
		}
		return c, nil
	case wallet.ConsentRevoked:
		switch {
		case eff == wallet.ConsentGranted:
		case eff == wallet.ConsentExpired && c.Status == wallet.ConsentGranted:
			return c, wallet.Errorf(wallet.EEXPIRED, "consent already expired")
		default:
			return c, wallet.Errorf(wallet.ECONFLICT, "only a granted consent can be revoked")
		}
		t := now
		c.Status, c.RevokedAt = wallet.ConsentRevoked, &t
		return c, nil
	}
	return c, wallet.Errorf(wallet.EINTERNAL, "unknown consent transition to %q", to)
}

func alreadyDecided() *wallet.Error {
	return wallet.Errorf(wallet.ECONFLICT, "consent already decided")
}

// dropChallenge kills the code of an otp request that was decided, so that
// it stops working at once. Best effort: an undeletable code can no longer
// grant anything, since the consent is no longer pending.
func (s *Service) dropChallenge(ctx context.Context, consentID string) {
	ctx = context.WithoutCancel(ctx)
	key := challengeKey(consentID)
	if b, err := s.Codes.Get(ctx, key); err == nil {
		_ = s.OTP.Cancel(ctx, otpPurpose, string(b))
	}
	_ = s.Codes.Delete(ctx, key)
}

// SubmitOTP grants an otp request with the code the citizen read out to the
// organisation. The consent must be the client's (ENOTFOUND otherwise: a
// client cannot tell another client's consent from none).
//
// It returns EUNAUTHORIZED if the client is unknown or disabled; ECONFLICT
// if the request's method is not otp or it was already decided; EEXPIRED if
// the request expired, or its code did (codes live shorter than requests)
// or was killed by wrong codes; EINVALID if code is not six digits;
// EINVALIDCODE with AttemptsLeft for a wrong code; EUNAVAILABLE if a store
// cannot be reached.
func (s *Service) SubmitOTP(ctx context.Context, clientID, consentID, code string) (wallet.Consent, error) {
	if _, err := s.activeClient(ctx, clientID); err != nil {
		return wallet.Consent{}, err
	}
	c, err := s.clientConsent(ctx, clientID, consentID)
	if err != nil {
		return wallet.Consent{}, err
	}
	if c.Method != wallet.ConsentOTP {
		return wallet.Consent{}, wallet.Errorf(wallet.ECONFLICT, "this consent is not confirmed by a code")
	}
	if _, err := transition(c, wallet.ConsentGranted, s.now()); err != nil {
		return wallet.Consent{}, err
	}
	challenge, err := s.Codes.Get(ctx, challengeKey(c.ID))
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
		return wallet.Consent{}, wallet.Errorf(wallet.EEXPIRED, "the code has expired")
	case err != nil:
		return wallet.Consent{}, err
	}
	subject, err := s.OTP.Verify(ctx, otpPurpose, string(challenge), code)
	if err != nil {
		return wallet.Consent{}, err
	}
	if subject != c.ID {
		// Cannot happen unless the short-lived store was tampered with.
		return wallet.Consent{}, wallet.Errorf(wallet.EEXPIRED, "the code has expired")
	}
	kind, actor, err := s.askedActor(ctx, c)
	if err != nil {
		return wallet.Consent{}, err
	}
	return s.decide(ctx, c.ID, decision{
		to:        wallet.ConsentGranted,
		actorKind: kind,
		actorID:   actor,
		details:   map[string]string{"channel": wallet.ConsentOTP, "client_id": c.ClientID},
	}, nil)
}

// Limits of inbound replies.
const (
	// InboundWindow is how old a gateway message may be (by its received_at)
	// and still be accepted: an older one is refused as a replay.
	InboundWindow = 10 * time.Minute
	// InboundClockSkew is how far in the future a received_at may be.
	InboundClockSkew = time.Minute
	// inboundSeenTTL is how long a gateway message id is remembered: longer
	// than any message can stay inside the window, so a duplicate delivery
	// is refused by its id or, later, by its age.
	inboundSeenTTL = 2 * (InboundWindow + InboundClockSkew)
)

// Inbound applies a citizen's SMS reply, already verified as coming from the
// gateway, to the one request it names: the reply must carry the reference
// the request's SMS gave ("Reply YES 4821"), and is read only as coming from
// the phone that SMS went to. YES grants it, NO denies it. Each gateway
// message is accepted once: its id is remembered for longer than the window,
// and a message received more than InboundWindow ago is refused, so neither
// a second delivery nor a replayed signed call answers anything. A reply
// received before the request was made never answers it.
//
// It returns EINVALID if from is not a phone number, the message id or
// received_at is missing, received_at is more than InboundClockSkew in the
// future, or the text is not a yes or no with a reference; EEXPIRED if the
// message was received more than InboundWindow ago (a replay); ECONFLICT if
// the message id was accepted before (a duplicate delivery), or the request
// was decided meanwhile; ENOTFOUND if no live sms_reply request with that
// reference was sent to that phone; EEXPIRED if the request expired;
// EUNAVAILABLE if a store cannot be reached (the message id is then
// forgotten, so the gateway may retry).
func (s *Service) Inbound(ctx context.Context, in sms.Inbound) (wallet.Consent, error) {
	phone, err := sms.NormalizePhone(in.From)
	if err != nil {
		return wallet.Consent{}, err
	}
	if in.MessageID == "" {
		return wallet.Consent{}, wallet.Errorf(wallet.EINVALID, "the gateway message id is required")
	}
	now := s.now()
	at := in.ReceivedAt.UTC()
	switch {
	case at.IsZero():
		return wallet.Consent{}, wallet.Errorf(wallet.EINVALID, "the time the message was received is required")
	case at.After(now.Add(InboundClockSkew)):
		return wallet.Consent{}, wallet.Errorf(wallet.EINVALID, "the message was received in the future")
	case at.Before(now.Add(-InboundWindow)):
		return wallet.Consent{}, wallet.Errorf(wallet.EEXPIRED, "the message was received more than %d minutes ago; replays are refused", int(InboundWindow/time.Minute))
	}
	if at.After(now) {
		at = now
	}
	yes, ref, ok := sms.ParseReply(in.Text)
	if !ok {
		return wallet.Consent{}, wallet.Errorf(wallet.EINVALID, "the reply is neither yes nor no")
	}
	if ref == "" {
		return wallet.Consent{}, wallet.Errorf(wallet.EINVALID, "the reply must carry the request's %d-digit number, as in YES 4821", sms.RefDigits)
	}
	seen := "sms-inbound:" + s.Hasher.Hash("sms-inbound", in.MessageID)
	fresh, err := s.Codes.PutNew(ctx, seen, []byte{1}, inboundSeenTTL)
	if err != nil {
		return wallet.Consent{}, err
	}
	if !fresh {
		return wallet.Consent{}, wallet.Errorf(wallet.ECONFLICT, "this gateway message was already accepted; a message answers once")
	}
	c, err := s.inboundReply(ctx, phone, ref, yes, at)
	if wallet.IsCode(err, wallet.EUNAVAILABLE) {
		// Nothing was decided: let the gateway deliver it again.
		_ = s.Codes.Delete(context.WithoutCancel(ctx), seen)
	}
	return c, err
}

func (s *Service) inboundReply(ctx context.Context, phone, ref string, yes bool, at time.Time) (wallet.Consent, error) {
	notFound := wallet.Errorf(wallet.ENOTFOUND, "no pending request with this number was sent to this phone")
	key := replyKey(s.Hasher, phone, ref)
	id, err := s.Codes.Get(ctx, key)
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
		return wallet.Consent{}, notFound
	case err != nil:
		return wallet.Consent{}, err
	}
	cur, err := s.Store.Consent(ctx, string(id))
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
		return wallet.Consent{}, notFound
	case err != nil:
		return wallet.Consent{}, err
	}
	to := wallet.ConsentDenied
	if yes {
		to = wallet.ConsentGranted
	}
	kind, actor, err := s.askedActor(ctx, cur)
	if err != nil {
		return wallet.Consent{}, err
	}
	c, err := s.decide(ctx, cur.ID, decision{
		to:        to,
		actorKind: kind,
		actorID:   actor,
		details:   map[string]string{"channel": wallet.ConsentSMSReply, "client_id": cur.ClientID},
	}, func(c wallet.Consent) error {
		if c.Phone != phone || c.Method != wallet.ConsentSMSReply || at.Before(c.CreatedAt) {
			return notFound
		}
		return nil
	})
	if err == nil || wallet.IsCode(err, wallet.ECONFLICT) || wallet.IsCode(err, wallet.EEXPIRED) {
		// The reference has done its work.
		_ = s.Codes.Delete(context.WithoutCancel(ctx), key)
	}
	return c, err
}

// ConsentsOf returns the citizen's consents, every status, newest first,
// with their effective status. EUNAVAILABLE if the store cannot be reached.
func (s *Service) ConsentsOf(ctx context.Context, subject wallet.IIN) ([]wallet.Consent, error) {
	cs, err := s.Store.ConsentsOfSubject(ctx, subject)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for i := range cs {
		cs[i] = withStatus(cs[i], now)
	}
	return cs, nil
}

// Approve grants a pending request in the app, whatever its method, for
// caller: the consent's subject, or, when the subject is a minor, their
// legal representative (the minor cannot: EFORBIDDEN). ENOTFOUND for
// anyone else; EEXPIRED if the request expired; ECONFLICT if it was
// already decided; EUNAVAILABLE.
func (s *Service) Approve(ctx context.Context, subject wallet.IIN, id string) (wallet.Consent, error) {
	return s.citizenDecides(ctx, subject, id, wallet.ConsentGranted)
}

// Deny refuses a pending request of the citizen. Errors as Approve.
func (s *Service) Deny(ctx context.Context, subject wallet.IIN, id string) (wallet.Consent, error) {
	return s.citizenDecides(ctx, subject, id, wallet.ConsentDenied)
}

// Revoke ends a live grant at once: from then on Release refuses it. Who
// may is as for Approve; EEXPIRED if
// the grant has already expired; ECONFLICT if it is not granted (pending,
// denied or already revoked); EUNAVAILABLE.
func (s *Service) Revoke(ctx context.Context, subject wallet.IIN, id string) (wallet.Consent, error) {
	return s.citizenDecides(ctx, subject, id, wallet.ConsentRevoked)
}

func (s *Service) citizenDecides(ctx context.Context, caller wallet.IIN, id, to string) (wallet.Consent, error) {
	notFound := wallet.Errorf(wallet.ENOTFOUND, "no such consent")
	if caller == "" || id == "" {
		return wallet.Consent{}, notFound
	}
	cur, err := s.Store.Consent(ctx, id)
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return wallet.Consent{}, notFound
	}
	if err != nil {
		return wallet.Consent{}, err
	}
	kind, err := s.decider(ctx, caller, cur.SubjectIIN)
	if err != nil {
		return wallet.Consent{}, err
	}
	c, err := s.decide(ctx, id, decision{
		to:        to,
		actorKind: kind,
		actorID:   string(caller),
		details:   map[string]string{"channel": wallet.ConsentApp},
	}, func(c wallet.Consent) error {
		if c.SubjectIIN != cur.SubjectIIN {
			return notFound
		}
		return nil
	})
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return wallet.Consent{}, notFound // the same answer for a missing id
	}
	return c, err
}

// decider says whether caller decides requests about subject, and as
// what: an adult for themselves (ViewerCitizen), a legal representative
// for a minor they represent today (ViewerGuardian). A minor does not
// decide their own: EFORBIDDEN. ENOTFOUND for anyone else (a consent of
// someone else is not told from none); EUNAVAILABLE if the registry
// cannot be reached.
func (s *Service) decider(ctx context.Context, caller, subject wallet.IIN) (string, error) {
	if caller != subject {
		err := s.guardianship().IsGuardianOf(ctx, caller, subject)
		if wallet.IsCode(err, wallet.ENOTFOUND) {
			return "", wallet.Errorf(wallet.ENOTFOUND, "no such consent")
		}
		return wallet.ViewerGuardian, err
	}
	cz, err := s.Directory.Citizen(ctx, subject)
	if err != nil {
		return "", err
	}
	if wallet.IsMinor(cz.BirthDate, s.now()) {
		return "", wallet.Errorf(wallet.EFORBIDDEN, "a minor's consent requests are decided by their legal representative")
	}
	return wallet.ViewerCitizen, nil
}

// askedActor is who decided a request by answering on the phone it was
// sent to: its subject, or the legal representative whose phone it is.
func (s *Service) askedActor(ctx context.Context, c wallet.Consent) (string, string, error) {
	reps, err := s.Directory.Guardians(ctx, c.SubjectIIN)
	if err != nil && !wallet.IsCode(err, wallet.ENOTFOUND) {
		return "", "", err
	}
	for _, iin := range reps {
		rep, err := s.Directory.Citizen(ctx, iin)
		if err != nil {
			continue
		}
		if p, err := sms.NormalizePhone(rep.Phone); err == nil && p == c.Phone {
			return wallet.ViewerGuardian, string(iin), nil
		}
	}
	return wallet.ViewerCitizen, string(c.SubjectIIN), nil
}

func (s *Service) guardianship() wallet.Guardianship {
	return wallet.Guardianship{Directory: s.Directory, Now: s.now}
}

// ConsentsFor returns the consents caller decides: their own and, for a
// legal representative, those of the minors they represent today, every
// status, newest first within each citizen. EUNAVAILABLE if a store or
// the registry cannot be reached.
func (s *Service) ConsentsFor(ctx context.Context, caller wallet.IIN) ([]wallet.Consent, error) {
	out, err := s.ConsentsOf(ctx, caller)
	if err != nil {
		return nil, err
	}
	me, err := s.Directory.Citizen(ctx, caller)
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, ward := range me.GuardianOf {
		if s.guardianship().IsGuardianOf(ctx, caller, ward) != nil {
			continue
		}
		cs, err := s.ConsentsOf(ctx, ward)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}
