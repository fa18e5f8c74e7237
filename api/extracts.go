package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/web"
)

// Extracts a citizen may print in a window: each is a PDF and an event.
const (
	extractsPerCitizen = 30
	extractsWindow     = 10 * time.Minute
)

// documentExtract prints an extract of a document the caller may read
// (their own, or a ward's) as a one-page PDF in ?lang=.
func (s *Server) documentExtract(c echo.Context) error {
	lang, err := answerLanguage(c)
	if err != nil {
		return err
	}
	doc, err := s.readableDocument(c, c.Param("id"))
	if err != nil {
		return err
	}
	made, err := s.Extracts.Make(c.Request().Context(), citizenOf(c), doc, lang, s.origin(c))
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", `inline; filename="extract-`+made.Extract.ID+`.pdf"`)
	h.Set("X-Qujat-Extract-Id", made.Extract.ID)
	h.Set("X-Qujat-Extract-Url", made.URL)
	return c.Blob(http.StatusOK, "application/pdf", made.PDF)
}

// origin is the base of the URLs printed for a phone to open: the public
// URL, or without one (development) the address the request came to.
func (s *Server) origin(c echo.Context) string {
	if s.PublicURL != "" {
		return strings.TrimSuffix(s.PublicURL, "/")
	}
	return c.Scheme() + "://" + c.Request().Host
}

// extractPage is an extract's public check page (GET /e/{id}): HTML for
// browsers, JSON otherwise.
func (s *Server) extractPage(c echo.Context) error {
	html := s.Pages != nil && web.WantsHTML(c.Request())
	lang, err := answerLanguage(c)
	if err != nil {
		if html {
			return s.Pages.RenderError(c, err)
		}
		return err
	}
	check, err := s.Extracts.Check(c.Request().Context(), c.Param("id"), lang)
	if err != nil {
		if wallet.IsCode(err, wallet.ENOTFOUND) {
			err = wallet.Errorf(wallet.ENOTFOUND, "extract: not found")
		}
		if html {
			return s.Pages.RenderError(c, err)
		}
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Add("Vary", "Accept")
	if html {
		return s.Pages.Extract(c, web.ExtractPage{
			DocumentType: check.DocumentType, Number: check.Number, Holder: check.Holder.Name, Issuer: check.Issuer,
			IssuedAt: check.IssuedAt, Version: check.Version, CurrentVersion: check.CurrentVersion, Hash: check.Hash,
			Status: check.Status, CreatedAt: check.CreatedAt,
		})
	}
	return c.JSON(http.StatusOK, check)
}
