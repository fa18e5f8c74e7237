package wallet

import (
	"context"
	"io"
	"time"
)

// SessionService manages citizens' refresh tokens. A refresh token is opaque,
// stored only as a hash, and rotated on every use; the tokens of one sign-in
// form a family, and presenting a token that was already rotated revokes the
// whole family (someone else holds a copy).
type SessionService struct {
	Store  SessionStore
	Hasher *Hasher
	Now    func() time.Time
	Rand   io.Reader
	TTL    time.Duration // refresh token lifetime; default 30 days
}

const refreshPurpose = "refresh"

func (s *SessionService) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return 30 * 24 * time.Hour
}

func (s *SessionService) newToken(subject IIN, family string, now time.Time) (RefreshToken, string, error) {
	secret, err := RandomToken(s.Rand, 32)
	if err != nil {
		return RefreshToken{}, "", Wrap(EINTERNAL, err, "could not create token")
	}
	id, err := NewID(s.Rand, "rt_")
	if err != nil {
		return RefreshToken{}, "", Wrap(EINTERNAL, err, "could not create token")
	}
	if family == "" {
		family = id
	}
	t := RefreshToken{
		ID:        id,
		FamilyID:  family,
		Subject:   subject,
		Hash:      s.Hasher.Hash(refreshPurpose, secret),
		CreatedAt: now,
		ExpiresAt: now.Add(s.ttl()),
	}
	return t, secret, nil
}

// Start opens a new family for subject and returns its first refresh token.
func (s *SessionService) Start(ctx context.Context, subject IIN) (string, error) {
	t, secret, err := s.newToken(subject, "", s.Now().UTC())
	if err != nil {
		return "", err
	}
	if err := s.Store.CreateRefreshToken(ctx, t); err != nil {
		return "", err
	}
	return secret, nil
}

// Rotate exchanges a refresh token for the next one of its family. It returns
// EUNAUTHORIZED for an unknown, expired or revoked token, and for a token
// that was already rotated, in which case it revokes the whole family.
func (s *SessionService) Rotate(ctx context.Context, token string) (IIN, string, error) {
	now := s.Now().UTC()
	old, err := s.Store.RefreshTokenByHash(ctx, s.Hasher.Hash(refreshPurpose, token))
	if IsCode(err, ENOTFOUND) {
		return "", "", Errorf(EUNAUTHORIZED, "invalid refresh token")
	}
	if err != nil {
		return "", "", err
	}
	if old.RevokedAt != nil || !now.Before(old.ExpiresAt) {
		return "", "", Errorf(EUNAUTHORIZED, "refresh token expired or revoked")
	}
	if old.RotatedAt != nil {
		return "", "", s.reuse(ctx, old, now)
	}
	next, secret, err := s.newToken(old.Subject, old.FamilyID, now)
	if err != nil {
		return "", "", err
	}
	err = s.Store.RotateRefreshToken(ctx, old.ID, next, now)
	if IsCode(err, ECONFLICT) {
		// Rotated concurrently by someone else: the same token was used twice.
		return "", "", s.reuse(ctx, old, now)
	}
	if err != nil {
		return "", "", err
	}
	return old.Subject, secret, nil
}

func (s *SessionService) reuse(ctx context.Context, t RefreshToken, now time.Time) error {
	if err := s.Store.RevokeRefreshFamily(ctx, t.FamilyID, now); err != nil {
		return err
	}
	return Errorf(EUNAUTHORIZED, "refresh token was already used; the session is revoked")
}

// Revoke ends the family of token (logout). An unknown token is not an error.
func (s *SessionService) Revoke(ctx context.Context, token string) error {
	t, err := s.Store.RefreshTokenByHash(ctx, s.Hasher.Hash(refreshPurpose, token))
	if IsCode(err, ENOTFOUND) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.Store.RevokeRefreshFamily(ctx, t.FamilyID, s.Now().UTC())
}
