package api

import (
	"crypto/ed25519"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/qujat/qujat/signin"
	"github.com/qujat/qujat/wallet"
)

// Token audiences: a citizen's token is refused on organisation endpoints and
// the other way round.
const (
	AudienceCitizen      = "qujat-citizen"
	AudienceOrganisation = "qujat-organisation"
	// AudienceStaff is a staff member's token: it works on staff endpoints
	// only, and no other token works there.
	AudienceStaff = "qujat-staff"
)

// TokenIssuer issues and checks the service's own access tokens: JWTs signed
// with EdDSA. Parsing accepts EdDSA only and requires iss, aud and exp.
type TokenIssuer struct {
	Key    ed25519.PrivateKey
	Issuer string
	Now    func() time.Time
	TTL    time.Duration // default 15 minutes

	// verified remembers tokens whose signature and claims checked out, so
	// that a client's repeated calls cost one Ed25519 verification, not
	// one each. An entry is used only for the same audience and until the
	// token's exp. Revocation (a citizen's session, a disabled
	// organisation) is checked on every request after Parse, so this
	// changes nothing about what is accepted.
	mu       sync.Mutex
	verified map[string]*AccessClaims
}

var _ signin.AccessTokenIssuer = (*TokenIssuer)(nil)

// maxVerified bounds the cache of verified tokens.
const maxVerified = 50000

// AccessClaims are the claims of an access token.
type AccessClaims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope,omitempty"`
	// Session is a citizen's sign-in (refresh-token family): logging out
	// revokes its access tokens.
	Session string `json:"sid,omitempty"`
}

func (t *TokenIssuer) ttl() time.Duration {
	if t.TTL > 0 {
		return t.TTL
	}
	return 15 * time.Minute
}

// Issue signs an access token for subject and audience.
func (t *TokenIssuer) Issue(audience, subject, scope, id string) (string, time.Duration, error) {
	return t.issue(audience, subject, scope, id, "")
}

func (t *TokenIssuer) issue(audience, subject, scope, id, session string) (string, time.Duration, error) {
	now := t.Now().UTC()
	ttl := t.ttl()
	claims := AccessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.Issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        id,
		},
		Scope:   scope,
		Session: session,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["typ"] = "at+jwt"
	s, err := tok.SignedString(t.Key)
	if err != nil {
		return "", 0, wallet.Wrap(wallet.EINTERNAL, err, "could not sign token")
	}
	return s, ttl, nil
}

// IssueCitizenToken signs a citizen's access token for a session
// (signin.AccessTokenIssuer).
func (t *TokenIssuer) IssueCitizenToken(citizen wallet.IIN, session string) (string, time.Duration, error) {
	return t.issue(AudienceCitizen, string(citizen), "", newRequestID(), session)
}

// IssueStaffToken signs a staff member's access token (staff.Tokens).
func (t *TokenIssuer) IssueStaffToken(staffID string) (string, time.Duration, error) {
	return t.issue(AudienceStaff, staffID, "", newRequestID(), "")
}

// AccessTokenTTL is how long the access tokens it issues are valid
// (signin.AccessTokenIssuer).
func (t *TokenIssuer) AccessTokenTTL() time.Duration { return t.ttl() }

// Parse checks an access token for the given audience. Any problem (another
// algorithm, another key, expired, wrong issuer or audience, missing claims)
// is EUNAUTHORIZED.
func (t *TokenIssuer) Parse(token, audience string) (*AccessClaims, error) {
	key := audience + " " + token
	now := t.Now()
	t.mu.Lock()
	c, ok := t.verified[key]
	t.mu.Unlock()
	if ok {
		if now.Before(c.ExpiresAt.Time) && !now.Before(c.NotBefore.Time.Add(-time.Second)) {
			return c, nil
		}
		t.mu.Lock()
		delete(t.verified, key)
		t.mu.Unlock()
	}
	c, err := t.parse(token, audience)
	if err != nil {
		return nil, err
	}
	if c.ExpiresAt != nil && c.NotBefore != nil {
		t.mu.Lock()
		if t.verified == nil || len(t.verified) >= maxVerified {
			t.verified = make(map[string]*AccessClaims)
		}
		t.verified[key] = c
		t.mu.Unlock()
	}
	return c, nil
}

func (t *TokenIssuer) parse(token, audience string) (*AccessClaims, error) {
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(t.Issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.Now),
	)
	var claims AccessClaims
	pub := t.Key.Public()
	_, err := p.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return pub, nil })
	if err != nil || claims.Subject == "" {
		return nil, wallet.Errorf(wallet.EUNAUTHORIZED, "invalid or expired access token")
	}
	return &claims, nil
}
