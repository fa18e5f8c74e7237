package signin

import (
	"context"
	"crypto/rand"
	"io"
	"time"

	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/outbox"
	"github.com/qujat/qujat/wallet"
)

// otpPurpose is the purpose of sign-in codes: a code sent for anything else
// (a consent) never signs anyone in.
const otpPurpose = "signin"

// DefaultRefreshTTL is how long a refresh token lives unless
// Service.RefreshTTL says otherwise.
const DefaultRefreshTTL = 30 * 24 * time.Hour

// AccessTokenIssuer mints the short-lived access tokens that go with a
// refresh token (api.TokenIssuer, which also checks them on every request).
type AccessTokenIssuer interface {
	// IssueCitizenToken returns an access token for the citizen in session
	// (the refresh-token family it goes with) and how long it is valid.
	// EINTERNAL if it cannot be signed.
	IssueCitizenToken(citizen wallet.IIN, session string) (token string, ttl time.Duration, err error)
	// AccessTokenTTL is the longest an access token it issues is valid.
	AccessTokenTTL() time.Duration
}

// revokedPrefix is the short-lived store's key prefix of revoked sessions.
const revokedPrefix = "signin:revoked:"

// Service signs citizens in and keeps them signed in. Directory, OTP,
// Outbox, Sessions, Hasher and Access are required; Now, Rand and RefreshTTL default
// to time.Now, crypto/rand and DefaultRefreshTTL. A Service is safe for
// concurrent use.
type Service struct {
	Directory wallet.Directory
	OTP       *otp.Service
	Outbox    *outbox.Queue // where the codes' SMS are written
	Sessions  wallet.SessionStore
	Hasher    *wallet.Hasher
	Access    AccessTokenIssuer
	Now       func() time.Time
	Rand      io.Reader
	// RefreshTTL is how long a refresh token lives.
	RefreshTTL time.Duration
	// Revoked, if set, is where revoked sessions are listed (the
	// short-lived store) for as long as their access tokens live, so that
	// logging out, or a refresh token's reuse, ends the access tokens too
	// (SessionRevoked).
	Revoked wallet.ShortLivedStore
	// Language tells the language of a citizen's SMS (their preference);
	// Kazakh for everyone if nil.
	Language locale.OfCitizen
}

// Challenge is what a caller of Start learns, for a registered IIN and an
// unknown one alike.
type Challenge struct {
	ID        string
	ExpiresAt time.Time
	PhoneHint string // e.g. "+7 701 *** ** 67"
}

// Pair is a signed-in citizen's tokens.
type Pair struct {
	Citizen wallet.IIN
	// Session is the refresh-token family: the sign-in the tokens belong to.
	Session      string
	AccessToken  string
	AccessTTL    time.Duration // how long AccessToken is valid
	RefreshToken string
	// DeviceToken, given at sign-in (Finish), lets this device ask for
	// later codes from the known devices' budget (Requester).
	DeviceToken string
}

// Account is who a signed-in citizen is, as the registry knows them, with
// the phone shown only as a hint.
type Account struct {
	IIN       wallet.IIN
	Name      string
	PhoneHint string
	BirthDate time.Time
}

// Start begins a sign-in: it writes an SMS with a code to the phone the
// registry lists for iin to the durable outbox, in this request, and
// returns the challenge; the outbox worker delivers it. For an IIN the
// registry does not know it returns a decoy challenge that looks the same
// and that no code opens, and writes a decoy message that is never sent:
// both answers, and the work behind them, are the same, and neither waits
// for the SMS gateway.
//
// The codes are counted against the requester's budgets (see
// CodesPerAddress).
//
// EINVALID if iin is not a valid IIN; ERATELIMITED with RetryAfter when a
// budget of the phone (or, for a decoy, of the IIN) is used up for this
// hour; EUNAVAILABLE when the registry, the short-lived store or the
// durable store cannot be reached.
func (s *Service) Start(ctx context.Context, iin wallet.IIN, from Requester) (Challenge, error) {
	iin, err := wallet.ParseIIN(string(iin))
	if err != nil {
		return Challenge{}, err
	}
	budgets := s.budgets(iin, from)
	// The language is looked up for an unknown IIN too (it has none, so
	// Kazakh): the same work, and a decoy text of the same length.
	lang := s.Language.Of(ctx, iin)
	citizen, err := s.Directory.Citizen(ctx, iin)
	if wallet.IsCode(err, wallet.ENOTFOUND) {
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
		return challenge(ch), nil
	}
	if err != nil {
		return Challenge{}, err
	}
	ch, text, err := s.OTP.Issue(ctx, otpPurpose, string(iin), citizen.Phone, budgets, signInText(lang))
	if err != nil {
		return Challenge{}, err
	}
	msg, err := s.Outbox.Message(otpPurpose, "", citizen.Phone, text, ch.ExpiresAt)
	if err == nil {
		err = s.Outbox.Enqueue(ctx, msg)
	}
	if err != nil {
		// A code nobody will receive must not stay guessable. The
		// request context may be what failed, so the cancel gets its own.
		_ = s.OTP.Cancel(context.WithoutCancel(ctx), otpPurpose, ch.ID)
		return Challenge{}, err
	}
	return challenge(ch), nil
}

// signInText returns the text of a sign-in code's SMS in lang.
func signInText(lang locale.Lang) func(code string) string {
	return func(code string) string {
		return locale.Format(lang, "sms.signin", map[string]string{"code": code})
	}
}

func challenge(ch otp.Challenge) Challenge {
	return Challenge{ID: ch.ID, ExpiresAt: ch.ExpiresAt, PhoneHint: ch.PhoneHint}
}

// Finish exchanges a challenge and its code for a token pair, opening a new
// refresh-token family. The right code works once.
//
// EINVALID if challengeID or code is empty or code is not six digits;
// EINVALIDCODE with AttemptsLeft for a wrong code (a decoy's answer to
// every code); EEXPIRED if the challenge expired, was used or was killed by
// wrong codes; EUNAVAILABLE if a store cannot be reached; EINTERNAL if the
// access token cannot be signed.
func (s *Service) Finish(ctx context.Context, challengeID, code string) (Pair, error) {
	iin, err := s.Confirm(ctx, challengeID, code)
	if err != nil {
		return Pair{}, err
	}
	refresh, session, err := s.startFamily(ctx, iin)
	if err != nil {
		return Pair{}, err
	}
	p, err := s.pair(iin, session, refresh)
	if err != nil {
		return Pair{}, err
	}
	if p.DeviceToken, err = s.newDeviceToken(iin); err != nil {
		return Pair{}, err
	}
	return p, nil
}

// Confirm checks a challenge's code, as Finish does and with the same
// limits, and returns the citizen it signs in, without opening a
// refresh-token family: for callers that keep their own session (the web
// pages' cookie sessions). The right code works once.
//
// Errors as Finish, except the token ones.
func (s *Service) Confirm(ctx context.Context, challengeID, code string) (wallet.IIN, error) {
	if challengeID == "" || code == "" {
		return "", wallet.Errorf(wallet.EINVALID, "challenge_id and code are required")
	}
	subject, err := s.OTP.Verify(ctx, otpPurpose, challengeID, code)
	if err != nil {
		return "", err
	}
	iin, err := wallet.ParseIIN(subject)
	if err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "bad subject in challenge")
	}
	return iin, nil
}

// Refresh exchanges a refresh token for the next one of its family and a
// new access token.
//
// EINVALID if refreshToken is empty; EUNAUTHORIZED for an unknown, expired
// or revoked token, and for a token that was already rotated, in which case
// the whole family is revoked first; EUNAVAILABLE if the store cannot be
// reached; EINTERNAL if the access token cannot be signed.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Pair, error) {
	if refreshToken == "" {
		return Pair{}, wallet.Errorf(wallet.EINVALID, "refresh_token is required")
	}
	iin, session, next, err := s.rotate(ctx, refreshToken)
	if err != nil {
		return Pair{}, err
	}
	return s.pair(iin, session, next)
}

// Logout revokes the family of refreshToken: none of its tokens refreshes
// again, and with Revoked set the access tokens of the session are refused
// too (SessionRevoked). An unknown token is not an error.
//
// EINVALID if refreshToken is empty; EUNAVAILABLE if the store cannot be
// reached.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	if refreshToken == "" {
		return wallet.Errorf(wallet.EINVALID, "refresh_token is required")
	}
	return s.revokeFamily(ctx, refreshToken)
}

// Account returns who the signed-in citizen iin is, as the registry says.
// ENOTFOUND if the registry no longer knows them; EUNAVAILABLE if it cannot
// be reached.
func (s *Service) Account(ctx context.Context, iin wallet.IIN) (Account, error) {
	cz, err := s.Directory.Citizen(ctx, iin)
	if err != nil {
		return Account{}, err
	}
	return Account{IIN: cz.IIN, Name: cz.Name, PhoneHint: otp.PhoneHint(cz.Phone), BirthDate: cz.BirthDate}, nil
}

// SessionRevoked reports whether session (an access token's refresh-token
// family) was revoked while its access tokens may still be valid: by
// logout or by a refresh token's reuse. False without Revoked.
// EUNAVAILABLE if the store cannot be reached.
func (s *Service) SessionRevoked(ctx context.Context, session string) (bool, error) {
	if s.Revoked == nil || session == "" {
		return false, nil
	}
	_, err := s.Revoked.Get(ctx, revokedPrefix+session)
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// revokeSession lists session as revoked for as long as its access tokens
// may live.
func (s *Service) revokeSession(ctx context.Context, session string) error {
	if s.Revoked == nil {
		return nil
	}
	return s.Revoked.Put(ctx, revokedPrefix+session, []byte("1"), s.Access.AccessTokenTTL()+time.Minute)
}

// pair mints the access token that goes with refresh.
func (s *Service) pair(iin wallet.IIN, session, refresh string) (Pair, error) {
	access, ttl, err := s.Access.IssueCitizenToken(iin, session)
	if err != nil {
		return Pair{}, err
	}
	return Pair{Citizen: iin, Session: session, AccessToken: access, AccessTTL: ttl, RefreshToken: refresh}, nil
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func (s *Service) rand() io.Reader {
	if s.Rand == nil {
		return rand.Reader
	}
	return s.Rand
}

func (s *Service) refreshTTL() time.Duration {
	if s.RefreshTTL > 0 {
		return s.RefreshTTL
	}
	return DefaultRefreshTTL
}
