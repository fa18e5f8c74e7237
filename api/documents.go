package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/duplicates"
	"github.com/qujat/qujat/integrations/exchange"
	"github.com/qujat/qujat/registries"
	"github.com/qujat/qujat/wallet"
)

type documentsResponse struct {
	Documents     []wallet.Document `json:"documents"`
	FailedSources []string          `json:"failed_sources,omitempty"`
}

// listDocuments returns the caller's own documents. The first call after
// sign-in assembles them from the sources.
func (s *Server) listDocuments(c echo.Context) error {
	lang, err := answerLanguage(c)
	if err != nil {
		return err
	}
	docs, err := s.documentsOf(c, citizenOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, documentsResponse{Documents: displayForms(lang, docs)})
}

// documentsOf returns the subject's documents, assembling them first if the
// service has never fetched them.
func (s *Server) documentsOf(c echo.Context, subject wallet.IIN) ([]wallet.Document, error) {
	docs, err := s.Documents.Assembled(c.Request().Context(), subject)
	return nonNil(docs), err
}

func nonNil(d []wallet.Document) []wallet.Document {
	if d == nil {
		return []wallet.Document{}
	}
	return d
}

// refreshDocuments asks the sources again and reports which failed.
func (s *Server) refreshDocuments(c echo.Context) error {
	lang, err := answerLanguage(c)
	if err != nil {
		return err
	}
	res, err := s.Documents.Refresh(c.Request().Context(), citizenOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, documentsResponse{Documents: displayForms(lang, nonNil(res.Documents)), FailedSources: res.FailedSources})
}

// readableDocument loads a document the caller may read: their own, or a
// minor ward's. Anything else is ENOTFOUND, never revealing that it exists.
func (s *Server) readableDocument(c echo.Context, id string) (wallet.Document, error) {
	ctx := c.Request().Context()
	doc, err := s.Documents.Document(ctx, id)
	if err != nil {
		if wallet.IsCode(err, wallet.ENOTFOUND) {
			return wallet.Document{}, wallet.Errorf(wallet.ENOTFOUND, "no such document")
		}
		return wallet.Document{}, err
	}
	if err := s.mayActFor(c, citizenOf(c), doc.SubjectIIN); err != nil {
		if wallet.IsCode(err, wallet.ENOTFOUND) {
			return wallet.Document{}, wallet.Errorf(wallet.ENOTFOUND, "no such document")
		}
		return wallet.Document{}, err
	}
	return doc, nil
}

func (s *Server) getDocument(c echo.Context) error {
	lang, err := answerLanguage(c)
	if err != nil {
		return err
	}
	doc, err := s.reads().Document(c.Request().Context(), citizenOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, displayForm(lang, doc))
}

type versionItem struct {
	Version   int       `json:"version"`
	Hash      string    `json:"hash"`
	PrevHash  string    `json:"prev_hash"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) documentVersions(c echo.Context) error {
	doc, err := s.readableDocument(c, c.Param("id"))
	if err != nil {
		return err
	}
	vs, err := s.Documents.Versions(c.Request().Context(), doc.ID)
	if err != nil {
		return err
	}
	out := make([]versionItem, 0, len(vs))
	for _, v := range vs {
		out = append(out, versionItem{v.Version, v.Hash, v.PrevHash, v.CreatedAt.UTC()})
	}
	return c.JSON(http.StatusOK, map[string]any{"versions": out})
}

// jwks publishes the issuers' public keys, current and retired.
func (s *Server) jwks(c echo.Context) error {
	b, err := wallet.JWKS(s.Keys.PublicKeys())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/jwk-set+json", b)
}

type verifyRequest struct {
	JWS string `json:"jws"`
}

// verify checks a signed document: signature, key and current status.
func (s *Server) verify(c echo.Context) error {
	var req verifyRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.JWS == "" {
		return wallet.Errorf(wallet.EINVALID, "jws is required")
	}
	if s.Duplicates != nil && duplicates.IsDuplicateJWS(req.JWS) {
		return c.JSON(http.StatusOK, s.Duplicates.Verify(c.Request().Context(), req.JWS))
	}
	if s.Registries != nil && registries.IsRecordJWS(req.JWS) {
		return c.JSON(http.StatusOK, s.Registries.Verify(c.Request().Context(), req.JWS))
	}
	if s.Cases != nil && exchange.IsResultJWS(req.JWS) {
		return c.JSON(http.StatusOK, s.Cases.VerifyResult(c.Request().Context(), req.JWS))
	}
	return c.JSON(http.StatusOK, s.Verifier.Verify(c.Request().Context(), req.JWS))
}
