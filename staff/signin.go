package staff

import (
	"context"
	"time"

	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/wallet"
)

// Challenge is what a caller of Start learns, for active staff and anyone
// else alike.
type Challenge struct {
	ID        string
	ExpiresAt time.Time
}

// Start begins a staff member's sign-in: a code goes by SMS (through the
// durable outbox) to the phone the registry lists for their IIN. An IIN
// that is not an active staff member's, of an enabled organisation, with a
// registered phone, gets a decoy challenge that looks the same, no code
// opens, and a decoy message that is never sent.
//
// EINVALID for a bad IIN; ERATELIMITED with RetryAfter when the phone's
// budget is used up for the hour; EUNAVAILABLE.
func (s *Service) Start(ctx context.Context, iin wallet.IIN, address string) (Challenge, error) {
	iin, err := wallet.ParseIIN(string(iin))
	if err != nil {
		return Challenge{}, err
	}
	if address == "" {
		address = "unknown"
	}
	budgets := []otp.Budget{{Name: "addr:" + address, Limit: CodesPerAddress}, {Name: "all", Limit: CodesPerPhone}}
	lang := s.Language.Of(ctx, iin)
	m, phone, err := s.signable(ctx, iin)
	if err != nil {
		return Challenge{}, err
	}
	if m.ID == "" {
		ch, err := s.OTP.FakeChallenge(ctx, otpPurpose, string(iin), budgets)
		if err != nil {
			return Challenge{}, err
		}
		decoy, err := s.Outbox.Decoy(otpPurpose, len(signInText(lang)("000000")), ch.ExpiresAt)
		if err != nil {
			return Challenge{}, err
		}
		if err := s.Outbox.Enqueue(ctx, decoy); err != nil {
			return Challenge{}, err
		}
		return Challenge{ID: ch.ID, ExpiresAt: ch.ExpiresAt}, nil
	}
	ch, text, err := s.OTP.Issue(ctx, otpPurpose, m.ID, phone, budgets, signInText(lang))
	if err != nil {
		return Challenge{}, err
	}
	msg, err := s.Outbox.Message(otpPurpose, m.ID, phone, text, ch.ExpiresAt)
	if err == nil {
		err = s.Outbox.Enqueue(ctx, msg)
	}
	if err != nil {
		_ = s.OTP.Cancel(context.WithoutCancel(ctx), otpPurpose, ch.ID)
		return Challenge{}, err
	}
	return Challenge{ID: ch.ID, ExpiresAt: ch.ExpiresAt}, nil
}

// signable returns the active staff member with iin and their registered
// phone, or a zero member if there is none who can sign in.
func (s *Service) signable(ctx context.Context, iin wallet.IIN) (wallet.StaffMember, string, error) {
	m, err := s.Store.ActiveStaffByIIN(ctx, iin)
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return wallet.StaffMember{}, "", nil
	}
	if err != nil {
		return wallet.StaffMember{}, "", err
	}
	if _, err := s.Active(ctx, m.ID); wallet.IsCode(err, wallet.EUNAUTHORIZED) {
		return wallet.StaffMember{}, "", nil
	} else if err != nil {
		return wallet.StaffMember{}, "", err
	}
	cz, err := s.Directory.Citizen(ctx, iin)
	if wallet.IsCode(err, wallet.ENOTFOUND) || err == nil && cz.Phone == "" {
		return wallet.StaffMember{}, "", nil
	}
	if err != nil {
		return wallet.StaffMember{}, "", err
	}
	return m, cz.Phone, nil
}

func signInText(lang locale.Lang) func(code string) string {
	return func(code string) string {
		return locale.Format(lang, "sms.signin", map[string]string{"code": code})
	}
}

// Session is a signed-in staff member's access token.
type Session struct {
	Acting
	AccessToken string
	AccessTTL   time.Duration
}

// Finish exchanges a challenge and its code for a staff access token. The
// right code works once.
//
// EINVALID if challengeID or code is empty; EINVALIDCODE for a wrong code;
// EEXPIRED if the challenge expired, was used or was killed by wrong codes;
// EUNAUTHORIZED if the staff member was disabled meanwhile; EUNAVAILABLE;
// EINTERNAL.
func (s *Service) Finish(ctx context.Context, challengeID, code string) (Session, error) {
	if challengeID == "" || code == "" {
		return Session{}, wallet.Errorf(wallet.EINVALID, "challenge_id and code are required")
	}
	id, err := s.OTP.Verify(ctx, otpPurpose, challengeID, code)
	if err != nil {
		return Session{}, err
	}
	a, err := s.Active(ctx, id)
	if err != nil {
		return Session{}, err
	}
	tok, ttl, err := s.Tokens.IssueStaffToken(a.Member.ID)
	if err != nil {
		return Session{}, err
	}
	return Session{Acting: a, AccessToken: tok, AccessTTL: ttl}, nil
}
