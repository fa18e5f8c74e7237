package api

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/wallet"
)

type consentResponse struct {
	ID              string                `json:"id"`
	ClientID        string                `json:"client_id"`
	ClientName      string                `json:"client_name,omitempty"`
	IIN             string                `json:"iin"`
	DocumentTypes   []wallet.DocumentType `json:"document_types"`
	Purpose         string                `json:"purpose"`
	Method          string                `json:"method"`
	Status          string                `json:"status"`
	ValidForSeconds int64                 `json:"valid_for_seconds"`
	CreatedAt       time.Time             `json:"created_at"`
	ExpiresAt       time.Time             `json:"expires_at"`
	DecidedAt       *time.Time            `json:"decided_at,omitempty"`
	RevokedAt       *time.Time            `json:"revoked_at,omitempty"`
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s *Server) consentJSON(ctx context.Context, c wallet.Consent) consentResponse {
	exp := c.RequestExpiresAt
	if c.GrantExpiresAt != nil && c.Status != wallet.ConsentPending {
		exp = *c.GrantExpiresAt
	}
	name := ""
	if s.ClientName != nil {
		name = s.ClientName(ctx, c.ClientID)
	}
	return consentResponse{
		ID: c.ID, ClientID: c.ClientID, ClientName: name, IIN: string(c.SubjectIIN),
		DocumentTypes: c.DocumentTypes, Purpose: c.Purpose, Method: c.Method, Status: c.Status,
		ValidForSeconds: int64(c.ValidFor / time.Second), CreatedAt: c.CreatedAt.UTC(), ExpiresAt: exp.UTC(),
		DecidedAt: utcPtr(c.DecidedAt), RevokedAt: utcPtr(c.RevokedAt),
	}
}

// clientToken is OAuth2's client-credentials grant: an organisation's
// system gets a short-lived access token for the integration API.
func (s *Server) clientToken(c echo.Context) error {
	req := c.Request()
	ct := req.Header.Get(echo.HeaderContentType)
	if !strings.HasPrefix(ct, echo.MIMEApplicationForm) {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType)
	}
	if err := req.ParseForm(); err != nil {
		return wallet.Errorf(wallet.EINVALID, "malformed form body")
	}
	if gt := req.PostForm.Get("grant_type"); gt != "client_credentials" {
		return wallet.Errorf(wallet.EINVALID, "grant_type must be client_credentials")
	}
	id, secret := req.PostForm.Get("client_id"), req.PostForm.Get("client_secret")
	if bid, bsecret, ok := req.BasicAuth(); ok {
		id, secret = bid, bsecret
	}
	if id == "" || secret == "" {
		return wallet.Errorf(wallet.EUNAUTHORIZED, "client_id and client_secret are required")
	}
	cl, err := s.Consents.Authenticate(req.Context(), id, secret)
	if err != nil {
		return err
	}
	scope := make([]string, len(cl.DocumentTypes))
	for i, t := range cl.DocumentTypes {
		scope[i] = string(t)
	}
	tok, ttl, err := s.Tokens.Issue(AudienceOrganisation, cl.ID, strings.Join(scope, " "), newRequestID())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(ttl.Seconds()), Scope: strings.Join(scope, " ")})
}

type consentRequest struct {
	IIN             string   `json:"iin"`
	DocumentTypes   []string `json:"document_types"`
	Purpose         string   `json:"purpose"`
	Method          string   `json:"method"`
	ValidForSeconds *int64   `json:"valid_for_seconds"`
}

// requestConsent: an organisation asks for a citizen's documents.
func (s *Server) requestConsent(c echo.Context) error {
	var req consentRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	iin, err := wallet.ParseIIN(req.IIN)
	if err != nil {
		return err
	}
	r := consent.Request{IIN: iin, Purpose: req.Purpose, Method: req.Method}
	for _, t := range req.DocumentTypes {
		r.DocumentTypes = append(r.DocumentTypes, wallet.DocumentType(t))
	}
	if req.ValidForSeconds != nil {
		v := *req.ValidForSeconds
		if v < 1 || v > 90*24*3600 {
			return wallet.Errorf(wallet.EINVALID, "valid_for_seconds must be between 1 and 7776000 (90 days)")
		}
		r.ValidFor = time.Duration(v) * time.Second
	}
	ctx := c.Request().Context()
	cs, err := s.Consents.Request(ctx, clientOf(c), r)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, s.consentJSON(ctx, cs))
}

type otpRequest struct {
	Code string `json:"code"`
}

// submitConsentOTP: the organisation relays the code the citizen read out.
func (s *Server) submitConsentOTP(c echo.Context) error {
	var req otpRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	cs, err := s.Consents.SubmitOTP(ctx, clientOf(c), c.Param("id"), req.Code)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.consentJSON(ctx, cs))
}

func (s *Server) getConsent(c echo.Context) error {
	ctx := c.Request().Context()
	cs, err := s.Consents.Get(ctx, clientOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.consentJSON(ctx, cs))
}

func (s *Server) listClientConsents(c echo.Context) error {
	ctx := c.Request().Context()
	list, err := s.Consents.ConsentsByClient(ctx, clientOf(c))
	if err != nil {
		return err
	}
	out := make([]consentResponse, 0, len(list))
	for _, cs := range list {
		out = append(out, s.consentJSON(ctx, cs))
	}
	return c.JSON(http.StatusOK, map[string]any{"consents": out})
}

type releasedDocument struct {
	wallet.Document
	ViewID   string `json:"view_id"`
	LogIndex *int64 `json:"log_index,omitempty"`
}

// consentDocuments releases the covered documents while the consent is
// granted; each release is recorded before anything leaves.
func (s *Server) consentDocuments(c echo.Context) error {
	lang, err := answerLanguage(c)
	if err != nil {
		return err
	}
	rel, err := s.Consents.Release(c.Request().Context(), clientOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	out := make([]releasedDocument, 0, len(rel))
	for _, r := range rel {
		d := releasedDocument{Document: displayForm(lang, r.Document), ViewID: r.View.ID}
		if r.View.LogIndex >= 0 {
			li := r.View.LogIndex
			d.LogIndex = &li
		}
		out = append(out, d)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]any{"documents": out})
}

// myConsents lists the caller's consents, every status.
func (s *Server) myConsents(c echo.Context) error {
	ctx := c.Request().Context()
	list, err := s.Consents.ConsentsFor(ctx, citizenOf(c))
	if err != nil {
		return err
	}
	out := make([]consentResponse, 0, len(list))
	for _, cs := range list {
		out = append(out, s.consentJSON(ctx, cs))
	}
	return c.JSON(http.StatusOK, map[string]any{"consents": out})
}

func (s *Server) decideConsent(decide func(ctx context.Context, subject wallet.IIN, id string) (wallet.Consent, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		cs, err := decide(ctx, citizenOf(c), c.Param("id"))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, s.consentJSON(ctx, cs))
	}
}

// smsInbound receives a citizen's SMS reply from the gateway. The gateway
// signs the raw body with the shared secret; anything else is refused.
func (s *Server) smsInbound(c echo.Context) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxBody+1))
	if err != nil {
		return wallet.Errorf(wallet.EINVALID, "could not read the request body")
	}
	if len(body) > maxBody {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge)
	}
	if len(s.SMSInboundSecret) == 0 || !sms.VerifyInboundSignature(s.SMSInboundSecret, body, c.Request().Header.Get(sms.SignatureHeader)) {
		return wallet.Errorf(wallet.EUNAUTHORIZED, "missing or wrong gateway signature")
	}
	in, err := sms.ParseInbound(body)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	cs, err := s.Consents.Inbound(ctx, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"consent_id": cs.ID, "status": cs.Status})
}
