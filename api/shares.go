package api

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/sharing"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/web"
)

type openShareRequest struct {
	TTLSeconds *int `json:"ttl_seconds"`
	MaxViews   *int `json:"max_views"`
}

type shareResponse struct {
	ID         string    `json:"id"`
	DocumentID string    `json:"document_id"`
	Token      string    `json:"token,omitempty"`
	URL        string    `json:"url,omitempty"`
	ShortCode  string    `json:"short_code,omitempty"`
	OwnerIIN   string    `json:"owner_iin"`
	ExpiresAt  time.Time `json:"expires_at"`
	MaxViews   int       `json:"max_views"`
	Views      int       `json:"views"`
	State      string    `json:"state"`
	CreatedAt  time.Time `json:"created_at"`
	QRURL      string    `json:"qr_url"`
}

// seconds converts whole seconds to a Duration, saturating instead of
// wrapping around: a huge ttl_seconds must stay huge (and out of range), not
// come out as a second and a bit.
func seconds(n int) time.Duration {
	const most = math.MaxInt64 / int64(time.Second)
	switch {
	case int64(n) > most:
		return math.MaxInt64
	case int64(n) < -most:
		return math.MinInt64
	}
	return time.Duration(n) * time.Second
}

func (s *Server) qrURL(shareID string) string {
	return s.PublicURL + "/v1/shares/" + shareID + "/qr"
}

// openShare opens temporary access to one of the caller's documents, or to
// a minor ward's.
func (s *Server) openShare(c echo.Context) error {
	var req openShareRequest
	if err := bindOptionalJSON(c, &req); err != nil {
		return err
	}
	// The terms are judged before the document is looked up: a bad request
	// is 400 whichever document it names.
	var askedTTL *time.Duration
	if req.TTLSeconds != nil {
		d := seconds(*req.TTLSeconds)
		askedTTL = &d
	}
	ttl, maxViews, err := s.Sharing.CheckTerms(askedTTL, req.MaxViews)
	if err != nil {
		return err
	}
	doc, err := s.readableDocument(c, c.Param("id"))
	if err != nil {
		return err
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	o, err := s.Sharing.OpenOnce(c.Request().Context(), doc, citizenOf(c), ttl, maxViews, key)
	if err != nil {
		return err
	}
	sh := o.Share
	return c.JSON(http.StatusCreated, shareResponse{
		ID: sh.ID, DocumentID: sh.DocumentID, Token: o.Token, URL: o.URL, ShortCode: o.ShortCode,
		OwnerIIN: string(sh.OwnerIIN), ExpiresAt: sh.ExpiresAt.UTC(), MaxViews: sh.MaxViews,
		State: wallet.ShareActive, CreatedAt: sh.CreatedAt.UTC(), QRURL: s.qrURL(sh.ID),
	})
}

// listShares lists the caller's shares with their state.
func (s *Server) listShares(c echo.Context) error {
	infos, err := s.Sharing.List(c.Request().Context(), citizenOf(c))
	if err != nil {
		return err
	}
	out := make([]shareResponse, 0, len(infos))
	for _, in := range infos {
		sh := in.Share
		out = append(out, shareResponse{
			ID: sh.ID, DocumentID: sh.DocumentID, OwnerIIN: string(sh.OwnerIIN),
			ExpiresAt: sh.ExpiresAt.UTC(), MaxViews: sh.MaxViews, Views: sh.Views,
			State: in.State, CreatedAt: sh.CreatedAt.UTC(), QRURL: s.qrURL(sh.ID),
		})
	}
	return c.JSON(http.StatusOK, map[string]any{"shares": out})
}

// revokeShare stops the token and the code at once.
func (s *Server) revokeShare(c echo.Context) error {
	if err := s.Sharing.Revoke(c.Request().Context(), citizenOf(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// shareQR draws the QR image of the share's link (?size=128..1024 pixels).
func (s *Server) shareQR(c echo.Context) error {
	size := 0
	if v := c.QueryParam("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 128 || n > 1024 {
			return wallet.Errorf(wallet.EINVALID, "size must be between 128 and 1024")
		}
		size = n
	}
	png, err := s.Sharing.QR(c.Request().Context(), citizenOf(c), c.Param("id"), size)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "private, no-store")
	return c.Blob(http.StatusOK, "image/png", png)
}

type redeemRequest struct {
	Token     string `json:"token"`
	ShortCode string `json:"short_code"`
	OwnerIIN  string `json:"owner_iin"`
}

type redeemResponse struct {
	ViewID   string          `json:"view_id"`
	LogIndex *int64          `json:"log_index,omitempty"`
	Document wallet.Document `json:"document"`
}

// redeemShare releases a shared document to an authenticated viewer, only
// after the view is durably recorded: a citizen, or an organisation at its
// counter to which the citizen presents the QR or the short code (the view
// then names the organisation in both histories).
func (s *Server) redeemShare(c echo.Context) error {
	var req redeemRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	lang, err := answerLanguage(c)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	viewer := sharing.Viewer{IIN: citizenOf(c), Organisation: clientOf(c), IP: c.RealIP()}
	var red sharing.Redemption
	switch {
	case req.Token != "" && req.ShortCode == "" && req.OwnerIIN == "":
		red, err = s.Sharing.RedeemTokenOnce(ctx, viewer, req.Token, key)
	case req.Token == "" && req.ShortCode != "":
		owner, perr := wallet.ParseIIN(req.OwnerIIN)
		if perr != nil {
			return wallet.Errorf(wallet.EINVALID, "owner_iin: %s", wallet.ErrorMessage(perr))
		}
		red, err = s.Sharing.RedeemCodeOnce(ctx, viewer, owner, req.ShortCode, key)
	default:
		return wallet.Errorf(wallet.EINVALID, "give either token, or short_code with owner_iin")
	}
	if err != nil {
		return err
	}
	out := redeemResponse{ViewID: red.View.ID, Document: displayForm(lang, red.Document)}
	if red.View.LogIndex >= 0 {
		li := red.View.LogIndex
		out.LogIndex = &li
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, out)
}

// idempotencyKey reads the request's Idempotency-Key header ("" if there
// is none): 1..255 printable ASCII characters, bare or as a quoted string
// (the IETF draft's sf-string). EINVALID otherwise, or for more than one.
func idempotencyKey(c echo.Context) (string, error) {
	vs := c.Request().Header.Values("Idempotency-Key")
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", wallet.Errorf(wallet.EINVALID, "give one Idempotency-Key")
	}
	key := vs[0]
	if len(key) >= 2 && key[0] == '"' && key[len(key)-1] == '"' {
		key = key[1 : len(key)-1]
	}
	if err := sharing.CheckIdempotencyKey(key); err != nil {
		return "", err
	}
	return key, nil
}

// shareLink is what the QR image encodes. The app reads the token from it
// and redeems it; a browser (Accept: text/html) gets the web page, other
// clients this hint.
func (s *Server) shareLink(c echo.Context) error {
	if s.Pages != nil && web.WantsHTML(c.Request()) {
		return s.Pages.Share(c)
	}
	return c.JSON(http.StatusOK, map[string]string{
		"message": "Open this link in the Qujat app to view the shared document.",
		"redeem":  "POST /v1/shares/redeem with {\"token\": \"<the last part of this link>\"}",
	})
}
