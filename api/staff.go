package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/staff"
	"github.com/qujat/qujat/wallet"
)

const ctxStaff = "qujat.staff"

// staffOnly admits requests that carry a valid staff access token of a
// staff member who is still active, for an organisation still enabled.
// Citizens' and organisations' tokens are refused here (another audience),
// as staff tokens are everywhere else.
func (s *Server) staffOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok, ok := bearer(c)
		if !ok {
			return wallet.Errorf(wallet.EUNAUTHORIZED, "missing bearer token")
		}
		claims, err := s.Tokens.Parse(tok, AudienceStaff)
		if err != nil {
			return err
		}
		a, err := s.Staff.Active(c.Request().Context(), claims.Subject)
		if err != nil {
			return err
		}
		c.Set(ctxStaff, a)
		return next(c)
	}
}

// acting returns the staff member admitted by staffOnly.
func acting(c echo.Context) staff.Acting {
	a, _ := c.Get(ctxStaff).(staff.Acting)
	return a
}

type staffSignInRequest struct {
	IIN string `json:"iin"`
}

type staffChallengeResponse struct {
	ChallengeID string    `json:"challenge_id"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// startStaffSignIn sends a staff member a sign-in code; anyone else gets
// the same answer and no SMS.
func (s *Server) startStaffSignIn(c echo.Context) error {
	var req staffSignInRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	ch, err := s.Staff.Start(c.Request().Context(), wallet.IIN(req.IIN), c.RealIP())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, staffChallengeResponse{ch.ID, ch.ExpiresAt})
}

type organisationJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
}

type staffJSON struct {
	ID           string           `json:"id"`
	Name         string           `json:"name"`
	Role         string           `json:"role"`
	KeyID        string           `json:"key_id"`
	Organisation organisationJSON `json:"organisation"`
}

func staffOf(a staff.Acting) staffJSON {
	return staffJSON{
		ID: a.Member.ID, Name: a.Member.Name, Role: a.Member.Role, KeyID: a.Member.KeyID,
		Organisation: organisationJSON{ID: a.Organisation.ID, Name: a.Organisation.Name, Kind: a.Organisation.Kind},
	}
}

type staffTokenResponse struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	ExpiresIn   int       `json:"expires_in"`
	Staff       staffJSON `json:"staff"`
}

// finishStaffSignIn exchanges a staff challenge and its code for a staff
// access token.
func (s *Server) finishStaffSignIn(c echo.Context) error {
	var req tokenRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	sess, err := s.Staff.Finish(c.Request().Context(), req.ChallengeID, req.Code)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, staffTokenResponse{
		AccessToken: sess.AccessToken, TokenType: "Bearer", ExpiresIn: int(sess.AccessTTL / time.Second),
		Staff: staffOf(sess.Acting),
	})
}

// centreMe says who the signed-in staff member is.
func (s *Server) centreMe(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]staffJSON{"staff": staffOf(acting(c))})
}

// staffKeys publishes the staff's public keys with their holders.
func (s *Server) staffKeys(c echo.Context) error {
	keys, err := s.Staff.PublicKeys(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=60")
	return c.JSON(http.StatusOK, map[string][]staff.PublishedKey{"keys": keys})
}
