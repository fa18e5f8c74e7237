package web_test

import (
	"context"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/qujat/qujat/internal/servicetest"
	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/wallet"
)

// The browser tests drive Debian's chromium headless (chromedp). Without
// chromium they skip, or fail with QUJAT_TEST_REQUIRE_SERVICES=1 (as in
// CI, whose .ci/run installs it). QUJAT_SCREENS=1 writes a screenshot of
// each page to docs/screens/ (from the embedded backend's run).

func chromiumPath(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests start chromium: not in -short")
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			servicetest.Ran(t, servicetest.Chromium)
			return p
		}
	}
	servicetest.Missing(t, servicetest.Chromium, "chromium is not installed (apt-get install chromium fonts-dejavu-core), so the browser tests do not run")
	return ""
}

// newChromium starts a headless chromium for t, with a phone-sized window
// and no attempt to reach outside hosts.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(412, 915),
		// A phone set to Kazakh.
		chromedp.Flag("accept-lang", "kk-KZ,kk,ru;q=0.8"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("at %s: %v\npage: %s", loc, err, body)
	}
}

// open navigates and returns the HTTP status of the page.
func open(t *testing.T, ctx context.Context, url string) int64 {
	t.Helper()
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return res.Status
}

// bodyText is the text of the page as shown.
func bodyText(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantText(t *testing.T, ctx context.Context, texts ...string) {
	t.Helper()
	body := bodyText(t, ctx)
	for _, s := range texts {
		if !strings.Contains(body, s) {
			t.Fatalf("page lacks %q:\n%s", s, body)
		}
	}
}

// screen writes a screenshot of the page as docs/screens/name.png when
// QUJAT_SCREENS=1 and shot is set.
func screen(t *testing.T, ctx context.Context, shot bool, name string) {
	t.Helper()
	if !shot || os.Getenv("QUJAT_SCREENS") != "1" {
		return
	}
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "docs", "screens")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fontsOf returns the platform fonts that drew the text of the first
// element sel matches, and how many glyphs each drew.
func fontsOf(t *testing.T, ctx context.Context, sel string) map[string]float64 {
	t.Helper()
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(sel)))
	if err != nil || len(nodes) == 0 {
		t.Fatalf("%s: %v", sel, err)
	}
	out := map[string]float64{}
	err = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, css.Enable, cdp.Empty{}); err != nil {
			return err
		}
		r, err := cdp.Call(ctx, tg, css.GetPlatformFontsForNode, css.GetPlatformFontsForNodeParams{NodeID: nodes[0].NodeID})
		for _, f := range r.Fonts {
			out[f.FamilyName] += f.GlyphCount
		}
		return err
	}))
	if err != nil {
		t.Fatalf("fonts of %s: %v", sel, err)
	}
	return out
}

// ov0LogIndex is the log index of the owner's newest view.
func ov0LogIndex(t *testing.T, s *site, owner string) int64 {
	t.Helper()
	vs := s.views(owner, "owner")
	if len(vs) == 0 {
		t.Fatal("the owner has no views")
	}
	f, ok := vs[0]["log_index"].(float64)
	if !ok {
		t.Fatalf("view without log_index: %v", vs[0])
	}
	return int64(f)
}

// scanQR fetches the share's QR image as its owner and decodes it.
func (s *site) scanQR(t *testing.T, ownerToken string, sh share) string {
	t.Helper()
	req, _ := http.NewRequest("GET", sh.QRURL, nil)
	req.Header.Set("Authorization", "Bearer "+ownerToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("QR image: %d", res.StatusCode)
	}
	img, err := png.Decode(res.Body)
	if err != nil {
		t.Fatalf("QR image is not a PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	r, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("QR does not decode: %v", err)
	}
	return r.GetText()
}

func TestBrowser_QRLinkSignInDocumentInKazakhAndRussianThenUsed(t *testing.T) {
	for _, be := range []backend{embedded, postgresRedis} {
		t.Run(string(be), func(t *testing.T) {
			ctx := newChromium(t)
			s := newSite(t, be)
			shot := be == embedded
			owner := s.signIn(ownerIIN)
			sh := s.openShare(owner, wallet.IDCard)
			link := s.scanQR(t, owner, sh)
			if link != sh.URL || !strings.HasPrefix(link, s.URL+"/s/") {
				t.Fatalf("QR says %q, want the share's link %q", link, sh.URL)
			}

			if st := open(t, ctx, link); st != http.StatusOK {
				t.Fatalf("link: %d", st)
			}
			wantText(t, ctx, "Кіру", "Сіздің ЖСН", "Қазақша")
			// Kazakh letters (ө, ң, ұ, і, ғ, ...) drawn by DejaVu Sans, with no
			// fallback font: a font without them would show boxes or mix fonts.
			if fonts := fontsOf(t, ctx, "main p"); len(fonts) != 1 || fonts["DejaVu Sans"] == 0 {
				t.Fatalf("the Kazakh text is drawn with %v, want DejaVu Sans alone", fonts)
			}
			screen(t, ctx, shot, "1-share-sign-in")
			do(t, ctx,
				chromedp.SendKeys(chromedp.CSS("#iin"), string(viewerIIN)),
				chromedp.Click(chromedp.CSS("#send-code")),
				chromedp.WaitVisible(chromedp.CSS("#code")),
			)
			wantText(t, ctx, "Кодты", "нөміріне жібердік")
			screen(t, ctx, shot, "2-share-code")
			do(t, ctx,
				chromedp.SendKeys(chromedp.CSS("#code"), s.lastCode(viewerIIN)),
				chromedp.Click(chromedp.CSS("#sign-in")),
				chromedp.WaitVisible(chromedp.CSS("#document")),
			)
			wantText(t, ctx, locale.Title(locale.KK, wallet.IDCard), "Жарамды", "Қолтаңба расталды", string(ownerIIN),
				"Бұл қарау сіздің тарихыңызда және құжат иесінің тарихында тіркелді", "Askar Bekov")
			fields, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#fields")))
			if err != nil || !strings.Contains(fields, "Nurlanov") {
				t.Fatalf("fields %q: %v", fields, err)
			}
			if entry, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#log-entry"))); err != nil ||
				!strings.Contains(entry, fmt.Sprint(ov0LogIndex(t, s, owner))) {
				t.Fatalf("log entry %q: %v", entry, err)
			}
			screen(t, ctx, shot, "3-document-kk")
			do(t, ctx,
				chromedp.Click(chromedp.CSS(`a[hreflang="ru"]`)),
				chromedp.WaitVisible(chromedp.CSS(`strong[lang="ru"]`)),
			)
			wantText(t, ctx, locale.Title(locale.RU, wallet.IDCard), "Действителен", "Подпись подтверждена", "Nurlanov",
				"Этот просмотр записан в вашу историю и в историю владельца документа")
			screen(t, ctx, shot, "4-document-ru")

			// The view is in both histories.
			viewer := s.signIn(viewerIIN)
			ov, vv := s.views(owner, "owner"), s.views(viewer, "viewer")
			if len(ov) != 1 || len(vv) != 1 || ov[0]["id"] != vv[0]["id"] || ov[0]["document_id"] != sh.DocumentID || ov[0]["channel"] != "qr" {
				t.Fatalf("owner's views %v, viewer's %v", ov, vv)
			}

			// The link again: used.
			if st := open(t, ctx, link); st != http.StatusGone {
				t.Fatalf("used link: %d", st)
			}
			wantText(t, ctx, "Сілтеме енді жарамсыз", "қаралып қойған")
			screen(t, ctx, shot, "5-share-used")
			if st := open(t, ctx, s.URL+"/s/shr_nothing.here"); st != http.StatusNotFound {
				t.Fatalf("unknown link: %d", st)
			}
			screen(t, ctx, shot, "6-share-unknown")
		})
	}
}

func TestBrowser_ShortCodeFormThenSignIn(t *testing.T) {
	for _, be := range []backend{embedded, postgresRedis} {
		t.Run(string(be), func(t *testing.T) {
			ctx := newChromium(t)
			s := newSite(t, be)
			shot := be == embedded
			owner := s.signIn(ownerIIN)
			sh := s.openShare(owner, wallet.DrivingLicence)

			if st := open(t, ctx, s.URL+"/verify?lang=ru"); st != http.StatusOK {
				t.Fatalf("verify: %d", st)
			}
			wantText(t, ctx, "Проверить документ по коду", "ИИН владельца")
			screen(t, ctx, shot, "7-verify-ru")
			do(t, ctx,
				chromedp.SendKeys(chromedp.CSS("#owner_iin"), string(ownerIIN)),
				chromedp.SendKeys(chromedp.CSS("#short_code"), sh.ShortCode),
				chromedp.Click(chromedp.CSS("#continue")),
				chromedp.WaitVisible(chromedp.CSS("#iin")),
				chromedp.SendKeys(chromedp.CSS("#iin"), string(viewerIIN)),
				chromedp.Click(chromedp.CSS("#send-code")),
				chromedp.WaitVisible(chromedp.CSS("#code")),
			)
			do(t, ctx,
				chromedp.SendKeys(chromedp.CSS("#code"), s.lastCode(viewerIIN)),
				chromedp.Click(chromedp.CSS("#sign-in")),
				chromedp.WaitVisible(chromedp.CSS("#document")),
			)
			wantText(t, ctx, locale.Title(locale.RU, wallet.DrivingLicence), "Подпись подтверждена", "в вашу историю и в историю владельца")
			if ov := s.views(owner, "owner"); len(ov) != 1 || ov[0]["channel"] != "short_code" {
				t.Fatalf("owner's views %v", ov)
			}
			// Sign out: the document page is gone with the session.
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			do(t, ctx,
				chromedp.Click(chromedp.CSS(".signout button")),
				chromedp.WaitVisible(chromedp.CSS(".message")),
			)
			wantText(t, ctx, "Вы вышли")
			if st := open(t, ctx, loc); st != http.StatusNotFound {
				t.Fatalf("document after sign-out: %d", st)
			}
		})
	}
}

// A page of another site that posts a form to the share page: the browser
// sends no session cookie (SameSite=Lax) and says Sec-Fetch-Site:
// cross-site; the post is refused and no code is sent.
func TestBrowser_CrossSiteFormPostIsRefused(t *testing.T) {
	ctx := newChromium(t)
	s := newSite(t, embedded)
	owner := s.signIn(ownerIIN)
	sh := s.openShare(owner, wallet.IDCard)
	// The victim has a session on the site.
	if st := open(t, ctx, sh.URL); st != http.StatusOK {
		t.Fatalf("link: %d", st)
	}
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><form method="post" action="%s/s/%s">
<input type="hidden" name="step" value="iin"><input type="hidden" name="iin" value="%s">
<input type="hidden" name="csrf" value="guessed"><button id="go" type="submit">Win a prize</button></form>`,
			s.URL, sh.Token, viewerIIN)
	}))
	defer evil.Close()
	// localhost and 127.0.0.1 are different sites.
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
	open(t, ctx, evilURL)
	do(t, ctx,
		chromedp.Click(chromedp.CSS("#go")),
		chromedp.WaitVisible(chromedp.CSS(".message")),
	)
	wantText(t, ctx, "Сұрау қабылданбады", "басқа сайттан")
	screen(t, ctx, true, "8-cross-site-refused")
	if n := len(s.Outbox.Messages(s.phone(viewerIIN))); n != 0 {
		t.Fatalf("%d codes sent by a cross-site form", n)
	}
	// The same form on a page of this very site but another origin (another
	// port: same site, so the cookie goes along) lacks the CSRF token.
	sameSite := strings.Replace(evil.URL, "localhost", "127.0.0.1", 1)
	open(t, ctx, sameSite)
	do(t, ctx,
		chromedp.Click(chromedp.CSS("#go")),
		chromedp.WaitVisible(chromedp.CSS(".message")),
	)
	wantText(t, ctx, "басқа сайттан")
	if n := len(s.Outbox.Messages(s.phone(viewerIIN))); n != 0 {
		t.Fatalf("%d codes sent by another origin's form", n)
	}
}
