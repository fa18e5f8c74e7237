package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/wallet"
)

type preferencesBody struct {
	Language *string `json:"language"`
}

type preferencesResponse struct {
	Language locale.Lang `json:"language"`
}

// myPreferences answers the caller's preferences; a citizen who set none
// has the defaults (Kazakh).
func (s *Server) myPreferences(c echo.Context) error {
	if s.Preferences == nil {
		return wallet.Errorf(wallet.ENOTFOUND, "no such resource")
	}
	p, err := s.Preferences.Preferences(c.Request().Context(), citizenOf(c))
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
		return c.JSON(http.StatusOK, preferencesResponse{Language: locale.Default})
	case err != nil:
		return err
	}
	lang := locale.Lang(p.Language)
	if !lang.Valid() {
		lang = locale.Default
	}
	return c.JSON(http.StatusOK, preferencesResponse{Language: lang})
}

// setPreferences stores the caller's language: the SMS Qujat sends them
// (sign-in codes, consent requests) are written in it from now on.
func (s *Server) setPreferences(c echo.Context) error {
	if s.Preferences == nil {
		return wallet.Errorf(wallet.ENOTFOUND, "no such resource")
	}
	var req preferencesBody
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.Language == nil {
		return wallet.Errorf(wallet.EINVALID, "language is required")
	}
	lang, err := locale.Parse(*req.Language)
	if err != nil {
		return err
	}
	err = s.Preferences.SavePreferences(c.Request().Context(), wallet.Preferences{
		IIN: citizenOf(c), Language: string(lang), UpdatedAt: s.Now().UTC(),
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, preferencesResponse{Language: lang})
}
