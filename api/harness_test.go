package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
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
	"github.com/qujat/qujat/integrations/consent"
	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/integrations/sources"
	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/sharing"
	"github.com/qujat/qujat/sharing/memstore"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/historylog"
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
}

// docsAssembled gives the consent service the citizen's documents,
// assembling them if the citizen never signed in.
type docsAssembled struct{ d *wallet.DocumentService }

func (a docsAssembled) Documents(ctx context.Context, iin wallet.IIN) ([]wallet.Document, error) {
	return a.d.Assembled(ctx, iin)
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	clk := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "qujat.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	short := memstore.New(clk.Now)
	demo, err := sources.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyfiles.Open(filepath.Join(dir, "keys"), []string{sources.IssuerMIA, sources.IssuerMOJ, sources.IssuerEDU}, wallet.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	_, tokenKey, _ := ed25519.GenerateKey(rand.Reader)
	hasher := wallet.NewHasher([]byte("test pepper, 32 bytes long......"))
	outbox := sms.NewOutbox(1000, clk.Now)
	o := otp.NewService(short, hasher, outbox)
	o.Now = clk.Now
	docs := &wallet.DocumentService{Store: st, Sources: demo.Sources(), Keys: keys, Now: clk.Now}
	logKeys, err := historylog.NewKeys("qujat.test/history", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hlog, err := historylog.New(historylog.Config{Store: st, Keys: logKeys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hlog.Close() })
	logged := historylog.Recorder{Store: st, Log: hlog}
	shares := &sharing.Service{
		Store: logged, Codes: short, Hasher: hasher, Documents: docs, Now: clk.Now,
		PublicURL: "https://qujat.test", SealKey: []byte("0123456789abcdef0123456789abcdef"),
		Authorize: wallet.Guardianship{Directory: demo, Now: clk.Now}.AuthorizeShare,
	}
	consents := &consent.Service{
		Store: logged, Directory: demo, OTP: o, SMS: outbox, Codes: short, Documents: docsAssembled{docs},
		Hasher: hasher, Now: clk.Now, Rand: rand.Reader,
	}
	srv := api.New(api.Deps{
		Logger:     testLogger(),
		Now:        clk.Now,
		Tokens:     &api.TokenIssuer{Key: tokenKey, Issuer: "qujat", Now: clk.Now},
		Directory:  demo,
		OTP:        o,
		Sessions:   &wallet.SessionService{Store: st, Hasher: hasher, Now: clk.Now, Rand: rand.Reader},
		Documents:  docs,
		Verifier:   &wallet.Verifier{Keys: keys, Status: docs.Status, CurrentVersion: docs.CurrentVersion, Now: clk.Now},
		Keys:       keys,
		Views:      logged,
		Events:     logged,
		HistoryLog: hlog,
		Counters:   short,
		Sharing:    shares,
		PublicURL:  "https://qujat.test",
		Consents:   consents,
		ClientName: func(ctx context.Context, id string) string {
			c, err := consents.Client(ctx, id)
			if err != nil {
				return ""
			}
			return c.Name
		},
		SMSInboundSecret: []byte("gateway secret"),
		DevCitizens:      demo.Citizens,
		DevOutbox:        outbox,
		ReadyChecks:      map[string]func(context.Context) error{"database": st.Ping, "short_lived": short.Ping},
	})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &testServer{t: t, URL: hs.URL, Clock: clk, Outbox: outbox, Demo: demo, Store: st, Short: short, TokenKey: tokenKey, Server: srv, Consents: consents, Log: hlog}
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

// testLogger discards the server's log unless QUJAT_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("QUJAT_TEST_LOG") != "" {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}
