package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/signin"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/web"
)

var viewLocation = regexp.MustCompile(`^/view/(vw_[a-z0-9]+)\?lang=(kk|ru|en)$`)

// signInOnPage walks a browser through the sign-in of the page at path (a
// share link or /verify) and returns the page the code's form led to.
func signInOnPage(t *testing.T, s *site, b *browser, path string, pg page) page {
	t.Helper()
	pg.want(t, http.StatusOK, `name="iin"`)
	r := b.post(path, url.Values{"csrf": {pg.csrf(t)}, "lang": {pg.lang(t)}, "step": {"iin"}, "iin": {string(viewerIIN)}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("iin: %d\n%s", r.Status, r.Body)
	}
	pg = b.get(r.Header.Get("Location"))
	pg.want(t, http.StatusOK, `name="code"`)
	return b.post(path, url.Values{"csrf": {pg.csrf(t)}, "lang": {pg.lang(t)}, "step": {"code"}, "code": {s.lastCode(viewerIIN)}})
}

func TestSharePage_SignInRedeemsOnceAndShowsTheDocumentInEachLanguage(t *testing.T) {
	for _, be := range []backend{embedded, postgresRedis} {
		t.Run(string(be), func(t *testing.T) {
			s := newSite(t, be)
			owner := s.signIn(ownerIIN)
			sh := s.openShare(owner, wallet.IDCard)
			b := s.browser()

			pg := b.get(sh.URL)
			pg.want(t, http.StatusOK, `lang="kk"`, "Кіру", "ЖСН")
			if csp := pg.Header.Get("Content-Security-Policy"); csp != web.ContentSecurityPolicy {
				t.Errorf("CSP %q", csp)
			}
			r := signInOnPage(t, s, b, "/s/"+sh.Token, pg)
			if r.Status != http.StatusSeeOther || !viewLocation.MatchString(r.Header.Get("Location")) {
				t.Fatalf("code: %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
			}
			viewPath := strings.TrimSuffix(r.Header.Get("Location"), "?lang=kk")
			doc := b.get(viewPath)
			doc.want(t, http.StatusOK, locale.Title(locale.KK, wallet.IDCard), locale.Label(locale.KK, wallet.IDCard, "surname"), "Жарамды", "Қолтаңба расталды", "тарихыңызда", string(ownerIIN))
			doc = b.get(viewPath + "?lang=ru")
			doc.want(t, http.StatusOK, `lang="ru"`, locale.Title(locale.RU, wallet.IDCard), "Действителен", "Подпись подтверждена", "в вашу историю и в историю владельца")
			b.lang = "en-GB,en;q=0.8"
			b.get(viewPath).want(t, http.StatusOK, "The signature checks out")

			// The view is in both histories, once.
			viewer := s.signIn(viewerIIN)
			ov, vv := s.views(owner, "owner"), s.views(viewer, "viewer")
			if len(ov) != 1 || len(vv) != 1 || ov[0]["id"] != vv[0]["id"] || ov[0]["document_id"] != sh.DocumentID {
				t.Fatalf("owner's views %v, viewer's %v", ov, vv)
			}
			if "/view/"+ov[0]["id"].(string) != viewPath {
				t.Errorf("page %s shows another view than %v", viewPath, ov[0]["id"])
			}
			// Used: the link is a 410 page; the app still gets its JSON.
			b.lang = ""
			b.get(sh.URL).want(t, http.StatusGone, "қаралып қойған")
			req, _ := http.NewRequest("GET", sh.URL, nil)
			req.Header.Set("Accept", "application/json")
			if j := b.do(req); j.Status != http.StatusOK || !strings.Contains(j.Body, `"redeem"`) {
				t.Errorf("JSON answer: %d %s", j.Status, j.Body)
			}
		})
	}
}

func TestSharePage_UnknownLinkIs404AndRevokedIs410(t *testing.T) {
	s := newSite(t, embedded)
	b := s.browser()
	b.get("/s/nonsense").want(t, http.StatusNotFound, "Сілтеме табылмады")
	owner := s.signIn(ownerIIN)
	sh := s.openShare(owner, wallet.Passport)
	// The right share id with a wrong secret leads nowhere either.
	wrong := sh.Token[:len(sh.Token)-4] + "AAAA"
	if wrong == sh.Token {
		wrong = sh.Token[:len(sh.Token)-4] + "BBBB"
	}
	b.get("/s/"+wrong).want(t, http.StatusNotFound)
	if st, m := s.api("DELETE", "/v1/shares/"+sh.ID, owner, nil); st != http.StatusNoContent {
		t.Fatalf("revoke: %d %v", st, m)
	}
	b.get(sh.URL+"?lang=en").want(t, http.StatusGone, "withdrawn")
}

func TestVerifyPage_ShortCodeThenSignInShowsTheDocument(t *testing.T) {
	for _, be := range []backend{embedded, postgresRedis} {
		t.Run(string(be), func(t *testing.T) {
			s := newSite(t, be)
			owner := s.signIn(ownerIIN)
			sh := s.openShare(owner, wallet.DrivingLicence)
			b := s.browser()
			pg := b.get("/verify?lang=ru")
			pg.want(t, http.StatusOK, "ИИН владельца", `name="short_code"`)
			r := b.post("/verify", url.Values{"csrf": {pg.csrf(t)}, "lang": {"ru"}, "step": {"shortcode"},
				"owner_iin": {string(ownerIIN)}, "short_code": {sh.ShortCode}})
			if r.Status != http.StatusSeeOther {
				t.Fatalf("short code: %d\n%s", r.Status, r.Body)
			}
			r = signInOnPage(t, s, b, "/verify", b.get(r.Header.Get("Location")))
			if r.Status != http.StatusSeeOther || !viewLocation.MatchString(r.Header.Get("Location")) {
				t.Fatalf("code: %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
			}
			b.get(r.Header.Get("Location")).want(t, http.StatusOK, locale.Title(locale.RU, wallet.DrivingLicence), "Подпись подтверждена")
			if n := len(s.views(owner, "owner")); n != 1 {
				t.Errorf("owner has %d views, want 1", n)
			}
			// Signed in, a wrong code is answered on the form.
			pg = b.get("/verify?lang=en")
			r = b.post("/verify", url.Values{"csrf": {pg.csrf(t)}, "lang": {"en"}, "step": {"shortcode"}, "owner_iin": {string(ownerIIN)}, "short_code": {"000000"}})
			r.want(t, http.StatusUnauthorized, "No live share")
		})
	}
}

func TestForms_RefuseCrossSiteAndMissingOrWrongCSRF(t *testing.T) {
	s := newSite(t, embedded)
	owner := s.signIn(ownerIIN)
	sh := s.openShare(owner, wallet.IDCard)
	b := s.browser()
	pg := b.get(sh.URL)
	token := pg.csrf(t)
	path := "/s/" + sh.Token
	form := func(csrf string) url.Values {
		return url.Values{"csrf": {csrf}, "step": {"iin"}, "iin": {string(viewerIIN)}}
	}
	// Plain HTTP, no Fetch Metadata: the token alone decides.
	b.post(path, form("")).want(t, http.StatusForbidden, "басқа сайттан")
	b.post(path, form(token+"x")).want(t, http.StatusForbidden)
	b.post("/verify", url.Values{"step": {"shortcode"}}).want(t, http.StatusForbidden)
	b.post("/signout", url.Values{"csrf": {"guess"}}).want(t, http.StatusForbidden)
	// The right token from another site is refused too.
	b.post(path, form(token), "Sec-Fetch-Site", "cross-site").want(t, http.StatusForbidden)
	b.post(path, form(token), "Sec-Fetch-Site", "same-site").want(t, http.StatusForbidden)
	// Another browser (no session) with this one's token.
	s.browser().post(path, form(token)).want(t, http.StatusForbidden)
	if n := len(s.Outbox.Messages(s.phone(viewerIIN))); n != 0 {
		t.Fatalf("%d codes sent by refused forms", n)
	}
	// The token works from this origin.
	if r := b.post(path, form(token), "Sec-Fetch-Site", "same-origin"); r.Status != http.StatusSeeOther {
		t.Fatalf("same origin: %d\n%s", r.Status, r.Body)
	}
}

func TestForms_BadInputIsAPageWithItsStatus(t *testing.T) {
	s := newSite(t, embedded)
	owner := s.signIn(ownerIIN)
	sh := s.openShare(owner, wallet.IDCard)
	b := s.browser()
	path := "/s/" + sh.Token
	pg := b.get(sh.URL + "?lang=en")
	tok := pg.csrf(t)
	b.post(path, url.Values{"csrf": {tok}, "lang": {"en"}, "step": {"iin"}, "iin": {"123"}}).want(t, http.StatusBadRequest, "12 digits")
	b.post(path, url.Values{"csrf": {tok}, "lang": {"en"}, "step": {"code"}, "code": {"1"}}).want(t, http.StatusBadRequest, "has expired")
	b.post(path, url.Values{"csrf": {tok}, "lang": {"en"}, "step": {"dance"}}).want(t, http.StatusBadRequest)
	if r := b.post(path, url.Values{"csrf": {tok}, "step": {"iin"}, "iin": {string(viewerIIN)}}); r.Status != http.StatusSeeOther {
		t.Fatalf("iin: %d", r.Status)
	}
	b.post(path, url.Values{"csrf": {tok}, "lang": {"en"}, "step": {"code"}, "code": {"12a456"}}).want(t, http.StatusBadRequest, "six digits")
	code := s.lastCode(viewerIIN)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	b.post(path, url.Values{"csrf": {tok}, "lang": {"en"}, "step": {"code"}, "code": {wrong}}).want(t, http.StatusUnauthorized, "Attempts left: 2")
	// Oversized forms: past the pages' limit, and past the server's.
	big := strings.Repeat("x", 5<<10)
	b.post(path+"?lang=en", url.Values{"csrf": {tok}, "lang": {"en"}, "pad": {big}}).want(t, http.StatusRequestEntityTooLarge, "too much data")
	huge := strings.Repeat("x", 80<<10)
	r := b.post(path, url.Values{"csrf": {tok}, "pad": {huge}})
	r.want(t, http.StatusRequestEntityTooLarge, "<html")
	// The right code still signs in after all that.
	if r := b.post(path, url.Values{"csrf": {tok}, "step": {"code"}, "code": {code}}); r.Status != http.StatusSeeOther {
		t.Fatalf("code: %d\n%s", r.Status, r.Body)
	}
	// The owner's own share from the owner's browser.
	ob := s.browser()
	osh := s.openShare(owner, wallet.Passport)
	opg := ob.get(osh.URL)
	ob.post("/s/"+osh.Token, url.Values{"csrf": {opg.csrf(t)}, "step": {"iin"}, "iin": {string(ownerIIN)}})
	opg = ob.get(osh.URL)
	r = ob.post("/s/"+osh.Token, url.Values{"csrf": {opg.csrf(t)}, "step": {"code"}, "code": {s.lastCode(ownerIIN)}})
	r.want(t, http.StatusConflict)
}

func TestSession_CookieEndsWhenIdleAndAtSignOut(t *testing.T) {
	s := newSite(t, embedded)
	owner := s.signIn(ownerIIN)
	b := s.browser()
	sh := s.openShare(owner, wallet.IDCard)
	pg := b.get(sh.URL)
	ck := pg.Header.Get("Set-Cookie")
	for _, want := range []string{"qujat_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(ck, want) {
			t.Errorf("cookie %q lacks %s", ck, want)
		}
	}
	if strings.Contains(ck, "Secure") || strings.Contains(ck, "__Host-") {
		t.Errorf("cookie %q is Secure over plain http", ck)
	}
	r := signInOnPage(t, s, b, "/s/"+sh.Token, pg)
	view := r.Header.Get("Location")
	if !strings.Contains(r.Header.Get("Set-Cookie"), "qujat_session=") {
		t.Error("signing in kept the session id")
	}
	b.get(view).want(t, http.StatusOK)
	s.Clock.Advance(14 * time.Minute)
	b.get(view).want(t, http.StatusOK) // a request: idle time starts again
	s.Clock.Advance(web.SessionIdle + time.Second)
	b.get(view).want(t, http.StatusNotFound, "сессия аяқталды")
	owner = s.signIn(ownerIIN) // the access token expired meanwhile

	// Sign-out ends it at once.
	b2 := s.browser()
	sh2 := s.openShare(owner, wallet.Passport)
	r = signInOnPage(t, s, b2, "/s/"+sh2.Token, b2.get(sh2.URL))
	view = r.Header.Get("Location")
	doc := b2.get(view)
	doc.want(t, http.StatusOK, `action="/signout"`)
	b2.post("/signout", url.Values{"csrf": {doc.csrf(t)}}).want(t, http.StatusOK, "Сіз шықтыңыз")
	b2.get(view).want(t, http.StatusNotFound)
}

func TestSession_CookieIsSecureWithTheHostPrefixOnHTTPS(t *testing.T) {
	s := newSite(t, embedded, siteOptions{publicURL: "https://qujat.test"})
	pg := s.browser().get("/verify")
	ck := pg.Header.Get("Set-Cookie")
	if !strings.HasPrefix(ck, "__Host-qujat_session=") || !strings.Contains(ck, "Secure") || strings.Contains(ck, "Domain") {
		t.Errorf("cookie %q", ck)
	}
}

func TestSignIn_PageKeepsThePerPhoneLimitOfTheAPI(t *testing.T) {
	s := newSite(t, embedded)
	b := s.browser()
	pg := b.get("/verify?lang=en")
	tok := pg.csrf(t)
	send := func() page {
		return b.post("/verify", url.Values{"csrf": {tok}, "lang": {"en"}, "step": {"iin"}, "iin": {string(viewerIIN)}})
	}
	for i := 0; i < signin.CodesPerAddress; i++ {
		if r := send(); r.Status != http.StatusSeeOther {
			t.Fatalf("code %d: %d\n%s", i+1, r.Status, r.Body)
		}
	}
	r := send()
	r.want(t, http.StatusTooManyRequests, "Too many attempts")
	if r.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if n := len(s.Outbox.Messages(s.phone(viewerIIN))); n != signin.CodesPerAddress {
		t.Errorf("%d codes sent, want %d", n, signin.CodesPerAddress)
	}
}
