package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"github.com/qujat/qujat/calendar"
	"github.com/qujat/qujat/integrations/exchange"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/api"
	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/integrations/sources"
	"github.com/qujat/qujat/service"
	"github.com/qujat/qujat/shortlived/memstore"
	"github.com/qujat/qujat/staff"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/keyfiles"
	"github.com/qujat/qujat/wallet/sqlite"
)

// clock is a settable test clock shared by every part of the test server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// testServer is the API built from the real parts of the embedded default:
// SQLite, the in-memory short-lived store, the demo registry and the outbox.
type testServer struct {
	t        *testing.T
	URL      string
	Clock    *clock
	Outbox   *sms.Outbox
	Demo     *sources.Demo
	Store    wallet.Store
	Short    wallet.ShortLivedStore
	TokenKey ed25519.PrivateKey
	Server   *api.Server
	Consents *consent.Service
	Log      *historylog.Log
	Staff    *staff.Service
}

// stack is the API built from the real parts of the embedded default:
// SQLite, the in-memory short-lived store, the demo registry, the outbox
// and the history log, all on one clock. Tests serve it over HTTP
// (newTestServer), benchmarks in process (newBenchServer).
type stack struct {
	srv      *api.Server
	tokens   *api.TokenIssuer
	tokenKey ed25519.PrivateKey
	outbox   *sms.Outbox
	demo     *sources.Demo
	store    wallet.Store
	short    wallet.ShortLivedStore
	consents *consent.Service
	log      *historylog.Log
	staff    *staff.Service
}

// newStack builds the stack; each of adjust may change the built services
// before the server is used (for example sharing limits).
func newStack(tb testing.TB, now func() time.Time, adjust ...func(*service.Service)) *stack {
	tb.Helper()
	return newStackWith(tb, now, nil, adjust...)
}

// newStackWith is newStack with parts, if not nil, changing the parts the
// graph is built from (for example the trusted proxies).
func newStackWith(tb testing.TB, now func() time.Time, parts func(*service.Parts), adjust ...func(*service.Service)) *stack {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "qujat.db"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	short := memstore.New(now)
	demo, err := sources.LoadDemo()
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := keyfiles.Open(filepath.Join(dir, "keys"), []string{sources.IssuerMIA, sources.IssuerMOJ, sources.IssuerEDU}, wallet.AlgEdDSA)
	if err != nil {
		tb.Fatal(err)
	}
	staffKeys, err := keyfiles.Open(filepath.Join(dir, "keys", "staff"), nil, "")
	if err != nil {
		tb.Fatal(err)
	}
	exchangeKeys, err := exchange.OpenCentreKeys(filepath.Join(dir, "keys"))
	if err != nil {
		tb.Fatal(err)
	}
	_, tokenKey, _ := ed25519.GenerateKey(rand.Reader)
	outbox := sms.NewOutbox(1000, now)
	logKeys, err := historylog.NewKeys("qujat.test/history", rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	p := service.Parts{
		Logger: testLogger(), Now: now, Rand: rand.Reader,
		Store: st, Short: short, Directory: demo, Sources: demo.Sources(), DevCitizens: demo.Citizens,
		Keys: keys, StaffKeys: staffKeys, LogKeys: logKeys, Pepper: []byte("test pepper, 32 bytes long......"),
		TokenKey: tokenKey, TokenIssuer: "qujat", SealKey: []byte("0123456789abcdef0123456789abcdef"),
		SMS: outbox, Outbox: outbox, SMSInboundSecret: []byte("gateway secret"),
		PublicURL: "https://qujat.test", MetricsToken: testMetricsToken,
		ExchangeKeys: exchangeKeys, Calendars: calendar.Embedded(),
	}
	if parts != nil {
		parts(&p)
	}
	svc, err := service.Build(p)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { svc.Close() })
	for _, f := range adjust {
		f(svc)
	}
	srv, tokens, consents, hlog := svc.Server, svc.Tokens, svc.Consents, svc.Log
	return &stack{srv: srv, tokens: tokens, tokenKey: tokenKey, outbox: outbox, demo: demo, store: st, short: short, consents: consents, log: hlog, staff: svc.Staff}
}

func newTestServer(t *testing.T, adjust ...func(*service.Service)) *testServer {
	t.Helper()
	return newTestServerWith(t, nil, adjust...)
}

// newTestServerWith is newTestServer on newStackWith.
func newTestServerWith(t *testing.T, parts func(*service.Parts), adjust ...func(*service.Service)) *testServer {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	k := newStackWith(t, clk.Now, parts, adjust...)
	hs := httptest.NewServer(k.srv.Handler())
	t.Cleanup(hs.Close)
	return &testServer{t: t, URL: hs.URL, Clock: clk, Outbox: k.outbox, Demo: k.demo, Store: k.store, Short: k.short,
		TokenKey: k.tokenKey, Server: k.srv, Consents: k.consents, Log: k.log, Staff: k.staff}
}

// response is a decoded HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// ErrorCode returns error.code of an error response.
func (r response) ErrorCode(t *testing.T) string {
	t.Helper()
	m := r.JSON(t)
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("not an error body: %s", r.Body)
	}
	code, _ := e["code"].(string)
	if msg, _ := e["message"].(string); msg == "" {
		t.Fatalf("error without message: %s", r.Body)
	}
	return code
}

// do sends a request; body may be nil, a []byte (sent as is) or a value
// encoded as JSON.
func (s *testServer) do(method, path, token string, body any) response {
	s.t.Helper()
	return s.doWith(method, path, token, body, nil)
}

// doWith is do with extra request headers.
func (s *testServer) doWith(method, path, token string, body any, headers map[string]string) response {
	s.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ct = bytes.NewReader(b), "application/json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func (s *testServer) citizen(iin wallet.IIN) wallet.Citizen {
	s.t.Helper()
	c, err := s.Demo.Citizen(context.Background(), iin)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

var sixDigits = regexp.MustCompile(`\b[0-9]{6}\b`)

// lastCode reads the newest code sent to phone from the outbox.
func (s *testServer) lastCode(phone string) string {
	s.t.Helper()
	msgs := s.Outbox.Messages(phone)
	if len(msgs) == 0 {
		s.t.Fatalf("no SMS to %s", phone)
	}
	code := sixDigits.FindString(msgs[0].Text)
	if code == "" {
		s.t.Fatalf("no code in %q", msgs[0].Text)
	}
	return code
}

type tokens struct {
	Access, Refresh string
}

// signIn signs a demo citizen in through the OTP flow.
func (s *testServer) signIn(iin wallet.IIN) tokens {
	s.t.Helper()
	r := s.do("POST", "/v1/auth/otp", "", map[string]string{"iin": string(iin)})
	if r.Status != http.StatusAccepted {
		s.t.Fatalf("otp: %d %s", r.Status, r.Body)
	}
	ch := r.JSON(s.t)["challenge_id"].(string)
	code := s.lastCode(s.citizen(iin).Phone)
	r = s.do("POST", "/v1/auth/token", "", map[string]string{"challenge_id": ch, "code": code})
	if r.Status != http.StatusOK {
		s.t.Fatalf("token: %d %s", r.Status, r.Body)
	}
	m := r.JSON(s.t)
	return tokens{m["access_token"].(string), m["refresh_token"].(string)}
}

// adultWithDocuments returns a demo adult with records of every type.
func (s *testServer) adult() wallet.Citizen {
	s.t.Helper()
	best, bestN := wallet.Citizen{}, -1
	for _, c := range s.Demo.Citizens() {
		if wallet.IsMinor(c.BirthDate, s.Clock.Now()) {
			continue
		}
		n := 0
		for _, src := range s.Demo.Sources() {
			rs, _ := src.Records(context.Background(), c.IIN)
			n += len(rs)
		}
		if n > bestN {
			best, bestN = c, n
		}
	}
	return best
}

// testMetricsToken is the bearer secret of /metrics on the test server.
const testMetricsToken = "metrics-token-for-tests"

// testLogger discards the server's log unless QUJAT_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("QUJAT_TEST_LOG") != "" {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}
