package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/wallet"
)

// Web sessions. The cookie holds a random session id (256 bits). The CSRF
// token of the session's forms is the id's keyed hash (wallet.Hasher,
// purpose secretWebCSRF): tied to the session, unknown to another site, and
// nothing to store. What the session holds (a sign-in under way, the
// signed-in viewer, a short code waiting, the views it made) is kept in the
// short-lived store under another keyed hash of the id (purpose
// secretWebSession), so a copy of the store gives nobody a cookie; a page
// that only shows a form stores nothing, so anonymous visits cost no
// storage. Every request that finds stored state writes it back with a
// fresh TTL: it ends after SessionIdle without a request, or at sign-out.
// Signing in replaces the id, and so the CSRF token (no fixation).
const (
	// SessionIdle is how long a web session lives without a request.
	SessionIdle = 15 * time.Minute

	secretWebSession = "web-session"
	secretWebCSRF    = "web-csrf"
	sessionKeyPrefix = "websession:"
	// maxSessionViews bounds the views a session keeps to show again.
	maxSessionViews = 20
)

type session struct {
	id string
	// CSRF is the token every form of the session carries back, derived
	// from the id.
	CSRF string `json:"-"`
	// IIN is the signed-in viewer; empty before sign-in.
	IIN wallet.IIN `json:"iin,omitempty"`
	// Challenge is the sign-in challenge waiting for its code.
	Challenge string `json:"challenge,omitempty"`
	PhoneHint string `json:"phone_hint,omitempty"`
	// Pending is a short code entered at /verify before signing in.
	Pending *pendingCode `json:"pending,omitempty"`
	// Views are the views this session made, which it may show again.
	Views []sessionView `json:"views,omitempty"`
}

// pendingCode is a short code waiting for its viewer to sign in. The code
// is sealed under a key derived from the session id, which only the
// browser holds: the short-lived store alone does not reveal it.
type pendingCode struct {
	Owner  wallet.IIN `json:"owner"`
	Sealed []byte     `json:"sealed"`
}

type sessionView struct {
	ID         string    `json:"id"`
	DocumentID string    `json:"document_id"`
	Version    int       `json:"version"`
	LogIndex   int64     `json:"log_index"`
	At         time.Time `json:"at"`
}

// secure reports whether the public URL is https: cookies are then Secure
// and take the __Host- prefix.
func (p *Pages) secure() bool {
	return strings.HasPrefix(strings.ToLower(p.PublicURL), "https://")
}

func (p *Pages) cookieName() string {
	if p.secure() {
		return "__Host-qujat_session"
	}
	return "qujat_session"
}

func (p *Pages) storeKey(id string) string {
	return sessionKeyPrefix + p.Hasher.Hash(secretWebSession, id)
}

// loadSession returns the request's session, or nil if it has no session
// cookie. A session whose state ended (or never was stored) comes back
// empty. EUNAVAILABLE if the store cannot be reached.
func (p *Pages) loadSession(c echo.Context) (*session, error) {
	ck, err := c.Cookie(p.cookieName())
	if err != nil || !validSessionID(ck.Value) {
		return nil, nil
	}
	s := &session{}
	raw, err := p.Sessions.Get(c.Request().Context(), p.storeKey(ck.Value))
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
	case err != nil:
		return nil, err
	default:
		if json.Unmarshal(raw, s) != nil {
			s = &session{}
		}
	}
	s.id, s.CSRF = ck.Value, p.csrfToken(ck.Value)
	return s, nil
}

// validSessionID: 32 random bytes in unpadded base64url.
func validSessionID(id string) bool {
	if len(id) != 43 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (p *Pages) csrfToken(id string) string { return p.Hasher.Hash(secretWebCSRF, id) }

// empty reports whether s holds nothing worth storing.
func (s *session) empty() bool {
	return s.IIN == "" && s.Challenge == "" && s.Pending == nil && len(s.Views) == 0
}

// session returns the request's session, starting one (a cookie, nothing
// stored) if it has none.
func (p *Pages) session(c echo.Context) (*session, error) {
	s, err := p.loadSession(c)
	if err != nil {
		return nil, err
	}
	if s != nil {
		if !s.empty() {
			err = p.saveSession(c, s) // a request: the idle time starts again
		}
		return s, err
	}
	s = &session{}
	if err := p.renew(c, s); err != nil {
		return nil, err
	}
	return s, nil
}

// renew gives s a new id (and so CSRF token), dropping the old id's state,
// stores what s holds and sets the cookie.
func (p *Pages) renew(c echo.Context, s *session) error {
	id, err := wallet.RandomToken(p.rand(), 32)
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "could not start a session")
	}
	if s.id != "" {
		if err := p.Sessions.Delete(c.Request().Context(), p.storeKey(s.id)); err != nil {
			return err
		}
	}
	s.id, s.CSRF = id, p.csrfToken(id)
	if !s.empty() {
		if err := p.saveSession(c, s); err != nil {
			return err
		}
	}
	c.SetCookie(&http.Cookie{
		Name: p.cookieName(), Value: id, Path: "/",
		HttpOnly: true, Secure: p.secure(), SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func (p *Pages) saveSession(c echo.Context, s *session) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "could not store the session")
	}
	return p.Sessions.Put(c.Request().Context(), p.storeKey(s.id), raw, SessionIdle)
}

// endSession deletes s and the cookie.
func (p *Pages) endSession(c echo.Context, s *session) error {
	if s != nil {
		if err := p.Sessions.Delete(c.Request().Context(), p.storeKey(s.id)); err != nil {
			return err
		}
	}
	c.SetCookie(&http.Cookie{
		Name: p.cookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: p.secure(), SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// crossSite reports a request that the browser says came from another
// site or origin (Fetch Metadata). Browsers that send no Sec-Fetch-Site
// rely on the CSRF token alone.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return false
	}
	return true
}

// validCSRF compares the form's token with the session's, in constant time.
func validCSRF(s *session, got string) bool {
	return s != nil && s.CSRF != "" && len(got) == len(s.CSRF) &&
		subtle.ConstantTimeCompare([]byte(s.CSRF), []byte(got)) == 1
}

// pendingAEAD is the AES-256-GCM of the session's pending code, keyed by
// HMAC-SHA256 of the session id.
func pendingAEAD(sessionID string) (cipher.AEAD, error) {
	m := hmac.New(sha256.New, []byte(sessionID))
	io.WriteString(m, "qujat web pending short code")
	b, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func (p *Pages) sealCode(s *session, owner wallet.IIN, code string) error {
	aead, err := pendingAEAD(s.id)
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "could not keep the code")
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := io.ReadFull(p.rand(), nonce); err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "could not keep the code")
	}
	s.Pending = &pendingCode{Owner: owner, Sealed: aead.Seal(nonce, nonce, []byte(code), []byte(owner))}
	return nil
}

func (s *session) openCode() (wallet.IIN, string, bool) {
	if s.Pending == nil {
		return "", "", false
	}
	aead, err := pendingAEAD(s.id)
	if err != nil || len(s.Pending.Sealed) < aead.NonceSize() {
		return "", "", false
	}
	n := aead.NonceSize()
	code, err := aead.Open(nil, s.Pending.Sealed[:n], s.Pending.Sealed[n:], []byte(s.Pending.Owner))
	if err != nil {
		return "", "", false
	}
	return s.Pending.Owner, string(code), true
}

func (s *session) addView(v sessionView) {
	s.Views = append(s.Views, v)
	if len(s.Views) > maxSessionViews {
		s.Views = s.Views[len(s.Views)-maxSessionViews:]
	}
}

func (s *session) view(id string) (sessionView, bool) {
	for _, v := range s.Views {
		if v.ID == id {
			return v, true
		}
	}
	return sessionView{}, false
}
