package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/wallet"
)

const signInPurpose = "signin"

type signInRequest struct {
	IIN string `json:"iin"`
}

type challengeResponse struct {
	ChallengeID string    `json:"challenge_id"`
	ExpiresAt   time.Time `json:"expires_at"`
	PhoneHint   string    `json:"phone_hint"`
}

// startSignIn sends a one-time password to the phone registered for the IIN.
// An unknown but valid IIN gets the same answer (and no SMS), so the endpoint
// does not reveal who is registered.
func (s *Server) startSignIn(c echo.Context) error {
	var req signInRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	iin, err := wallet.ParseIIN(req.IIN)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	citizen, err := s.Directory.Citizen(ctx, iin)
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		ch, err := s.OTP.FakeChallenge(ctx, signInPurpose, string(iin))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusAccepted, challengeResponse{ch.ID, ch.ExpiresAt, ch.PhoneHint})
	}
	if err != nil {
		return err
	}
	ch, err := s.OTP.Issue(ctx, signInPurpose, string(iin), citizen.Phone, func(code string) string {
		return fmt.Sprintf("Qujat: your sign-in code is %s. Do not tell it to anyone.", code)
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, challengeResponse{ch.ID, ch.ExpiresAt, ch.PhoneHint})
}

type tokenRequest struct {
	ChallengeID string `json:"challenge_id"`
	Code        string `json:"code"`
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
}

// finishSignIn exchanges a challenge and its code for a token pair.
func (s *Server) finishSignIn(c echo.Context) error {
	var req tokenRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.ChallengeID == "" || req.Code == "" {
		return wallet.Errorf(wallet.EINVALID, "challenge_id and code are required")
	}
	ctx := c.Request().Context()
	subject, err := s.OTP.Verify(ctx, signInPurpose, req.ChallengeID, req.Code)
	if err != nil {
		return err
	}
	iin, err := wallet.ParseIIN(subject)
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "bad subject in challenge")
	}
	refresh, err := s.Sessions.Start(ctx, iin)
	if err != nil {
		return err
	}
	return s.issuePair(c, iin, refresh)
}

func (s *Server) issuePair(c echo.Context, iin wallet.IIN, refresh string) error {
	access, ttl, err := s.Tokens.Issue(AudienceCitizen, string(iin), "", newRequestID())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, tokenResponse{
		AccessToken:  access,
		RefreshToken: refresh,
		TokenType:    "Bearer",
		ExpiresIn:    int(ttl.Seconds()),
	})
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// refreshSession rotates a refresh token.
func (s *Server) refreshSession(c echo.Context) error {
	var req refreshRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.RefreshToken == "" {
		return wallet.Errorf(wallet.EINVALID, "refresh_token is required")
	}
	iin, next, err := s.Sessions.Rotate(c.Request().Context(), req.RefreshToken)
	if err != nil {
		return err
	}
	return s.issuePair(c, iin, next)
}

// logout revokes the refresh token's family.
func (s *Server) logout(c echo.Context) error {
	var req refreshRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.RefreshToken == "" {
		return wallet.Errorf(wallet.EINVALID, "refresh_token is required")
	}
	if err := s.Sessions.Revoke(c.Request().Context(), req.RefreshToken); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type meResponse struct {
	IIN       string `json:"iin"`
	Name      string `json:"name"`
	PhoneHint string `json:"phone_hint"`
	BirthDate string `json:"birth_date"`
}

// me returns who the caller is, as the registry knows them.
func (s *Server) me(c echo.Context) error {
	iin := citizenOf(c)
	cz, err := s.Directory.Citizen(c.Request().Context(), iin)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, meResponse{
		IIN: string(cz.IIN), Name: cz.Name, PhoneHint: otp.PhoneHint(cz.Phone),
		BirthDate: cz.BirthDate.Format(time.DateOnly),
	})
}
