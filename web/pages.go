package web

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/internal/httpstatus"
	"github.com/qujat/qujat/sharing"
	"github.com/qujat/qujat/signin"
	"github.com/qujat/qujat/wallet"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var styleCSS []byte

// ContentSecurityPolicy is what every page carries: nothing but its own
// style sheet and forms posting to itself; no script at all.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// maxFormBytes bounds a page's form: a few short fields.
const maxFormBytes = 4 << 10

// Pages are the server-rendered pages. SignIn, Sharing, Documents, Verifier,
// Sessions and Hasher are required; the rest default.
type Pages struct {
	SignIn    *signin.Service
	Sharing   *sharing.Service
	Documents sharing.DocumentReader
	Verifier  *wallet.Verifier
	// Sessions is the short-lived store that keeps the web sessions.
	Sessions wallet.ShortLivedStore
	Hasher   *wallet.Hasher
	// PublicURL decides whether cookies are Secure (https).
	PublicURL string
	Logger    *slog.Logger
	Rand      io.Reader

	// signInLimit, set by Mount, counts a sign-in request against the
	// API's per-address limit.
	signInLimit func(echo.Context) error
}

var templates = func() map[string]*template.Template {
	funcs := template.FuncMap{"t": text, "lt": lt}
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html"))
	out := map[string]*template.Template{}
	for _, name := range []string{"share", "verify", "document", "message", "record"} {
		t := template.Must(layout.Clone())
		out[name] = template.Must(t.ParseFS(templateFS, "templates/"+name+".html"))
	}
	return out
}()

// Mount registers the pages on e, but not GET /s/:token: the API keeps its
// JSON answer there and calls Share for browsers. signInLimit counts a
// sign-in against the API's per-address limit (ERATELIMITED when spent).
func (p *Pages) Mount(e *echo.Echo, signInLimit func(echo.Context) error) {
	p.signInLimit = signInLimit
	e.POST("/s/:token", p.SharePost)
	e.GET("/verify", p.Verify)
	e.POST("/verify", p.VerifyPost)
	e.GET("/view/:id", p.View)
	e.POST("/signout", p.SignOut)
	e.GET("/assets/style.css", p.Style)
}

// WantsHTML reports whether a request asks for a page: its Accept names
// text/html (or XHTML) with a non-zero quality.
func WantsHTML(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		typ, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		typ = strings.ToLower(strings.TrimSpace(typ))
		if typ != "text/html" && typ != "application/xhtml+xml" {
			continue
		}
		if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok && strings.Trim(q, "0.") == "" {
			continue
		}
		return true
	}
	return false
}

// IsPage reports whether a request is for a page, so that errors raised
// before a page's handler (the body limit, routing) are answered as pages.
func IsPage(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case p == "/verify" || p == "/signout" || strings.HasPrefix(p, "/view/"):
		return true
	case strings.HasPrefix(p, "/s/"):
		return r.Method == http.MethodPost || WantsHTML(r)
	}
	return false
}

// RenderError answers err (raised outside a page's handler) as a page.
func (p *Pages) RenderError(c echo.Context, err error) error {
	lang := p.lang(c)
	var he *echo.HTTPError
	if errors.As(err, &he) && wallet.AsError(err) == nil {
		switch he.Code {
		case http.StatusRequestEntityTooLarge:
			return p.message(c, lang, http.StatusRequestEntityTooLarge, "error_heading", "err_too_large")
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			return p.message(c, lang, http.StatusNotFound, "not_found_heading", "not_found_text")
		case http.StatusBadRequest:
			return p.message(c, lang, http.StatusBadRequest, "error_heading", "err_bad_request")
		}
	}
	return p.failure(c, lang, err)
}

// Style serves the pages' style sheet.
func (p *Pages) Style(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, "text/css; charset=utf-8", styleCSS)
}

// page is what every template is given.
type page struct {
	Lang      string
	Langs     []langLink
	Title     string
	CSRF      string
	Action    string // the form's path
	Step      string // share/verify: "iin", "code", "confirm", "shortcode"
	Viewer    string // the signed-in viewer's name, if any
	PhoneHint string
	Error     string
	Heading   string
	Text      string
	Hint      string
	OwnerIIN  string // /verify: the owner's IIN as entered
	Doc       *documentPage
	Record    *recordView // a hosted record's or an extract's public page
}

type langLink struct {
	Code, Name string
	Current    bool
}

type documentPage struct {
	Title, Number, Holder, HolderIIN, Issuer, IssuedAt, ValidUntil string
	Status, StatusText                                             string
	SignatureOK                                                    bool
	Fields                                                         []fieldRow
	ViewedAt                                                       string
	LogIndex                                                       int64
}

type fieldRow struct{ Label, Value string }

func (p *Pages) lang(c echo.Context) string {
	asked := c.QueryParam("lang")
	if asked == "" && c.Request().Method == http.MethodPost {
		asked = c.Request().PostForm.Get("lang")
	}
	return negotiate(asked, c.Request().Header.Get("Accept-Language"))
}

func (p *Pages) newPage(lang string) *page {
	pg := &page{Lang: lang, Title: text(lang, "app")}
	for _, l := range Languages {
		pg.Langs = append(pg.Langs, langLink{Code: l, Name: languageNames[l], Current: l == lang})
	}
	return pg
}

func (p *Pages) render(c echo.Context, status int, name string, pg *page) error {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Language", pg.Lang)
	var b strings.Builder
	if err := templates[name].ExecuteTemplate(&b, "layout.html", pg); err != nil {
		p.logger().ErrorContext(c.Request().Context(), "page template", slog.String("page", name), slog.String("error", err.Error()))
		return c.String(http.StatusInternalServerError, "internal error")
	}
	return c.HTML(status, b.String())
}

// message renders a page that only says something.
func (p *Pages) message(c echo.Context, lang string, status int, heading, body string, args ...any) error {
	pg := p.newPage(lang)
	pg.Heading, pg.Text = text(lang, heading), text(lang, body, args...)
	return p.render(c, status, "message", pg)
}

func statusFor(err error) int { return httpstatus.Of(wallet.ErrorCode(err)) }

// failure renders an error no form can answer better.
func (p *Pages) failure(c echo.Context, lang string, err error) error {
	code := wallet.ErrorCode(err)
	status := statusFor(err)
	key := "err_bad_request"
	switch code {
	case wallet.EINTERNAL:
		key = "err_internal"
		p.logger().ErrorContext(c.Request().Context(), "internal error", slog.String("error", err.Error()))
	case wallet.EUNAVAILABLE:
		key = "err_unavailable"
	case wallet.ERATELIMITED:
		key = "err_rate"
		setRetryAfter(c, err)
	case wallet.ENOTFOUND:
		return p.message(c, lang, status, "not_found_heading", "not_found_text")
	}
	return p.message(c, lang, status, "error_heading", key)
}

func setRetryAfter(c echo.Context, err error) {
	if e := wallet.AsError(err); e != nil && e.RetryAfter > 0 {
		secs := int(e.RetryAfter.Seconds() + 0.999)
		c.Response().Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
}

// gone renders the page of a share that no longer releases anything.
func (p *Pages) gone(c echo.Context, lang, state string) error {
	reason := "gone_expired"
	switch state {
	case wallet.ShareUsed:
		reason = "gone_used"
	case wallet.ShareRevoked:
		reason = "gone_revoked"
	}
	pg := p.newPage(lang)
	pg.Heading, pg.Text, pg.Hint = text(lang, "gone_heading"), text(lang, reason), text(lang, "gone_ask")
	return p.render(c, http.StatusGone, "message", pg)
}

// form reads a page's POST: at most maxFormBytes, from this origin, with
// the session's CSRF token. It renders the refusal itself and returns nil
// then.
func (p *Pages) form(c echo.Context) (*session, string, bool, error) {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxFormBytes)
	perr := r.ParseForm()
	lang := p.lang(c)
	if perr != nil {
		var mbe *http.MaxBytesError
		if errors.As(perr, &mbe) {
			return nil, lang, false, p.message(c, lang, http.StatusRequestEntityTooLarge, "error_heading", "err_too_large")
		}
		return nil, lang, false, p.message(c, lang, http.StatusBadRequest, "error_heading", "err_bad_request")
	}
	if crossSite(r) {
		return nil, lang, false, p.message(c, lang, http.StatusForbidden, "refused_heading", "err_csrf")
	}
	s, err := p.loadSession(c)
	if err != nil {
		return nil, lang, false, p.failure(c, lang, err)
	}
	if !validCSRF(s, r.PostForm.Get("csrf")) {
		return nil, lang, false, p.message(c, lang, http.StatusForbidden, "refused_heading", "err_csrf")
	}
	return s, lang, true, nil
}

// redirect answers a form with 303 to path in lang.
func redirect(c echo.Context, path, lang string) error {
	return c.Redirect(http.StatusSeeOther, path+"?lang="+url.QueryEscape(lang))
}

func (p *Pages) viewerName(ctx context.Context, iin wallet.IIN) string {
	if a, err := p.SignIn.Account(ctx, iin); err == nil && a.Name != "" {
		return a.Name
	}
	return string(iin)
}

// signInStep fills pg with the step of the sign-in that s is at.
func (p *Pages) signInStep(ctx context.Context, s *session, pg *page) {
	pg.CSRF = s.CSRF
	switch {
	case s.IIN != "":
		pg.Step, pg.Viewer = "confirm", p.viewerName(ctx, s.IIN)
	case s.Challenge != "":
		pg.Step, pg.PhoneHint = "code", s.PhoneHint
	default:
		pg.Step = "iin"
	}
}

// Share is GET /s/{token} for browsers: 404 for a link that leads nowhere,
// 410 for a share that is used, expired or revoked, otherwise the sign-in
// or, signed in, the button that redeems it.
func (p *Pages) Share(c echo.Context) error {
	lang := p.lang(c)
	ctx := c.Request().Context()
	token := c.Param("token")
	state, err := p.Sharing.TokenState(ctx, token)
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return p.message(c, lang, http.StatusNotFound, "not_found_heading", "not_found_text")
	}
	if err != nil {
		return p.failure(c, lang, err)
	}
	if state != wallet.ShareActive {
		return p.gone(c, lang, state)
	}
	s, err := p.session(c)
	if err != nil {
		return p.failure(c, lang, err)
	}
	pg := p.newPage(lang)
	pg.Action = "/s/" + token
	p.signInStep(ctx, s, pg)
	return p.render(c, http.StatusOK, "share", pg)
}

// SharePost is a form of the share page: step iin (send a sign-in code),
// code (sign in, then redeem), view (redeem), restart.
func (p *Pages) SharePost(c echo.Context) error {
	s, lang, ok, err := p.form(c)
	if !ok {
		return err
	}
	token := c.Param("token")
	path := "/s/" + token
	redeem := func() error {
		red, err := p.Sharing.RedeemTokenOnce(c.Request().Context(), sharing.Viewer{IIN: s.IIN, IP: c.RealIP()}, token, "")
		if err != nil {
			return p.redeemFailed(c, lang, err, func() string {
				st, serr := p.Sharing.TokenState(c.Request().Context(), token)
				if serr != nil {
					return wallet.ShareExpired
				}
				return st
			})
		}
		return p.redeemed(c, s, lang, red)
	}
	pg := p.newPage(lang)
	pg.Action = path
	switch c.Request().PostForm.Get("step") {
	case "iin":
		return p.startSignIn(c, s, pg, "share", path)
	case "code":
		if done, err := p.finishSignIn(c, s, pg, "share"); !done {
			return err
		}
		return redeem()
	case "view":
		if s.IIN == "" {
			return redirect(c, path, lang)
		}
		return redeem()
	case "restart":
		s.Challenge, s.PhoneHint = "", ""
		if err := p.saveSession(c, s); err != nil {
			return p.failure(c, lang, err)
		}
		return redirect(c, path, lang)
	}
	return p.message(c, lang, http.StatusBadRequest, "error_heading", "err_bad_request")
}

// startSignIn sends the sign-in code for the form's IIN (same rules and
// limits as POST /v1/auth/otp) and sends the browser back to path.
func (p *Pages) startSignIn(c echo.Context, s *session, pg *page, tmpl, path string) error {
	pg.CSRF, pg.Step = s.CSRF, "iin"
	iin, err := wallet.ParseIIN(strings.TrimSpace(c.Request().PostForm.Get("iin")))
	if err != nil {
		pg.Error = text(pg.Lang, "err_iin")
		return p.render(c, http.StatusBadRequest, tmpl, pg)
	}
	if p.signInLimit != nil {
		if err := p.signInLimit(c); err != nil {
			return p.formFailure(c, pg, tmpl, err)
		}
	}
	ch, err := p.SignIn.Start(c.Request().Context(), iin, signin.Requester{Address: c.RealIP()})
	if err != nil {
		return p.formFailure(c, pg, tmpl, err)
	}
	s.Challenge, s.PhoneHint = ch.ID, ch.PhoneHint
	if err := p.saveSession(c, s); err != nil {
		return p.failure(c, pg.Lang, err)
	}
	return redirect(c, path, pg.Lang)
}

// formFailure shows err on the form pg is at, or as a page of its own.
func (p *Pages) formFailure(c echo.Context, pg *page, tmpl string, err error) error {
	switch wallet.ErrorCode(err) {
	case wallet.EINVALID:
		pg.Error = text(pg.Lang, "err_bad_request")
	case wallet.ERATELIMITED:
		setRetryAfter(c, err)
		pg.Error = text(pg.Lang, "err_rate")
	default:
		return p.failure(c, pg.Lang, err)
	}
	return p.render(c, statusFor(err), tmpl, pg)
}

// finishSignIn checks the sign-in code; signed in, the session gets a new
// id and CSRF token. It reports whether the viewer is signed in; if not, it
// has rendered the answer.
func (p *Pages) finishSignIn(c echo.Context, s *session, pg *page, tmpl string) (bool, error) {
	pg.CSRF = s.CSRF
	if s.IIN != "" {
		return true, nil
	}
	if s.Challenge == "" {
		pg.Step, pg.Error = "iin", text(pg.Lang, "err_code_expired")
		return false, p.render(c, http.StatusBadRequest, tmpl, pg)
	}
	pg.Step, pg.PhoneHint = "code", s.PhoneHint
	code := strings.TrimSpace(c.Request().PostForm.Get("code"))
	if !sixDigits(code) {
		pg.Error = text(pg.Lang, "err_code_format")
		return false, p.render(c, http.StatusBadRequest, tmpl, pg)
	}
	iin, err := p.SignIn.Confirm(c.Request().Context(), s.Challenge, code)
	switch wallet.ErrorCode(err) {
	case "":
	case wallet.EINVALIDCODE:
		left := 0
		if e := wallet.AsError(err); e != nil && e.AttemptsLeft > 0 {
			left = e.AttemptsLeft
		}
		if left == 0 {
			s.Challenge, s.PhoneHint = "", ""
			_ = p.saveSession(c, s)
			pg.Step, pg.CSRF = "iin", s.CSRF
			pg.Error = text(pg.Lang, "err_code_expired")
		} else {
			pg.Error = text(pg.Lang, "err_code_wrong", left)
		}
		return false, p.render(c, http.StatusUnauthorized, tmpl, pg)
	case wallet.EEXPIRED:
		s.Challenge, s.PhoneHint = "", ""
		if err := p.saveSession(c, s); err != nil {
			return false, p.failure(c, pg.Lang, err)
		}
		pg.Step, pg.Error = "iin", text(pg.Lang, "err_code_expired")
		return false, p.render(c, http.StatusGone, tmpl, pg)
	default:
		return false, p.formFailure(c, pg, tmpl, err)
	}
	s.IIN, s.Challenge, s.PhoneHint = iin, "", ""
	// The pending code is sealed under the old id: open it before renewing.
	owner, code, pending := s.openCode()
	if pending {
		if err := p.sealCodeAfterRenew(c, s, owner, code); err != nil {
			return false, p.failure(c, pg.Lang, err)
		}
	} else if err := p.renew(c, s); err != nil {
		return false, p.failure(c, pg.Lang, err)
	}
	return true, nil
}

func (p *Pages) sealCodeAfterRenew(c echo.Context, s *session, owner wallet.IIN, code string) error {
	s.Pending = nil
	if err := p.renew(c, s); err != nil {
		return err
	}
	if err := p.sealCode(s, owner, code); err != nil {
		return err
	}
	return p.saveSession(c, s)
}

// redeemed keeps the view in the session and sends the browser to it.
func (p *Pages) redeemed(c echo.Context, s *session, lang string, red sharing.Redemption) error {
	s.Pending = nil
	s.addView(sessionView{ID: red.View.ID, DocumentID: red.View.DocumentID, Version: red.Document.Version, LogIndex: red.View.LogIndex, At: red.View.At})
	if err := p.saveSession(c, s); err != nil {
		// The view is recorded; only showing it again needs the session.
		return p.failure(c, lang, err)
	}
	return redirect(c, "/view/"+red.View.ID, lang)
}

// redeemFailed renders a redemption's error; state tells a 410's reason.
func (p *Pages) redeemFailed(c echo.Context, lang string, err error, state func() string) error {
	switch wallet.ErrorCode(err) {
	case wallet.EEXPIRED:
		return p.gone(c, lang, state())
	case wallet.ECONFLICT:
		return p.message(c, lang, http.StatusConflict, "refused_heading", "err_own")
	}
	return p.failure(c, lang, err)
}

// Verify is GET /verify: the short-code form, or the sign-in when a code
// waits for its viewer.
func (p *Pages) Verify(c echo.Context) error {
	lang := p.lang(c)
	s, err := p.session(c)
	if err != nil {
		return p.failure(c, lang, err)
	}
	pg := p.newPage(lang)
	pg.Action = "/verify"
	p.verifyStep(c.Request().Context(), s, pg)
	return p.render(c, http.StatusOK, "verify", pg)
}

func (p *Pages) verifyStep(ctx context.Context, s *session, pg *page) {
	p.signInStep(ctx, s, pg)
	if s.Pending == nil || s.IIN != "" {
		pg.Step = "shortcode"
	}
}

// VerifyPost is a form of /verify: step shortcode (the owner's IIN and the
// code), then iin and code to sign in, which redeems the code.
func (p *Pages) VerifyPost(c echo.Context) error {
	s, lang, ok, err := p.form(c)
	if !ok {
		return err
	}
	const path = "/verify"
	pg := p.newPage(lang)
	pg.Action, pg.CSRF = path, s.CSRF
	if s.IIN != "" {
		pg.Viewer = p.viewerName(c.Request().Context(), s.IIN)
	}
	form := c.Request().PostForm
	switch form.Get("step") {
	case "shortcode":
		pg.Step = "shortcode"
		pg.OwnerIIN = strings.TrimSpace(form.Get("owner_iin"))
		owner, err := wallet.ParseIIN(pg.OwnerIIN)
		if err != nil {
			pg.Error = text(lang, "err_iin")
			return p.render(c, http.StatusBadRequest, "verify", pg)
		}
		code := strings.TrimSpace(form.Get("short_code"))
		if !sixDigits(code) {
			pg.Error = text(lang, "err_code_format")
			return p.render(c, http.StatusBadRequest, "verify", pg)
		}
		if s.IIN != "" {
			return p.redeemCode(c, s, pg, owner, code)
		}
		if err := p.sealCode(s, owner, code); err != nil {
			return p.failure(c, lang, err)
		}
		if err := p.saveSession(c, s); err != nil {
			return p.failure(c, lang, err)
		}
		return redirect(c, path, lang)
	case "iin":
		return p.startSignIn(c, s, pg, "verify", path)
	case "code":
		if done, err := p.finishSignIn(c, s, pg, "verify"); !done {
			return err
		}
		owner, code, ok := s.openCode()
		if !ok {
			return redirect(c, path, lang)
		}
		return p.redeemCode(c, s, pg, owner, code)
	case "restart":
		s.Challenge, s.PhoneHint, s.Pending = "", "", nil
		if err := p.saveSession(c, s); err != nil {
			return p.failure(c, lang, err)
		}
		return redirect(c, path, lang)
	}
	return p.message(c, lang, http.StatusBadRequest, "error_heading", "err_bad_request")
}

// redeemCode redeems a short code for the signed-in viewer (the same
// redemption as POST /v1/shares/redeem), showing errors on the form.
func (p *Pages) redeemCode(c echo.Context, s *session, pg *page, owner wallet.IIN, code string) error {
	ctx := c.Request().Context()
	red, err := p.Sharing.RedeemCodeOnce(ctx, sharing.Viewer{IIN: s.IIN, IP: c.RealIP()}, owner, code, "")
	if err == nil {
		return p.redeemed(c, s, pg.Lang, red)
	}
	if s.Pending != nil {
		s.Pending = nil
		if serr := p.saveSession(c, s); serr != nil {
			return p.failure(c, pg.Lang, serr)
		}
	}
	pg.Step, pg.CSRF, pg.OwnerIIN = "shortcode", s.CSRF, string(owner)
	pg.Viewer = p.viewerName(ctx, s.IIN)
	switch wallet.ErrorCode(err) {
	case wallet.EINVALIDCODE:
		pg.Error = text(pg.Lang, "err_short_code_wrong")
		return p.render(c, http.StatusUnauthorized, "verify", pg)
	case wallet.ERATELIMITED:
		setRetryAfter(c, err)
		pg.Error = text(pg.Lang, "err_rate")
		return p.render(c, http.StatusTooManyRequests, "verify", pg)
	case wallet.EINVALID:
		pg.Error = text(pg.Lang, "err_code_format")
		return p.render(c, http.StatusBadRequest, "verify", pg)
	}
	return p.redeemFailed(c, pg.Lang, err, func() string { return wallet.ShareExpired })
}

// View is GET /view/{id}: a document this session viewed, in the page's
// language, with its status and whether its signature checks out.
func (p *Pages) View(c echo.Context) error {
	lang := p.lang(c)
	ctx := c.Request().Context()
	s, err := p.loadSession(c)
	if err != nil {
		return p.failure(c, lang, err)
	}
	var v sessionView
	ok := false
	if s != nil && s.IIN != "" {
		v, ok = s.view(c.Param("id"))
	}
	if !ok {
		return p.message(c, lang, http.StatusNotFound, "not_found_heading", "view_missing")
	}
	if err := p.saveSession(c, s); err != nil {
		return p.failure(c, lang, err)
	}
	doc, err := p.Documents.Document(ctx, v.DocumentID)
	if err != nil {
		return p.failure(c, lang, err)
	}
	if doc.Version != v.Version {
		// The view released the version it was of; a newer one needs a
		// view of its own.
		return p.message(c, lang, http.StatusGone, "gone_heading", "doc_changed")
	}
	pg := p.newPage(lang)
	pg.CSRF, pg.Viewer = s.CSRF, p.viewerName(ctx, s.IIN)
	pg.Doc = p.documentPage(ctx, lang, doc, v)
	pg.Title = pg.Doc.Title + " · " + text(lang, "app")
	return p.render(c, http.StatusOK, "document", pg)
}

func (p *Pages) documentPage(ctx context.Context, lang string, doc wallet.Document, v sessionView) *documentPage {
	names := make([]string, 0, len(doc.Fields))
	for k := range doc.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	title, labels := p.documentText(lang, doc.Type, names)
	d := &documentPage{
		Title: title, Number: doc.Number, Issuer: doc.Issuer,
		Holder: p.viewerName(ctx, doc.SubjectIIN), HolderIIN: string(doc.SubjectIIN),
		IssuedAt: day(doc.IssuedAt), ViewedAt: v.At.UTC().Format("2006-01-02 15:04 UTC"), LogIndex: v.LogIndex,
	}
	if d.Holder == string(doc.SubjectIIN) {
		d.Holder = ""
	}
	if doc.ValidUntil != nil {
		d.ValidUntil = day(*doc.ValidUntil)
	}
	res := p.Verifier.Verify(ctx, doc.JWS)
	d.SignatureOK = res.Valid || res.Reason == wallet.ReasonExpired || res.Reason == wallet.ReasonRevoked
	d.Status = doc.Status
	if res.Status != "" {
		d.Status = res.Status
	}
	d.StatusText = text(lang, "status_"+d.Status)
	for _, k := range names {
		d.Fields = append(d.Fields, fieldRow{Label: labels[k], Value: doc.Fields[k]})
	}
	return d
}

// SignOut ends the session.
func (p *Pages) SignOut(c echo.Context) error {
	s, lang, ok, err := p.form(c)
	if !ok {
		return err
	}
	if err := p.endSession(c, s); err != nil {
		return p.failure(c, lang, err)
	}
	return p.message(c, lang, http.StatusOK, "sign_out", "signed_out")
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func sixDigits(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (p *Pages) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

func (p *Pages) rand() io.Reader {
	if p.Rand == nil {
		return rand.Reader
	}
	return p.Rand
}
