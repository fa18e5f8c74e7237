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
	"path/filepath"
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
	"github.com/qujat/qujat/wallet/keyfiles"
	"github.com/qujat/qujat/wallet/sqlite"
)

// BenchmarkTokenParse measures the access-token check every authenticated
// request makes (EdDSA JWT: parse, verify, claims).
func BenchmarkTokenParse(b *testing.B) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	ti := &api.TokenIssuer{Key: key, Issuer: "qujat", Now: time.Now}
	tok, _, err := ti.Issue(api.AudienceCitizen, "880412310009", "", "req-1")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := ti.Parse(tok, api.AudienceCitizen); err != nil {
			b.Fatal(err)
		}
	}
}

// benchServer is the API on the embedded default's stores (SQLite file,
// memory short-lived store, demo registry), served in-process without a
// network, with the real clock.
type benchServer struct {
	h      http.Handler
	tokens *api.TokenIssuer
}

func newBenchServer(b *testing.B) *benchServer {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "qujat.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	short := memstore.New(time.Now)
	demo, err := sources.LoadDemo()
	if err != nil {
		b.Fatal(err)
	}
	keys, err := keyfiles.Open(filepath.Join(dir, "keys"), []string{sources.IssuerMIA, sources.IssuerMOJ, sources.IssuerEDU}, wallet.AlgEdDSA)
	if err != nil {
		b.Fatal(err)
	}
	_, tokenKey, _ := ed25519.GenerateKey(rand.Reader)
	hasher := wallet.NewHasher([]byte("bench pepper, 32 bytes long....."))
	outbox := sms.NewOutbox(1000, time.Now)
	o := otp.NewService(short, hasher, outbox)
	docs := &wallet.DocumentService{Store: st, Sources: demo.Sources(), Keys: keys, Now: time.Now}
	shares := &sharing.Service{
		Store: st, Codes: short, Hasher: hasher, Documents: docs, Now: time.Now,
		PublicURL: "https://qujat.test", SealKey: []byte("0123456789abcdef0123456789abcdef"),
		Authorize: wallet.Guardianship{Directory: demo, Now: time.Now}.AuthorizeShare,
	}
	consents := &consent.Service{
		Store: st, Directory: demo, OTP: o, SMS: outbox, Codes: short, Documents: benchDocs{docs},
		Hasher: hasher, Now: time.Now, Rand: rand.Reader,
	}
	tokens := &api.TokenIssuer{Key: tokenKey, Issuer: "qujat", Now: time.Now}
	srv := api.New(api.Deps{
		Logger:    slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError})),
		Now:       time.Now,
		Tokens:    tokens,
		Directory: demo,
		OTP:       o,
		Sessions:  &wallet.SessionService{Store: st, Hasher: hasher, Now: time.Now, Rand: rand.Reader},
		Documents: docs,
		Verifier:  &wallet.Verifier{Keys: keys, Status: docs.Status, CurrentVersion: docs.CurrentVersion, Now: time.Now},
		Keys:      keys,
		Views:     st,
		Events:    st,
		Sharing:   shares,
		PublicURL: "https://qujat.test",
		Consents:  consents,
	})
	return &benchServer{h: srv.Handler(), tokens: tokens}
}

type benchDocs struct{ d *wallet.DocumentService }

func (a benchDocs) Documents(ctx context.Context, iin wallet.IIN) ([]wallet.Document, error) {
	return a.d.Documents(ctx, iin)
}

func (s *benchServer) token(b *testing.B, iin string) string {
	tok, _, err := s.tokens.Issue(api.AudienceCitizen, iin, "", "bench")
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// call serves one request in-process and returns the status and body.
func (s *benchServer) call(method, path, token string, body []byte) (int, []byte) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = "127.0.0.1:40000"
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

const (
	benchOwner  = "880412310009" // has documents of every type
	benchViewer = "800519347947"
)

// firstDocument returns the id of one of the owner's documents (assembling
// them from the demo registry on the first call).
func (s *benchServer) firstDocument(b *testing.B, owner string) string {
	st, raw := s.call("GET", "/v1/documents", owner, nil)
	if st != 200 {
		b.Fatalf("GET /v1/documents: %d %s", st, raw)
	}
	var out struct {
		Documents []struct {
			ID string `json:"id"`
		} `json:"documents"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Documents) == 0 {
		b.Fatalf("no documents: %v %s", err, raw)
	}
	return out.Documents[0].ID
}

var benchShareBody = []byte(`{"ttl_seconds":600,"max_views":1}`)

// BenchmarkHTTP measures whole requests through the API handler (routing,
// middleware, token check, JSON, stores) without the network, on SQLite and
// the memory store: allocations here are allocations per request of the
// service, less the HTTP server's own.
func BenchmarkHTTP(b *testing.B) {
	b.Run("issue", func(b *testing.B) {
		s := newBenchServer(b)
		owner := s.token(b, benchOwner)
		doc := s.firstDocument(b, owner)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if st, raw := s.call("POST", "/v1/documents/"+doc+"/shares", owner, benchShareBody); st != 201 {
				b.Fatalf("issue: %d %s", st, raw)
			}
		}
	})
	b.Run("redeem-token", func(b *testing.B) {
		s := newBenchServer(b)
		owner, viewer := s.token(b, benchOwner), s.token(b, benchViewer)
		doc := s.firstDocument(b, owner)
		bodies := make([][]byte, b.N)
		for i := range bodies {
			st, raw := s.call("POST", "/v1/documents/"+doc+"/shares", owner, benchShareBody)
			var sh struct {
				Token string `json:"token"`
			}
			if st != 201 || json.Unmarshal(raw, &sh) != nil {
				b.Fatalf("issue: %d %s", st, raw)
			}
			bodies[i], _ = json.Marshal(map[string]string{"token": sh.Token})
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if st, raw := s.call("POST", "/v1/shares/redeem", viewer, bodies[i]); st != 200 {
				b.Fatalf("redeem: %d %s", st, raw)
			}
		}
	})
	b.Run("list", func(b *testing.B) {
		s := newBenchServer(b)
		owner := s.token(b, benchOwner)
		s.firstDocument(b, owner)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if st, raw := s.call("GET", "/v1/documents", owner, nil); st != 200 {
				b.Fatalf("list: %d %s", st, raw)
			}
		}
	})
}
