package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/registries"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/web"
)

type recordRequest struct {
	Holder     *registries.Holder `json:"holder"`
	Fields     map[string]string  `json:"fields"`
	ValidUntil *time.Time         `json:"valid_until"`
}

type amendRequest struct {
	Fields     map[string]string `json:"fields"`
	ValidUntil *time.Time        `json:"valid_until"`
}

type revokeRequest struct {
	Reason string `json:"reason"`
}

// recordVersionJSON is one version as an official sees it (drafts too).
type recordVersionJSON struct {
	Number     string            `json:"number"`
	Version    int               `json:"version"`
	Status     string            `json:"status"`
	Fields     map[string]string `json:"fields,omitempty"`
	ValidUntil *time.Time        `json:"valid_until,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	CreatedAt  *time.Time        `json:"created_at,omitempty"`
	SignedAt   *time.Time        `json:"signed_at,omitempty"`
	SignedBy   *partyJSON        `json:"signed_by,omitempty"`
	JWS        string            `json:"jws,omitempty"`
	Hash       string            `json:"hash,omitempty"`
	PrevHash   string            `json:"prev_hash,omitempty"`
}

func versionJSON(v wallet.RegistryVersion, withContent bool) recordVersionJSON {
	out := recordVersionJSON{Number: v.Number, Version: v.Version, Status: v.Status, JWS: v.JWS, Hash: v.Hash, PrevHash: v.PrevHash}
	if v.SignedAt != nil {
		at := v.SignedAt.UTC()
		out.SignedAt = &at
		out.SignedBy = &partyJSON{ID: v.SignedBy, Name: v.SignerName}
	}
	if withContent {
		created := v.CreatedAt.UTC()
		out.Fields, out.ValidUntil, out.Reason, out.CreatedAt = v.Fields, v.ValidUntil, v.Reason, &created
	}
	return out
}

// createRecord: an official makes a draft record.
func (s *Server) createRecord(c echo.Context) error {
	var req recordRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	in := registries.Draft{Fields: req.Fields, ValidUntil: req.ValidUntil, IdempotencyKey: key}
	if req.Holder != nil {
		in.Holder = *req.Holder
	}
	_, v, err := s.Registries.CreateRecord(c.Request().Context(), acting(c), c.Param("code"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, versionJSON(v, false))
}

// signRecord: an official publishes the pending draft.
func (s *Server) signRecord(c echo.Context) error {
	v, err := s.Registries.Sign(c.Request().Context(), acting(c), c.Param("code"), c.Param("number"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, versionJSON(v, false))
}

// amendRecord: an official drafts the next version.
func (s *Server) amendRecord(c echo.Context) error {
	var req amendRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	v, err := s.Registries.Amend(c.Request().Context(), acting(c), c.Param("code"), c.Param("number"),
		registries.Draft{Fields: req.Fields, ValidUntil: req.ValidUntil})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, versionJSON(v, false))
}

// revokeRecord: an official revokes the record with a reason.
func (s *Server) revokeRecord(c echo.Context) error {
	var req revokeRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	v, err := s.Registries.Revoke(c.Request().Context(), acting(c), c.Param("code"), c.Param("number"), req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, versionJSON(v, false))
}

type staffRecordJSON struct {
	Registry registries.PublicRegistry `json:"registry"`
	Number   string                    `json:"number"`
	Holder   map[string]string         `json:"holder"`
	Status   string                    `json:"status"`
	Versions []recordVersionJSON       `json:"versions"`
}

// staffRecord: the registry's officials see a record with its drafts.
func (s *Server) staffRecord(c echo.Context) error {
	reg, rec, versions, err := s.Registries.Record(c.Request().Context(), acting(c), c.Param("code"), c.Param("number"))
	if err != nil {
		return err
	}
	holder := map[string]string{rec.HolderKind: rec.HolderID, "name": rec.HolderName}
	out := staffRecordJSON{
		Registry: registries.PublicRegistry{Code: reg.Code, Name: reg.Name, Organisation: acting(c).Organisation.Name, DocumentType: string(reg.DocumentType)},
		Number:   rec.Number, Holder: holder, Status: versions[len(versions)-1].Status,
	}
	for _, v := range versions {
		out.Versions = append(out.Versions, versionJSON(v, true))
	}
	return c.JSON(http.StatusOK, out)
}

// publishedRecord is the public page of a record (GET /r/{code}/{number})
// or of one of its signed versions (…/versions/{v}): HTML for browsers,
// JSON otherwise.
func (s *Server) publishedRecord(c echo.Context) error {
	version := 0
	if raw := c.Param("version"); raw != "" {
		v, err := strconv.Atoi(raw)
		if err != nil || v < 1 || v > 1<<30 {
			return s.recordFailure(c, wallet.Errorf(wallet.ENOTFOUND, "record: not found"))
		}
		version = v
	}
	p, err := s.Registries.Published(c.Request().Context(), c.Param("code"), c.Param("number"), version)
	if err != nil {
		return s.recordFailure(c, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Add("Vary", "Accept")
	if s.Pages != nil && web.WantsHTML(c.Request()) {
		return s.Pages.Record(c, recordPage(p))
	}
	return c.JSON(http.StatusOK, p)
}

func (s *Server) recordFailure(c echo.Context, err error) error {
	if s.Pages != nil && web.WantsHTML(c.Request()) {
		return s.Pages.RenderError(c, err)
	}
	return err
}

func recordPage(p registries.Published) web.RecordPage {
	rp := web.RecordPage{
		Registry: p.Registry.Name, Organisation: p.Registry.Organisation, DocumentType: p.DocumentType, Number: p.Number,
		Holder: p.Holder.Name, Status: p.Status, Version: p.Version, CurrentVersion: p.CurrentVersion, CurrentURL: p.CurrentURL,
		RecordStatus: p.RecordStatus, Fields: p.Fields, ValidUntil: p.ValidUntil, Reason: p.Reason, SignedBy: p.SignedBy.Name,
		SignedAt: p.SignedAt, JWS: p.JWS, Hash: p.Hash, PrevHash: p.PrevHash, Checked: p.Checked,
	}
	for _, v := range p.Versions {
		rp.Versions = append(rp.Versions, web.RecordVersion{Version: v.Version, Status: v.Status, SignedAt: v.SignedAt, Hash: v.Hash, URL: v.URL})
	}
	return rp
}
