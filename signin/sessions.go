package signin

import (
	"context"
	"time"

	"github.com/qujat/qujat/wallet"
)

// Refresh tokens are opaque (32 random bytes), stored only as their hash
// under wallet.SecretRefreshToken, and rotated on every use. The tokens of
// one sign-in form a family whose id is its first token's id.

// newRefreshToken makes the next token of family ("" opens a new family)
// and returns it with its secret, the only time the secret exists in clear.
func (s *Service) newRefreshToken(subject wallet.IIN, family string, now time.Time) (wallet.RefreshToken, string, error) {
	secret, err := wallet.RandomToken(s.rand(), 32)
	if err != nil {
		return wallet.RefreshToken{}, "", wallet.Wrap(wallet.EINTERNAL, err, "could not create token")
	}
	id, err := wallet.NewID(s.rand(), "rt_")
	if err != nil {
		return wallet.RefreshToken{}, "", wallet.Wrap(wallet.EINTERNAL, err, "could not create token")
	}
	if family == "" {
		family = id
	}
	t := wallet.RefreshToken{
		ID:        id,
		FamilyID:  family,
		Subject:   subject,
		Hash:      s.Hasher.Hash(wallet.SecretRefreshToken, secret),
		CreatedAt: now,
		ExpiresAt: now.Add(s.refreshTTL()),
	}
	return t, secret, nil
}

// startFamily opens a new family for subject and returns its first refresh
// token and the family's id.
func (s *Service) startFamily(ctx context.Context, subject wallet.IIN) (string, string, error) {
	t, secret, err := s.newRefreshToken(subject, "", s.now())
	if err != nil {
		return "", "", err
	}
	if err := s.Sessions.CreateRefreshToken(ctx, t); err != nil {
		return "", "", err
	}
	return secret, t.FamilyID, nil
}

// rotate exchanges a refresh token for the next one of its family and
// returns the subject, the family and the new token. It returns
// EUNAUTHORIZED for an unknown, expired or revoked token, and for a token
// that was already rotated, in which case it revokes the whole family.
func (s *Service) rotate(ctx context.Context, token string) (wallet.IIN, string, string, error) {
	now := s.now()
	old, err := s.Sessions.RefreshTokenByHash(ctx, s.Hasher.Hash(wallet.SecretRefreshToken, token))
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return "", "", "", wallet.Errorf(wallet.EUNAUTHORIZED, "invalid refresh token")
	}
	if err != nil {
		return "", "", "", err
	}
	if old.RevokedAt != nil || !now.Before(old.ExpiresAt) {
		return "", "", "", wallet.Errorf(wallet.EUNAUTHORIZED, "refresh token expired or revoked")
	}
	if old.RotatedAt != nil {
		return "", "", "", s.reused(ctx, old, now)
	}
	next, secret, err := s.newRefreshToken(old.Subject, old.FamilyID, now)
	if err != nil {
		return "", "", "", err
	}
	err = s.Sessions.RotateRefreshToken(ctx, old.ID, next, now)
	if wallet.IsCode(err, wallet.ECONFLICT) {
		// Rotated concurrently by someone else: the same token was used twice.
		return "", "", "", s.reused(ctx, old, now)
	}
	if err != nil {
		return "", "", "", err
	}
	return old.Subject, old.FamilyID, secret, nil
}

// reused revokes the family of a token presented a second time: one of the
// two presenters is not its owner, and nobody can tell which.
func (s *Service) reused(ctx context.Context, t wallet.RefreshToken, now time.Time) error {
	if err := s.Sessions.RevokeRefreshFamily(ctx, t.FamilyID, now); err != nil {
		return err
	}
	if err := s.revokeSession(ctx, t.FamilyID); err != nil {
		return err
	}
	return wallet.Errorf(wallet.EUNAUTHORIZED, "refresh token was already used; the session is revoked")
}

// revokeFamily ends the family of token. An unknown token is not an error.
func (s *Service) revokeFamily(ctx context.Context, token string) error {
	t, err := s.Sessions.RefreshTokenByHash(ctx, s.Hasher.Hash(wallet.SecretRefreshToken, token))
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.Sessions.RevokeRefreshFamily(ctx, t.FamilyID, s.now()); err != nil {
		return err
	}
	return s.revokeSession(ctx, t.FamilyID)
}
