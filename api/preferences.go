package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/wallet"
)

// notificationChoices are the kinds of notification a citizen turns on or
// off; voided codes are always sent and are not among them.
type notificationChoices struct {
	Views      *bool `json:"views"`
	Consents   *bool `json:"consents"`
	Duplicates *bool `json:"duplicates"`
	Cases      *bool `json:"cases"`
}

type preferencesBody struct {
	Language      *string              `json:"language"`
	Notifications *notificationChoices `json:"notifications"`
}

type choicesResponse struct {
	Views      bool `json:"views"`
	Consents   bool `json:"consents"`
	Duplicates bool `json:"duplicates"`
	Cases      bool `json:"cases"`
}

type preferencesResponse struct {
	Language      locale.Lang     `json:"language"`
	Notifications choicesResponse `json:"notifications"`
}

func preferencesOut(p wallet.Preferences) preferencesResponse {
	lang := locale.Lang(p.Language)
	if !lang.Valid() {
		lang = locale.Default
	}
	n := p.Notifications
	return preferencesResponse{Language: lang, Notifications: choicesResponse{n.Views, n.Consents, n.Duplicates, n.Cases}}
}

// storedPreferences returns the caller's preferences, or the defaults
// (Kazakh, every notification on) for a citizen who set none.
func (s *Server) storedPreferences(c echo.Context) (wallet.Preferences, error) {
	iin := citizenOf(c)
	p, err := s.Preferences.Preferences(c.Request().Context(), iin)
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return wallet.Preferences{IIN: iin, Language: string(locale.Default), Notifications: wallet.DefaultNotifications}, nil
	}
	return p, err
}

// myPreferences answers the caller's preferences.
func (s *Server) myPreferences(c echo.Context) error {
	if s.Preferences == nil {
		return wallet.Errorf(wallet.ENOTFOUND, "no such resource")
	}
	p, err := s.storedPreferences(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, preferencesOut(p))
}

// setPreferences stores the caller's language (the SMS and notifications
// Qujat sends them are written in it from now on) and which kinds of
// notification they want; what the body leaves out stays as it was.
func (s *Server) setPreferences(c echo.Context) error {
	if s.Preferences == nil {
		return wallet.Errorf(wallet.ENOTFOUND, "no such resource")
	}
	var req preferencesBody
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.Language == nil && req.Notifications == nil {
		return wallet.Errorf(wallet.EINVALID, "language or notifications is required")
	}
	p, err := s.storedPreferences(c)
	if err != nil {
		return err
	}
	if req.Language != nil {
		lang, err := locale.Parse(*req.Language)
		if err != nil {
			return err
		}
		p.Language = string(lang)
	}
	if n := req.Notifications; n != nil {
		set := func(dst *bool, v *bool) {
			if v != nil {
				*dst = *v
			}
		}
		set(&p.Notifications.Views, n.Views)
		set(&p.Notifications.Consents, n.Consents)
		set(&p.Notifications.Duplicates, n.Duplicates)
		set(&p.Notifications.Cases, n.Cases)
	}
	if !locale.Lang(p.Language).Valid() {
		p.Language = string(locale.Default)
	}
	p.UpdatedAt = s.Now().UTC()
	if err := s.Preferences.SavePreferences(c.Request().Context(), p); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, preferencesOut(p))
}
