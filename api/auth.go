package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/signin"
	"github.com/qujat/qujat/wallet"
)

type signInRequest struct {
	IIN         string `json:"iin"`
	DeviceToken string `json:"device_token"`
}

type challengeResponse struct {
	ChallengeID string    `json:"challenge_id"`
	ExpiresAt   time.Time `json:"expires_at"`
	PhoneHint   string    `json:"phone_hint"`
}

// startSignIn queues a one-time password to the phone registered for the
// IIN (an unknown IIN gets a decoy challenge of the same shape:
// signin.Service), counted against the caller's address or, with a device
// token of this citizen, the known devices' budget.
func (s *Server) startSignIn(c echo.Context) error {
	var req signInRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if len(req.DeviceToken) > 128 {
		return wallet.Errorf(wallet.EINVALID, "device_token is too long")
	}
	ch, err := s.SignIn.Start(c.Request().Context(), wallet.IIN(req.IIN),
		signin.Requester{Address: c.RealIP(), DeviceToken: req.DeviceToken})
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
	DeviceToken  string `json:"device_token,omitempty"`
}

// finishSignIn exchanges a challenge and its code for a token pair.
func (s *Server) finishSignIn(c echo.Context) error {
	var req tokenRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	p, err := s.SignIn.Finish(c.Request().Context(), req.ChallengeID, req.Code)
	if err != nil {
		return err
	}
	return renderPair(c, p)
}

func renderPair(c echo.Context, p signin.Pair) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, tokenResponse{
		AccessToken:  p.AccessToken,
		RefreshToken: p.RefreshToken,
		TokenType:    "Bearer",
		ExpiresIn:    int(p.AccessTTL.Seconds()),
		DeviceToken:  p.DeviceToken,
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
	p, err := s.SignIn.Refresh(c.Request().Context(), req.RefreshToken)
	if err != nil {
		return err
	}
	return renderPair(c, p)
}

// logout revokes the refresh token's family and its access tokens.
func (s *Server) logout(c echo.Context) error {
	var req refreshRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if err := s.SignIn.Logout(c.Request().Context(), req.RefreshToken); err != nil {
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
	a, err := s.SignIn.Account(c.Request().Context(), citizenOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, meResponse{
		IIN: string(a.IIN), Name: a.Name, PhoneHint: a.PhoneHint,
		BirthDate: a.BirthDate.Format(time.DateOnly),
	})
}
