package web_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/integrations/sources"
	"github.com/qujat/qujat/service"
	"github.com/qujat/qujat/shortlived/memstore"
	"github.com/qujat/qujat/shortlived/redisstore"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/keyfiles"
	"github.com/qujat/qujat/wallet/postgres"
	"github.com/qujat/qujat/wallet/sqlite"
	"github.com/qujat/qujat/wallet/wallettest"
)

// clock runs with real time from an offset tests may move forward (the
// in-memory short-lived store follows it; Redis keeps real time).
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.offset) }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// backend names the stores a test server is built on.
type backend string

const (
	embedded      backend = "sqlite+memory"
	postgresRedis backend = "postgres+redis"
)

// site is the whole service over HTTP on real parts: the pages, the API,
// the demo registry and the SMS outbox.
type site struct {
	t      testing.TB
	URL    string
	Clock  *clock
	Outbox *sms.Outbox
	Demo   *sources.Demo
}

// siteOptions change how the site is built.
type siteOptions struct {
	// publicURL, if set, is QUJAT_PUBLIC_URL instead of the server's own URL.
	publicURL string
}

func newSite(t testing.TB, b backend, opts ...siteOptions) *site {
	t.Helper()
	var o siteOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	ctx := context.Background()
	dir := t.TempDir()
	clk := &clock{}
	var store service.Store
	var short wallet.ShortLivedStore
	switch b {
	case embedded:
		st, err := sqlite.Open(ctx, filepath.Join(dir, "qujat.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		store, short = st, memstore.New(clk.Now)
	case postgresRedis:
		pgURL := wallettest.PostgresSchemaURL(t)
		redisURL := shortlivedtest.RedisURL(t)
		st, err := postgres.Open(ctx, pgURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		rs, err := redisstore.Open(ctx, redisURL)
		if err != nil {
			t.Fatalf("redisstore.Open(TEST_REDIS_URL): %v", err)
		}
		t.Cleanup(func() { rs.Close() })
		store, short = st, redisstore.New(rs.Client(), shortlivedtest.UniquePrefix(t))
	default:
		t.Fatalf("unknown backend %q", b)
	}
	demo, err := sources.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyfiles.Open(filepath.Join(dir, "keys"), []string{sources.IssuerMIA, sources.IssuerMOJ, sources.IssuerEDU}, wallet.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	_, tokenKey, _ := ed25519.GenerateKey(rand.Reader)
	outbox := sms.NewOutbox(1000, clk.Now)
	logKeys, err := historylog.NewKeys("qujat.test/history", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	// The public URL is the server's own, so that QR codes lead to it: the
	// server starts first and gets its handler once built.
	var handler http.Handler = http.NotFoundHandler()
	var mu sync.RWMutex
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		h := handler
		mu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	public := hs.URL
	if o.publicURL != "" {
		public = o.publicURL
	}
	svc, err := service.Build(service.Parts{
		Logger: testLogger(), Now: clk.Now, Rand: rand.Reader,
		Store: store, Short: short, Directory: demo, Sources: demo.Sources(), DevCitizens: demo.Citizens,
		Keys: keys, LogKeys: logKeys, Pepper: []byte("test pepper, 32 bytes long......"),
		TokenKey: tokenKey, TokenIssuer: "qujat", SealKey: []byte("0123456789abcdef0123456789abcdef"),
		SMS: outbox, Outbox: outbox, SMSInboundSecret: []byte("gateway secret"),
		PublicURL: public,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	mu.Lock()
	handler = svc.Server.Handler()
	mu.Unlock()
	return &site{t: t, URL: hs.URL, Clock: clk, Outbox: outbox, Demo: demo}
}

func testLogger() *slog.Logger {
	if os.Getenv("QUJAT_TEST_LOG") != "" {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}

// The demo registry's citizens the tests use: an owner with documents of
// every type and a viewer.
const (
	ownerIIN  wallet.IIN = "880412310009"
	viewerIIN wallet.IIN = "800519347947"
)

func (s *site) phone(iin wallet.IIN) string {
	s.t.Helper()
	c, err := s.Demo.Citizen(context.Background(), iin)
	if err != nil {
		s.t.Fatal(err)
	}
	return c.Phone
}

var sixDigits = regexp.MustCompile(`\b[0-9]{6}\b`)

// lastCode is the newest code sent to the citizen's phone.
func (s *site) lastCode(iin wallet.IIN) string {
	s.t.Helper()
	msgs := s.Outbox.Messages(s.phone(iin))
	if len(msgs) == 0 {
		s.t.Fatalf("no SMS to %s", iin)
	}
	code := sixDigits.FindString(msgs[0].Text)
	if code == "" {
		s.t.Fatalf("no code in %q", msgs[0].Text)
	}
	return code
}

// api calls the JSON API.
func (s *site) api(method, path, token string, body any) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, s.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// signIn signs a citizen in to the API and returns the access token.
func (s *site) signIn(iin wallet.IIN) string {
	s.t.Helper()
	st, m := s.api("POST", "/v1/auth/otp", "", map[string]string{"iin": string(iin)})
	if st != http.StatusAccepted {
		s.t.Fatalf("otp: %d %v", st, m)
	}
	st, m = s.api("POST", "/v1/auth/token", "", map[string]string{"challenge_id": m["challenge_id"].(string), "code": s.lastCode(iin)})
	if st != http.StatusOK {
		s.t.Fatalf("token: %d %v", st, m)
	}
	return m["access_token"].(string)
}

// share is a share the owner opened through the API.
type share struct {
	ID, Token, URL, ShortCode, QRURL, DocumentID, DocumentType string
}

// openShare signs the owner in and shares their document of type typ.
func (s *site) openShare(ownerToken string, typ wallet.DocumentType) share {
	s.t.Helper()
	st, m := s.api("GET", "/v1/documents", ownerToken, nil)
	if st != http.StatusOK {
		s.t.Fatalf("documents: %d %v", st, m)
	}
	var docID string
	for _, d := range m["documents"].([]any) {
		d := d.(map[string]any)
		if d["type"] == string(typ) {
			docID = d["id"].(string)
		}
	}
	if docID == "" {
		s.t.Fatalf("the owner has no %s", typ)
	}
	st, m = s.api("POST", "/v1/documents/"+docID+"/shares", ownerToken, nil)
	if st != http.StatusCreated {
		s.t.Fatalf("open share: %d %v", st, m)
	}
	return share{ID: m["id"].(string), Token: m["token"].(string), URL: m["url"].(string), ShortCode: m["short_code"].(string),
		QRURL: m["qr_url"].(string), DocumentID: docID, DocumentType: string(typ)}
}

// views lists the caller's views as owner or viewer.
func (s *site) views(token, as string) []map[string]any {
	s.t.Helper()
	st, m := s.api("GET", "/v1/views?as="+as, token, nil)
	if st != http.StatusOK {
		s.t.Fatalf("views: %d %v", st, m)
	}
	var out []map[string]any
	for _, v := range m["views"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// browser is a plain HTTP client with cookies that does not follow
// redirects, sending what a browser's form would.
type browser struct {
	t      testing.TB
	s      *site
	client *http.Client
	lang   string
}

func (s *site) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: s.t, s: s, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	Status int
	Header http.Header
	Body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	}
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{Status: res.StatusCode, Header: res.Header, Body: string(body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.url(path), nil)
	return b.do(req)
}

func (b *browser) url(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return b.s.URL + path
}

// post sends a form; headers are added to the request.
func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.url(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of a page's forms.
func (p page) csrf(t testing.TB) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no CSRF token in page:\n%s", p.Body)
	}
	return m[1]
}

var langField = regexp.MustCompile(`name="lang" value="([a-z]+)"`)

// lang is the language the page's forms carry.
func (p page) lang(t testing.TB) string {
	t.Helper()
	m := langField.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no lang field in page:\n%s", p.Body)
	}
	return m[1]
}

func (p page) want(t testing.TB, status int, texts ...string) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("status %d, want %d:\n%s", p.Status, status, p.Body)
	}
	for _, s := range texts {
		if !strings.Contains(p.Body, s) {
			t.Fatalf("page lacks %q:\n%s", s, p.Body)
		}
	}
}
